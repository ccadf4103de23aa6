"""The console in a real browser (Debian chromium via Playwright) against a real API server:
each page shows what the API says, state changes need the scope, a reason and a CSRF token."""

from __future__ import annotations

import io
import math
import re
import zipfile

from tests.e2e.console.conftest import login, shot


def test_login_required_and_bad_key_refused(console, page):
    """A console page without a session goes to the login page; a wrong key is refused."""
    page.goto(f"{console.base}/console/decisions")
    assert "/console/login" in page.url
    shot(page, "login")
    page.fill("input[name=api_key]", "ck_nothere_wrong")
    page.click("button[type=submit]")
    assert "not valid" in page.inner_text("[role=alert]")
    cookies = page.context.cookies()
    assert not any(c["name"] == "console_session" for c in cookies)


def test_session_cookie_is_httponly_strict_and_holds_no_key(console, page):
    """The cookie is HttpOnly and SameSite=Strict and does not contain the key's secret."""
    login(page, console.base, console.admin_key)
    cookie = next(c for c in page.context.cookies() if c["name"] == "console_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    secret = console.admin_key.split("_", 2)[2]
    assert secret not in cookie["value"]
    assert "risk-officer" in page.inner_text("[data-testid=who]")
    shot(page, "home")


def test_revoked_key_ends_the_session(console, page):
    """The key is re-checked on every request: once revoked, the next page asks to sign in."""
    from app.api_keys import ApiKeyStore
    from tests.conftest import create_key

    key = create_key(console.data_dir, ["decisions:read"], name="short-lived")
    login(page, console.base, key, "/console/decisions")
    assert "/console/decisions" in page.url
    assert ApiKeyStore(console.data_dir / "keys" / "api_keys.json").revoke(key.split("_")[1])
    page.goto(f"{console.base}/console/decisions")
    assert "/console/login" in page.url


def test_decisions_list_search_and_decision_page(console, page):
    """The list shows every decision; filters narrow it; a decision's page matches the API,
    its waterfall adds up to logit(PD), and "verify this record" checks its chain."""
    login(page, console.base, console.admin_key, "/console/decisions")
    rows = page.locator("[data-testid=decisions] tbody tr[data-decision-id]")
    assert rows.count() == len(console.decisions)
    shot(page, "decisions")

    page.select_option("select[name=arm]", "model")
    page.fill("input[name=country]", "ES")
    page.click("[data-testid=search] button")
    page.wait_for_url(re.compile("arm=model"))
    shown = set(rows.evaluate_all("rs => rs.map(r => r.dataset.decisionId)"))
    expected = {d["decision_id"] for d in console.decisions[:console.spain]
                if d["decided_by"] == "model"}
    assert shown == expected and shown

    decision_id = sorted(expected)[0]
    with console.api() as api:
        truth = api.get(f"/v1/decisions/{decision_id}").json()
    page.click(f"tr[data-decision-id='{decision_id}'] a")
    page.wait_for_url(re.compile(f"/console/decisions/{decision_id}$"))
    pd = truth["response"]["probability_of_default"]
    assert float(page.get_attribute("[data-testid=probability]", "data-value")) == pd
    assert page.inner_text("[data-testid=outcome]") == truth["response"]["outcome"]
    assert page.inner_text("[data-testid=grade]") == truth["response"]["grade"]

    bars = page.locator("svg[data-testid=waterfall] g.bar")
    kinds = bars.evaluate_all("bs => bs.map(b => [b.dataset.kind, Number(b.dataset.value)])")
    total = sum(v for k, v in kinds if k in ("base", "up", "down"))
    assert abs(total - math.log(pd / (1 - pd))) < 1e-6
    assert abs(total - next(v for k, v in kinds if k == "score")) < 1e-9
    assert page.inner_text("[data-testid=chain-seq]") == str(truth["chain"]["seq"])
    assert page.inner_text("[data-testid=chain-hash]") == truth["chain"]["hash"]
    app_text = page.inner_text("[data-testid=application]")
    assert "CONSOLE-" in app_text or truth["application_id"] in page.content()
    shot(page, "decision")

    page.click("text=Verify this record")
    assert "intact" in page.inner_text("[data-testid=verified]")
    shot(page, "decision-verified")
    page.click("[data-testid=model-version] a")
    assert "Model card" in page.title() or "model card" in page.content().lower()


def test_legacy_decision_page_shows_the_scorecard_and_its_reasons(console, page):
    legacy = next(d for d in console.decisions if d["decided_by"] == "legacy" and d["reasons"])
    with console.api() as api:
        truth = api.get(f"/v1/decisions/{legacy['decision_id']}").json()
    login(page, console.base, console.admin_key, f"/console/decisions/{legacy['decision_id']}")
    assert float(page.inner_text("[data-testid=points]")) == truth["legacy"]["points"]
    reasons = page.inner_text("[data-testid=reasons]")
    for r in legacy["reasons"]:
        assert r["code"] in reasons and f"{r['contribution']:g} points lost" in reasons
    assert page.locator("svg[data-testid=waterfall]").count() == 0
    shot(page, "decision-legacy")


def test_rollout_page_and_flag_change(console, page):
    """Flags match GET /v1/flags, the history has the API's change, rates count every
    decision, and a change through the form (with a reason) is applied and recorded."""
    login(page, console.base, console.admin_key, "/console/rollout")
    with console.api() as api:
        es = api.get("/v1/flags/ES").json()
    row = page.locator("[data-testid=flags] tr[data-country=ES]")
    assert row.get_attribute("data-mode") == es["mode"] == "canary"
    history = page.inner_text("[data-testid=flag-history]")
    assert "console e2e ramp-up" in history and "risk-officer" in history
    n = sum(int(x) for x in page.locator("[data-testid=rates] tr[data-arm]").evaluate_all(
        "rs => rs.map(r => r.dataset.n)"))
    assert n == len(console.decisions)
    pairs = int(page.get_attribute("[data-testid=concordance-overall]", "data-n"))
    assert 0 < pairs <= len(console.decisions)
    shot(page, "rollout")

    form = page.locator("[data-testid=flag-form]")
    form.locator("select[name=country]").select_option("PT")
    form.locator("select[name=mode]").select_option("shadow")
    form.locator("input[name=reason]").fill("observe PT before the ramp")
    form.locator("button").click()
    assert "PT" in page.inner_text("[data-testid=done]")
    with console.api() as api:
        assert api.get("/v1/flags/PT").json()["mode"] == "shadow"
    assert "observe PT before the ramp" in page.inner_text("[data-testid=flag-history]")
    shot(page, "rollout-changed")


def test_models_page_card_promote_and_rollback(console, page):
    """Aliases match the registry; gates and fairness are shown; the card renders; promoting
    a version whose gates failed is refused unless forced (then recorded with the reason); a
    rollback with no previous champion is refused with the registry's reason."""
    from app.settings import Settings
    from models.registry import ModelRegistry

    settings = Settings(data_dir=console.data_dir)
    reg = ModelRegistry(settings.mlflow_uri, settings.model_name, settings.mlflow_artifacts_dir)
    champion = reg.version_for("champion")
    login(page, console.base, console.admin_key, "/console/models")
    assert page.inner_text("[data-testid=aliases] dd[data-alias=champion]") == f"v{champion}"
    version = page.locator(f"[data-testid=version][data-version='{champion}']")
    assert version.locator("[data-testid=gates]").inner_text() in ("passed", "failed")
    assert version.locator("[data-testid=gate-results] tbody tr").count() >= 4
    assert version.locator("[data-testid=fairness] tbody tr").count() >= 2
    shot(page, "models")

    gates_failed = version.locator("[data-testid=gates]").inner_text() == "failed"
    form = page.locator("[data-testid=promote-form]")
    form.locator("select[name=version]").select_option(champion)
    form.locator("input[name=reason]").fill("console e2e promotion")
    form.locator("button").click()
    if gates_failed:
        assert "release gates failed" in page.inner_text("[data-testid=message]")
        page.go_back()
        form.locator("input[name=reason]").fill("console e2e forced promotion")
        form.locator("input[name=force]").check()
        form.locator("button").click()
    assert "promoted" in page.inner_text("[data-testid=done]")
    last = reg.history("champion")[-1]
    assert last.action == "promote" and last.why.startswith("console e2e")
    assert last.forced == gates_failed and "risk-officer" in last.who
    assert "console e2e" in page.inner_text("[data-testid=alias-history]")

    page.locator("[data-testid=rollback-form] input[name=reason]").fill("console e2e rollback")
    page.locator("[data-testid=rollback-form] button").click()
    assert "no previous champion" in page.inner_text("[data-testid=message]")
    assert reg.version_for("champion") == champion

    page.goto(f"{console.base}/console/models/{champion}/card")
    assert "Model card" in page.title()
    shot(page, "model-card")


def test_audit_page_and_export_download(console, page):
    """Verification matches GET /v1/audit/verify; the digest is shown; the export downloads
    as a zip holding the manifest and the records."""
    with console.api() as api:
        truth = api.get("/v1/audit/verify").json()
    assert truth["ok"]
    login(page, console.base, console.admin_key, "/console/audit")
    status = page.locator("[data-testid=verify-status]")
    assert status.get_attribute("data-ok") == "true"
    assert int(status.get_attribute("data-checked")) >= truth["checked"]
    assert page.inner_text("[data-testid=digest-issued]")
    shot(page, "audit")

    form = page.locator("[data-testid=export-form]")
    form.locator("select[name=country]").select_option("ES")
    with page.expect_download() as info:
        form.locator("button").click()
    download = info.value
    assert download.suggested_filename.endswith(".zip")
    with zipfile.ZipFile(io.BytesIO(open(download.path(), "rb").read())) as z:
        names = {n.split("/", 1)[1] for n in z.namelist()}
    assert {"manifest.json", "records.jsonl", "chains.jsonl", "public-key.pem"} <= names


def test_key_without_scope_is_refused(console, page):
    """A decisions:read key sees decisions but not the audit page, no admin forms, and its
    POSTs to admin actions are refused (403) without changing anything."""
    login(page, console.base, console.reader_key, "/console/decisions")
    assert page.locator("tr[data-decision-id]").count() == len(console.decisions)
    page.goto(f"{console.base}/console/audit")
    assert "audit:export" in page.inner_text("[data-testid=message]")
    shot(page, "audit-refused")
    page.goto(f"{console.base}/console/rollout")
    assert page.locator("[data-testid=flag-form]").count() == 0
    page.goto(f"{console.base}/console/models")
    assert page.locator("[data-testid=promote-form]").count() == 0
    r = page.request.post(f"{console.base}/console/rollout/flags",
                          form={"country": "ES", "mode": "legacy", "reason": "not allowed"})
    assert r.status == 403
    with console.api() as api:
        assert api.get("/v1/flags/ES").json()["mode"] == "canary"


def test_state_change_without_csrf_token_is_refused(console, page):
    """An admin's POST without the page's CSRF token changes nothing (403)."""
    login(page, console.base, console.admin_key, "/console/rollout")
    r = page.request.post(f"{console.base}/console/rollout/flags",
                          form={"country": "ES", "mode": "legacy", "reason": "forged",
                                "csrf": "wrong"})
    assert r.status == 403
    with console.api() as api:
        assert api.get("/v1/flags/ES").json()["mode"] == "canary"


def test_monitoring_page_shows_what_the_api_says(console, page):
    """Outcomes reported through the API show on the Monitoring page: each group's bad rate
    and loans as GET /v1/monitoring/performance has them, a point per arm and cohort on the
    bad-rate chart, a calibration chart per group, the drift chart and table as GET
    /v1/monitoring/drift; a key without monitoring:read gets the refusal page."""
    from datetime import UTC, datetime

    from training.data import load_credit_data

    df = load_credit_data()
    day = datetime.now(UTC).date().isoformat()
    outcomes = [{"decision_id": d["decision_id"], "defaulted": bool(df.loc[20 + i, "bad"]),
                 "observed_at": day} for i, d in enumerate(console.decisions)]
    with console.api() as api:
        r = api.post("/v1/outcomes", json={"outcomes": outcomes})
        assert r.status_code == 200 and r.json()["accepted"] == len(outcomes), r.text
        perf = api.get("/v1/monitoring/performance").json()["groups"]
        drift = api.get("/v1/monitoring/drift").json()
    login(page, console.base, console.admin_key, "/console/monitoring")
    shown = page.locator("[data-testid=performance] tr[data-arm]").evaluate_all(
        "rs => rs.map(r => [r.dataset.country, r.dataset.arm, r.dataset.version, "
        "r.dataset.badRate, Number(r.dataset.loans)])")
    assert shown == [[g["country"], g["decided_by"], g["model_version"] or "",
                      "" if g["bad_rate_approved"] is None else str(g["bad_rate_approved"]),
                      g["approved_with_outcome"]] for g in perf]
    points = page.locator("svg[data-testid=bad-rate-chart] g.realized")
    assert points.count() == sum(1 for g in perf for c in g["cohorts"]
                                 if c["realized_bad_rate"] is not None)
    assert page.locator("svg[data-testid=calibration-chart]").count() == sum(
        1 for g in perf if g["calibration"])
    bars = page.locator("svg[data-testid=drift-chart] g.feature").evaluate_all(
        "gs => gs.map(g => [g.dataset.name, Number(g.dataset.psi)])")
    assert bars == [[f["name"], f["psi"]] for f in drift["features"] + [drift["score"]]]
    assert page.get_attribute("[data-testid=freshness]", "data-caught-up") == "true"
    shot(page, "monitoring")
    page.context.clear_cookies()
    login(page, console.base, console.reader_key, "/console/monitoring")
    assert "monitoring:read" in page.inner_text("[data-testid=message]")

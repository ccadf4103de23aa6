"""Humans in the loop, from outside: a real API process, real simulators, real model. Every
referral opens one case and resolves through the API; four eyes; one winner among concurrent
reviewers; overrides and contests; the applicant's explanation and notice; kill -9 during a
burst of referrals loses no case."""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from datetime import datetime, timedelta

import httpx
import orjson
import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.simulators.server import application_for_row
from audit.records import DecisionRecord, parse_record
from audit.sqlite import SQLiteAuditStore
from tests import servers
from tests.conftest import api_env, create_key, fresh_data_dir
from training.data import load_credit_data

FOUR_EYES_ABOVE = "1000"  # credit_data amounts: some cases need two reviewers, some one


@pytest.fixture(scope="module")
def df():
    return load_credit_data()


@pytest.fixture(scope="module")
def desk(trained, simulators_url, tmp_path_factory):
    """An API with a lending-app key and two reviewer keys."""
    data_dir = fresh_data_dir(trained, tmp_path_factory.mktemp("reviews"))
    env = api_env(data_dir, simulators_url, CREDIT_REVIEW_SECOND_APPROVER_ABOVE=FOUR_EYES_ABOVE,
                  CREDIT_AUDIT_DIGEST_INTERVAL_S="0.3", CREDIT_ENRICHMENT_TIMEOUT_S="2",
                  CREDIT_ENRICHMENT_DEADLINE_S="3")
    keys = {"app": create_key(data_dir, ["decisions:write", "decisions:read"], name="lender"),
            "r1": create_key(data_dir, ["reviews:read", "reviews:write"], name="ana"),
            "r2": create_key(data_dir, ["reviews:read", "reviews:write"], name="bo"),
            "ops": create_key(data_dir, ["metrics:read"], name="ops")}
    with servers.api(env, log=data_dir / "api.log") as base:
        clients = {k: httpx.Client(base_url=base, timeout=30,
                                   headers={"Authorization": f"Bearer {v}"})
                   for k, v in keys.items()}
        yield base, data_dir, env, clients, keys
        for c in clients.values():
            c.close()


def credit(env, *args):
    """The `credit` command line, in this process, configured like the server."""
    return CliRunner().invoke(cli, list(args), env={**env, "COLUMNS": "200"})


def decide_rows(client, df, rows, prefix):
    out = []
    for row in rows:
        r = client.post("/v1/decisions", json=application_for_row(
            row, df, application_id=f"{prefix}-{row}"))
        assert r.status_code == 200, r.text
        out.append(r.json())
    return out


def open_cases(client, **params):
    """Every open case, page by page (3 a page: paging is exercised)."""
    items, cursor = [], None
    while True:
        r = client.get("/v1/reviews", params={**params, "limit": 3,
                                              **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return items


def wait_for_cases(client, decision_ids, timeout_s=20.0):
    deadline = time.monotonic() + timeout_s
    while True:
        cases = open_cases(client)
        if {c["decision_id"] for c in cases} >= set(decision_ids) or time.monotonic() > deadline:
            return cases
        time.sleep(0.2)


def referral_of(client, reviewer, df, rows, prefix):
    """The first of `rows` that refers, and its case."""
    for r in rows:
        d = decide_rows(client, df, [r], prefix)[0]
        if d["outcome"] == "refer":
            [case] = [c for c in wait_for_cases(reviewer, [d["decision_id"]])
                      if c["decision_id"] == d["decision_id"]]
            return d, case
    raise AssertionError("none of the rows referred")


def test_every_referral_opens_one_case_and_resolves_through_the_api(desk, df):
    """Decide credit_data rows until some refer: the open cases equal the refer responses one
    for one (oldest first, with due time and why); each resolves to a final outcome through
    the API (two reviewers above the four-eyes amount); verify passes with the human records
    in the chain; the metrics show the desk."""
    _, data_dir, env, c, _ = desk
    decisions = []
    row = 1
    while sum(d["outcome"] == "refer" for d in decisions) < 8:
        decisions += decide_rows(c["app"], df, range(row, row + 20), "RQ")
        row += 20
        assert row < 800, "credit_data should refer about one application in five"
    refers = {d["decision_id"] for d in decisions if d["outcome"] == "refer"}
    cases = wait_for_cases(c["r1"], refers)
    assert sorted(x["decision_id"] for x in cases) == sorted(refers)  # one for one
    assert [x["opened_at"] for x in cases] == sorted(x["opened_at"] for x in cases)
    assert all(x["reasons"] and x["due_at"] > x["opened_at"] for x in cases)
    assert {x["four_eyes"] for x in cases} == {True, False}
    human_records = 0
    for i, case in enumerate(cases):
        outcome, code = (("approve", "VERIFIED_INCOME") if i % 2
                         else ("decline", "INSUFFICIENT_INCOME"))
        r = c["r1"].post(f"/v1/reviews/{case['review_id']}/decision",
                         json={"outcome": outcome, "reason_code": code, "note": "checked"})
        assert r.status_code == 200, r.text
        human_records += 1
        if case["four_eyes"]:
            assert r.json()["awaiting_second"] and r.json()["status"] == "open"
            r = c["r2"].post(f"/v1/reviews/{case['review_id']}/decision",
                             json={"outcome": outcome, "reason_code": code})
            assert r.status_code == 200, r.text
            human_records += 1
        assert r.json()["status"] == "decided" and r.json()["outcome"] == outcome
        story = c["app"].get(f"/v1/decisions/{case['decision_id']}").json()
        assert story["final_outcome"] == outcome
        assert [a["type"] for a in story["human_actions"]] == \
            ["review_decision"] * (2 if case["four_eyes"] else 1)
        assert all(a["audit"]["decision_hash"] == story["chain"]["hash"]
                   for a in story["human_actions"])
    assert open_cases(c["r1"]) == []
    v = credit(env, "audit", "verify", "--jobs", "1")
    assert v.exit_code == 0 and "OK:" in v.output, v.output
    audit = SQLiteAuditStore(data_dir / "audit.db")
    types = [parse_record(e.body).type for e in audit.entries()]
    audit.close()
    assert types.count("review_decision") == human_records
    assert c["app"].get("/metrics").status_code == 403  # the lending app's key: no metrics:read
    metrics = c["ops"].get("/metrics").text
    for name in ("credit_review_queue_depth", "credit_review_oldest_case_age_seconds",
                 "credit_review_sla_breaches", "credit_review_override_rate_by_reviewer"):
        assert name in metrics
    reviewer = desk[4]["r1"].split("_")[1]
    line = (f'credit_review_actions_total{{action="review_decision",country="ES",'
            f'reviewer="{reviewer}"}} {len(cases)}.0')
    assert line in metrics, [x for x in metrics.splitlines() if "review_actions" in x]


def test_four_eyes_and_twenty_concurrent_reviewers(desk, df):
    """The same key twice is refused (409 same_reviewer), a second key completes the case;
    20 reviewers deciding one case at once give exactly one result, the rest 409."""
    base, data_dir, _, c, _ = desk
    big = [r for r in range(900, 1900) if df.loc[r, "amount"] > float(FOUR_EYES_ABOVE)]
    _, case = referral_of(c["app"], c["r1"], df, big, "FE")
    assert case["four_eyes"]
    url = f"/v1/reviews/{case['review_id']}/decision"
    body = {"outcome": "approve", "reason_code": "COMPENSATING_FACTORS"}
    assert c["r1"].post(url, json=body).status_code == 200
    again = c["r1"].post(url, json=body)
    assert again.status_code == 409 and again.json()["error"] == "same_reviewer"
    done = c["r2"].post(url, json=body)
    assert done.status_code == 200 and done.json()["outcome"] == "approve"

    small = [r for r in range(1900, 2400) if df.loc[r, "amount"] <= float(FOUR_EYES_ABOVE)]
    _, case = referral_of(c["app"], c["r1"], df, small, "RACE")
    assert not case["four_eyes"]
    keys = [create_key(data_dir, ["reviews:write"], name=f"racer-{i}") for i in range(20)]
    barrier = threading.Barrier(20)

    def decide(key):
        with httpx.Client(base_url=base, timeout=30,
                          headers={"Authorization": f"Bearer {key}"}) as client:
            barrier.wait()
            return client.post(f"/v1/reviews/{case['review_id']}/decision",
                               json={"outcome": "decline", "reason_code": "HIGH_DEBT_BURDEN"})

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(decide, keys))
    codes = sorted(r.status_code for r in results)
    assert codes == [200] + [409] * 19, [r.text for r in results if r.status_code != 409]
    assert {r.json()["error"] for r in results if r.status_code == 409} == {"case_conflict"}
    final = c["r1"].get(f"/v1/reviews/{case['review_id']}").json()
    assert len(final["votes"]) == 1 and final["outcome"] == "decline"


def test_override_contest_and_scopes(desk, df):
    """An automated approval is overridden (reason required); the applicant contests the
    decline: a priority case the overriding reviewer may not decide; another reviewer
    approves; the decision's story (API and `credit audit replay`) shows every action.
    Scopes are enforced."""
    _, _, env, c, keys = desk
    small = [r for r in range(2400, 2600) if df.loc[r, "amount"] <= float(FOUR_EYES_ABOVE)]
    d = next(x for x in decide_rows(c["app"], df, small[:40], "OV") if x["outcome"] == "approve")
    url = f"/v1/decisions/{d['decision_id']}"
    assert c["app"].post(f"{url}/override", json={
        "outcome": "decline", "reason_code": "HIGH_DEBT_BURDEN", "note": "x"}).status_code == 403
    assert c["r1"].post(f"{url}/override", json={
        "outcome": "decline", "reason_code": "HIGH_DEBT_BURDEN"}).status_code == 422
    same = c["r1"].post(f"{url}/override", json={
        "outcome": "approve", "reason_code": "VERIFIED_INCOME", "note": "nothing to reverse"})
    assert same.status_code == 409 and same.json()["error"] == "review_refused"
    ov = c["r1"].post(f"{url}/override", json={
        "outcome": "decline", "reason_code": "HIGH_DEBT_BURDEN", "note": "undeclared loans"})
    assert ov.status_code == 201, ov.text
    assert ov.json()["kind"] == "override" and ov.json()["outcome"] == "decline"
    assert c["app"].get(url).json()["final_outcome"] == "decline"

    assert c["r1"].post(f"{url}/contest", json={"statement": "x"}).status_code == 403
    con = c["app"].post(f"{url}/contest", json={"statement": "The loans are my sister's."})
    assert con.status_code == 201, con.text
    case = con.json()
    assert case["priority"] == 1 and case["excluded_reviewers"] == [keys["r1"].split("_")[1]]
    assert open_cases(c["r1"])[0]["review_id"] == case["review_id"]  # contests first
    detail = c["r2"].get(f"/v1/reviews/{case['review_id']}").json()
    assert detail["statement"] == "The loans are my sister's."
    body = {"outcome": "approve", "reason_code": "DATA_CORRECTED"}
    excluded = c["r1"].post(f"/v1/reviews/{case['review_id']}/decision", json=body)
    assert excluded.status_code == 403 and excluded.json()["error"] == "reviewer_excluded"
    assert c["r2"].post(f"/v1/reviews/{case['review_id']}/decision", json=body).status_code == 200
    story = c["app"].get(url).json()
    assert story["final_outcome"] == "approve"
    assert [a["type"] for a in story["human_actions"]] == [
        "decision_override", "decision_contest", "review_decision"]
    assert "sister" not in orjson.dumps(story).decode()  # sealed outside the review desk
    assert c["app"].get("/v1/reviews").status_code == 403
    replay = credit(env, "audit", "replay", d["decision_id"], "--json")
    assert replay.exit_code == 0, replay.output
    replayed = orjson.loads(replay.stdout[:replay.stdout.rindex("}") + 1])
    assert replayed["identical"] and replayed["final_outcome"] == "approve"
    assert [a["hash"] for a in replayed["human_actions"]] == \
        [a["audit"]["hash"] for a in story["human_actions"]]


def test_explanation_of_a_declined_applicant_in_spanish(desk, df):
    """At most four reasons, each among the decision's recorded top positive contributions;
    the adverse-action notice is due 30 days after the decline, listed by `credit notices
    pending` until marked sent; HTML in Spanish too."""
    _, _, env, c, _ = desk
    d = next(x for x in decide_rows(c["app"], df, range(3000, 3200), "EX")
             if x["outcome"] == "decline")
    url = f"/v1/decisions/{d['decision_id']}"
    record = c["app"].get(url).json()
    contributions = record["explanation"]["contributions"]
    top = sorted((v, f) for f, v in contributions.items() if v > 0)[::-1][:4]
    r = c["app"].get(f"{url}/explanation", headers={"Accept-Language": "es-ES,es;q=0.9"})
    assert r.status_code == 200 and r.headers["content-language"] == "es"
    doc = r.json()
    assert doc["final_outcome"] == "decline" and doc["summary"] == "Su solicitud ha sido denegada."
    reasons = doc["principal_reasons"]
    assert 1 <= len(reasons) <= 4
    assert [(x["contribution"], x["feature"]) for x in reasons] == top[:len(reasons)]
    assert all(x["text"] and x["contribution"] > 0 for x in reasons)
    due = datetime.fromisoformat(doc["adverse_action_notice"]["due_by"])
    assert due - datetime.fromisoformat(record["decided_at"]) == timedelta(days=30)
    html = c["app"].get(f"{url}/explanation", headers={"Accept-Language": "es",
                                                        "Accept": "text/html"})
    assert html.headers["content-type"].startswith("text/html")
    assert '<html lang="es">' in html.text and "Notificación de denegación" in html.text

    pending = credit(env, "notices", "pending", "--json")
    assert d["decision_id"] in pending.output, pending.output
    sent = credit(env, "notices", "mark-sent", d["decision_id"], "--channel", "letter")
    assert sent.exit_code == 0, sent.output
    assert d["decision_id"] not in credit(env, "notices", "pending", "--json").output
    doc = c["app"].get(f"{url}/explanation").json()
    assert doc["language"] == "en" and doc["adverse_action_notice"]["sent_at"]
    assert c["app"].get(url).json()["human_actions"][-1]["type"] == "adverse_action_notice_sent"


@pytest.mark.parametrize("passes", ["workers", "process"])
def test_kill_9_during_a_burst_of_referrals_loses_no_case(trained, simulators_url, df, tmp_path,
                                                          passes):
    """SIGKILL while decisions stream in: after a restart every refer record in the audit
    log has exactly one case, the answered referrals among them. The catch-up that finds
    the cases the kill cut off runs in the restarted worker, or in `credit background`."""
    data_dir = fresh_data_dir(trained, tmp_path)
    env = api_env(data_dir, simulators_url, CREDIT_BACKGROUND_PASSES=passes)
    headers = {"Authorization": f"Bearer {create_key(data_dir)}"}
    proc, base = servers.start_api(env)
    answered: list[dict] = []
    stop = threading.Event()
    try:

        def load(worker):
            with httpx.Client(base_url=base, timeout=10, headers=headers) as client:
                i = 0
                while not stop.is_set():
                    i += 1
                    body = application_for_row(1 + (worker * 131 + i) % 4000, df,
                                               application_id=f"K9-{worker}-{i}")
                    try:
                        r = client.post("/v1/decisions", json=body)
                    except httpx.TransportError:
                        return
                    if r.status_code == 200:
                        answered.append(r.json())

        threads = [threading.Thread(target=load, args=(w,)) for w in range(12)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while sum(a["outcome"] == "refer" for a in answered) < 15 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        stop.set()
        for t in threads:
            t.join(timeout=15)
    finally:
        stop.set()
        if proc.poll() is None:
            proc.kill()
    audit = SQLiteAuditStore(data_dir / "audit.db")
    logged = [parse_record(e.body) for e in audit.entries()]
    audit.close()
    refers = {r.decision_id for r in logged
              if isinstance(r, DecisionRecord) and r.response.outcome == "refer"}
    answered_refers = {a["decision_id"] for a in answered if a["outcome"] == "refer"}
    assert len(answered_refers) >= 10 and answered_refers <= refers
    with servers.api(env) as again, httpx.Client(base_url=again, timeout=30,
                                                 headers=headers) as client, \
            servers.background(env) if passes == "process" else nullcontext():
        cases = wait_for_cases(client, refers)
    ids = [c["decision_id"] for c in cases]
    assert sorted(ids) == sorted(refers)  # every one, once

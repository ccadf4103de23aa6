"""Authentication, scopes, abuse limits, headers and PII in logs, against a real server."""

import httpx
import orjson
import pytest

from app.api_keys import SCOPES
from app.simulators.server import application_for_row
from tests import servers
from tests.conftest import api_env, create_key, fresh_data_dir

# Every route and the scope it needs. A route missing here fails test_every_route_is_covered.
PROTECTED = {
    ("POST", "/v1/decisions"): "decisions:write",
    ("GET", "/v1/decisions/{decision_id}"): "decisions:read",
    ("GET", "/metrics"): "metrics:read",
    ("GET", "/v1/flags/{country}"): "decisions:read",
    ("PUT", "/v1/flags/{country}"): "flags:admin",
    ("GET", "/v1/audit/verify"): "audit:export",
    ("GET", "/v1/audit/digests/latest"): "audit:export",
    ("GET", "/v1/reviews"): "reviews:read",
    ("GET", "/v1/reviews/{review_id}"): "reviews:read",
    ("POST", "/v1/reviews/{review_id}/decision"): "reviews:write",
    ("POST", "/v1/decisions/{decision_id}/override"): "reviews:write",
    ("POST", "/v1/decisions/{decision_id}/contest"): "decisions:write",
    ("GET", "/v1/decisions/{decision_id}/explanation"): "decisions:read",
    ("POST", "/v1/outcomes"): "outcomes:write",
    ("GET", "/v1/monitoring/performance"): "monitoring:read",
    ("GET", "/v1/monitoring/drift"): "monitoring:read",
    ("GET", "/v1/policies"): "policy:admin",
    ("POST", "/v1/policies"): "policy:admin",
    ("GET", "/v1/policies/served"): "policy:admin",
    ("GET", "/v1/policies/{version}"): "policy:admin",
    ("GET", "/v1/policies/{a}/diff/{b}"): "policy:admin",
    ("POST", "/v1/policies/{version}/approve"): "policy:admin",
    ("GET", "/v1/policies/{version}/backtest"): "policy:admin",
}
PUBLIC = {("GET", "/healthz"), ("HEAD", "/healthz"), ("GET", "/readyz"), ("GET", "/docs"),
          ("GET", "/openapi.json"), ("GET", "/docs/oauth2-redirect")}
CANARY_ID = "QQCANARY77ID"  # matches no national-id pattern: must never be logged at all
CANARY_NAME = "Canaria Zzyzx"


@pytest.fixture(scope="module")
def server(trained, simulators_url, tmp_path_factory):
    data = fresh_data_dir(trained, tmp_path_factory.mktemp("security"))
    keys = {scope: create_key(data, [scope], name=scope) for scope in SCOPES}
    env = api_env(data, simulators_url, CREDIT_RATE_LIMIT_PER_CUSTOMER="3/minute",
                  CREDIT_MAX_BODY_BYTES="4096")
    log = data / "api.log"
    with servers.api(env, log=log) as url:
        yield url, keys, log


def call(url, method, path, key=None, headers=None, **kw):
    headers = {**(headers or {}), **({"Authorization": f"Bearer {key}"} if key else {})}
    path = (path.replace("{decision_id}", "0" * 32).replace("{country}", "ES")
            .replace("{review_id}", "ref-" + "0" * 32))
    return httpx.request(method, url + path, headers=headers, timeout=10, **kw)


HIDDEN = {("GET", "/metrics")}  # not in the OpenAPI document


def test_every_route_is_covered(server):
    """Each documented operation is in PROTECTED or PUBLIC, so the matrix below covers it."""
    url, _, _ = server
    spec = httpx.get(url + "/openapi.json").json()
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    assert documented | HIDDEN == (set(PROTECTED) | PUBLIC) - {
        ("GET", "/docs"), ("GET", "/openapi.json"), ("GET", "/docs/oauth2-redirect")}


@pytest.mark.parametrize(("method", "path"), sorted(PROTECTED))
def test_unauthenticated_is_401(server, method, path):
    url, _, _ = server
    for key in (None, "ck_000000000000_forged", "not-a-key"):
        r = call(url, method, path, key, json={})
        assert r.status_code == 401, (key, r.text)
        assert r.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "path"), sorted(PROTECTED))
def test_wrong_scope_is_403_right_scope_passes(server, method, path):
    url, keys, _ = server
    needed = PROTECTED[(method, path)]
    for scope, key in keys.items():
        r = call(url, method, path, key, json={})
        if scope == needed:
            assert r.status_code not in (401, 403), r.text
        else:
            assert r.status_code == 403 and needed in r.json()["message"]


def test_public_probes_need_no_key(server):
    url, _, _ = server
    assert httpx.get(url + "/healthz").status_code == 200
    assert httpx.head(url + "/healthz").status_code == 200
    assert httpx.get(url + "/readyz").status_code == 200


def test_secure_headers_and_request_id(server):
    url, keys, _ = server
    r = httpx.get(url + "/v1/decisions/x", headers={
        "Authorization": f"Bearer {keys['decisions:read']}", "X-Request-ID": "trace-123"})
    assert r.headers["x-request-id"] == "trace-123"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in r.headers["content-security-policy"]


def test_oversized_body_is_413(server):
    url, keys, _ = server
    big = b'{"application_id": "' + b"A" * 8000 + b'"}'
    for extra in ({}, {"Transfer-Encoding": "chunked"}):
        r = httpx.post(url + "/v1/decisions", content=iter([big]) if extra else big,
                       headers={"Authorization": f"Bearer {keys['decisions:write']}",
                                "Content-Type": "application/json", **extra})
        assert r.status_code == 413 and r.json()["error"] == "payload_too_large"


def test_per_customer_limit_stops_score_probing(server):
    """The 4th new application of one customer within a minute is refused; replays are free."""
    url, keys, _ = server
    write = keys["decisions:write"]
    codes = []
    for i in range(4):
        body = application_for_row(20, application_id=f"PROBE-{i}")
        body["loan"]["amount"] = 500.0 + 10 * i
        codes.append(call(url, "POST", "/v1/decisions", write, json=body).status_code)
    assert codes == [200, 200, 200, 429]
    replay = application_for_row(20, application_id="PROBE-0")
    replay["loan"]["amount"] = 500.0
    assert call(url, "POST", "/v1/decisions", write, json=replay).status_code == 200


def test_pii_canaries_never_logged(server):
    """National id and name canaries stay out of logs and metrics on normal and error paths."""
    url, keys, log = server
    write = keys["decisions:write"]
    ok = application_for_row(30, application_id="CANARY-1")
    ok["applicant"]["national_id"] = CANARY_ID
    assert call(url, "POST", "/v1/decisions", write, json=ok).status_code == 200
    conflict = {**ok, "loan": {**ok["loan"], "amount": 1.0}}
    assert call(url, "POST", "/v1/decisions", write, json=conflict).status_code == 409
    bad = application_for_row(31, application_id="CANARY-2")
    bad["applicant"]["national_id"] = CANARY_ID
    bad["applicant"]["age"] = "old"
    bad["applicant"]["name"] = CANARY_NAME
    r = call(url, "POST", "/v1/decisions", write, json=bad)
    assert r.status_code == 422 and CANARY_ID not in r.text and CANARY_NAME not in r.text
    broken = b'{"applicant": {"national_id": "' + CANARY_ID.encode() + b'", '
    call(url, "POST", "/v1/decisions", write, content=broken,
         headers={"Content-Type": "application/json"})
    metrics = call(url, "GET", "/metrics", keys["metrics:read"]).text
    text = log.read_text()
    lines = [orjson.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert any(line.get("decision_id") and line.get("outcome") for line in lines)  # logged
    for canary in (CANARY_ID, CANARY_NAME, "Canaria"):
        assert canary not in text and canary not in metrics
    for key in keys.values():
        assert key not in text


def test_wrong_method_lists_every_allowed_method(server):
    url, keys, _ = server
    r = httpx.request("OPTIONS", url + "/v1/flags/ES",
                      headers={"Authorization": f"Bearer {keys['flags:admin']}"})
    assert r.status_code == 405
    assert {m.strip() for m in r.headers["allow"].split(",")} >= {"GET", "PUT"}


def test_a_body_is_not_read_before_the_key_is_checked(server):
    """Malformed or schema-breaking bodies from a caller without a valid key get 401, so
    they learn nothing of the schema; with a key, the same bodies get 422."""
    url, keys, _ = server
    for body in (b"{not json", b'{"application_id": 5}'):
        for key in (None, "ck_000000000000_forged"):
            r = call(url, "POST", "/v1/decisions", key, content=body,
                     headers={"Content-Type": "application/json"})
            assert r.status_code == 401 and "application_id" not in r.text, r.text
        r = call(url, "POST", "/v1/decisions", keys["decisions:write"], content=body,
                 headers={"Content-Type": "application/json"})
        assert r.status_code == 422


def test_duplicate_json_keys_are_refused(server):
    """`"bureau": false, "bureau": true` is ambiguous: 400 naming the key, no decision."""
    url, keys, _ = server
    body = application_for_row(7, application_id="DUP-7")
    text = orjson.dumps(body).decode().replace('"bureau":true', '"bureau":false,"bureau":true')
    r = call(url, "POST", "/v1/decisions", keys["decisions:write"], content=text,
             headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "duplicate key 'bureau'" in r.json()["message"]
    ok = call(url, "POST", "/v1/decisions", keys["decisions:write"], json=body)
    assert ok.status_code == 200  # the application id was not taken by the refused request

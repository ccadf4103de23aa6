"""The decision API as a client sees it: a real uvicorn process, real simulators, real model."""

import copy
import math
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.schemas import DecisionOut
from app.simulators.server import application_for_row, dni_for_row
from training.data import load_credit_data

FIELDS = set(DecisionOut.model_fields)


@pytest.fixture(scope="module")
def client(api):
    return api


@pytest.fixture(scope="module")
def df():
    return load_credit_data()


def logit(p):
    return math.log(p / (1 - p))


def test_200_applications_from_credit_data(client, df):
    """Every credit_data applicant gets a well-formed decision with every public field."""
    rows = list(range(1, len(df) + 1, len(df) // 200))[:200]
    bodies = [application_for_row(r, df, application_id=f"BULK-{r}") for r in rows]
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda b: client.post("/v1/decisions", json=b), bodies))
    assert [r.status_code for r in responses] == [200] * 200
    outcomes = set()
    for body, resp in zip(bodies, responses):
        d = resp.json()
        assert set(d) == FIELDS
        DecisionOut.model_validate(d)
        assert d["application_id"] == body["application_id"]
        assert 0 < d["probability_of_default"] < 1 and d["grade"] in "ABCDEF"
        assert d["decided_by"] == "model" and d["model_version"]
        assert all(r["contribution"] > 0 and r["text"] and r["code"] for r in d["reasons"])
        outcomes.add(d["outcome"])
    assert outcomes == {"approve", "decline", "refer"}


def test_decision_record_explains_the_probability(client, df, trained):
    """The probability is the registered booster's raw score on the recorded features, put
    through the version's recorded calibration (computed here independently, so a scoring or
    calibration bug shows), and base_value + sum(contributions) = its logit."""
    import numpy as np

    from models.features import FEATURE_NAMES
    from models.registry import ModelRegistry

    settings, _ = trained
    registry = ModelRegistry(settings.mlflow_uri, settings.model_name,
                             settings.mlflow_artifacts_dir)
    for row in (2, 41, 977):
        d = client.post("/v1/decisions", json=application_for_row(row, df,
                        application_id=f"EXPLAIN-{row}")).json()
        rec = client.get(f"/v1/decisions/{d['decision_id']}").json()
        model = registry.load(rec["model"]["version"])
        features = rec["personal_data"]["inputs"]["features"]
        x = np.array([[np.nan if features[n] is None else features[n] for n in FEATURE_NAMES]])
        cal = model.meta["calibration"]
        raw = float(model.booster.predict(x, raw_score=True)[0])
        expected = 1 / (1 + np.exp(-(cal["a"] * raw + cal["b"])))
        assert abs(d["probability_of_default"] - expected) < 1e-12
        exp = rec["explanation"]
        total = exp["base_value"] + sum(exp["contributions"].values())
        assert abs(total - logit(d["probability_of_default"])) < 1e-9
        assert rec["response"] == d
        assert rec["model"]["version"] == d["model_version"]
        assert rec["chain"]["seq"] >= 1 and len(rec["chain"]["hash"]) == 64
        assert rec["policy"]["version"] and rec["enrichment"]["bureau"]["status"] == "ok"
        assert len(rec["enrichment"]["bureau"]["raw_sha256"]) == 64


def test_record_holds_no_national_id(client, df):
    body = application_for_row(5, df, application_id="PII-5")
    d = client.post("/v1/decisions", json=body).json()
    text = client.get(f"/v1/decisions/{d['decision_id']}").text
    assert body["applicant"]["national_id"] not in text
    assert "hmac-sha256:" in text


def test_same_application_same_decision(client, df):
    """Repeating an application returns the stored decision, byte for byte."""
    body = application_for_row(7, df, application_id="IDEM-7")
    first = client.post("/v1/decisions", json=body)
    again = client.post("/v1/decisions", json=body)
    assert first.status_code == again.status_code == 200
    assert first.content == again.content
    assert again.headers["idempotent-replayed"] == "true"


def test_concurrent_duplicates_create_one_decision(client, df):
    body = application_for_row(8, df, application_id="IDEM-CONC-8")
    with ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(lambda _: client.post("/v1/decisions", json=body), range(32)))
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1


def test_same_id_different_body_is_409(client, df):
    body = application_for_row(9, df, application_id="IDEM-9")
    assert client.post("/v1/decisions", json=body).status_code == 200
    changed = copy.deepcopy(body)
    changed["loan"]["amount"] += 100
    r = client.post("/v1/decisions", json=changed)
    assert r.status_code == 409
    assert "different request body" in r.json()["message"]


@pytest.mark.parametrize(("path", "value", "field"), [
    (("applicant", "age"), "thirty", "applicant.age"),
    (("applicant", "age"), 12, "applicant.age"),
    (("applicant", "home"), "castle", "applicant.home"),
    (("loan", "amount"), -5, "loan.amount"),
    (("country",), "XX", "country"),
    (("consent", "bureau"), "yes", "consent.bureau"),
])
def test_malformed_body_is_422_naming_the_field(client, df, path, value, field):
    body = application_for_row(10, df, application_id="BAD-10")
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    r = client.post("/v1/decisions", json=body)
    assert r.status_code == 422
    assert r.json()["message"].startswith(field)


def test_unknown_field_and_broken_json_are_422(client, df):
    body = application_for_row(11, df, application_id="BAD-11")
    body["applicant"]["name"] = "Ana"
    r = client.post("/v1/decisions", json=body)
    assert r.status_code == 422 and "applicant.name" in r.json()["message"]
    r = client.post("/v1/decisions", content=b'{"application_id": ',
                    headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_invalid_national_id_is_not_echoed(client, df):
    body = application_for_row(12, df, application_id="BAD-12")
    body["applicant"]["national_id"] = "SECRET!!ID99"
    r = client.post("/v1/decisions", json=body)
    assert r.status_code == 422 and "SECRET" not in r.text


def test_no_consent_degrades_instead_of_failing(client, df):
    body = application_for_row(13, df, application_id="NOCONSENT-13")
    body["consent"] = {"bureau": False, "open_banking": True}
    d = client.post("/v1/decisions", json=body).json()
    assert d["outcome"] in ("refer", "decline")
    assert d["degraded"] == [{"source": "bureau", "reason": "no_consent",
                              "code": "bureau_unavailable"}]


def test_spanish_reason_texts(client, df):
    body = application_for_row(14, df, application_id="ES-TEXT-14")
    es = client.post("/v1/decisions", json=body, headers={"accept-language": "es-ES"}).json()
    from models.reasons import REASONS

    assert [r["text"] for r in es["reasons"]] == [REASONS[r["feature"]][2] for r in es["reasons"]]


def test_unknown_decision_is_404(client):
    r = client.get("/v1/decisions/does-not-exist")
    assert r.status_code == 404 and r.json()["error"] == "not_found"


def test_health_and_readiness(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["audit_store"] == "ok"


def test_openapi_documents_the_public_interface(client):
    spec = client.get("/openapi.json").json()
    assert "/v1/decisions" in spec["paths"] and "/v1/decisions/{decision_id}" in spec["paths"]


def test_metrics_count_decisions_and_stages(client, df):
    client.post("/v1/decisions", json=application_for_row(15, df, application_id="METRICS-15"))
    text = client.get("/metrics").text
    assert 'credit_decisions_total{country="ES",decided_by="model"' in text
    assert 'credit_decision_stage_seconds_count{stage="score_explain"}' in text
    assert dni_for_row(15) not in text  # no national id in metrics

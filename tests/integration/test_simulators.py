"""The bureau and open-banking simulators over real HTTP."""

import httpx

from app.simulators.server import dni_for_row
from training.data import load_credit_data


def post(base, path, national_id):
    return httpx.post(f"{base}{path}", json={"national_id": national_id}, timeout=5)


def test_dni_mapping():
    assert dni_for_row(1) == "00000001R"
    assert dni_for_row(4454)[:8] == "00004454"


def test_known_applicants_answer_from_their_row(simulators_url):
    df = load_credit_data()
    for row in (1, 3, 30, 4454):
        r = df.loc[row]
        bureau = post(simulators_url, "/bureau/v1/reports", dni_for_row(row)).json()
        assert bureau["bad_records"] == (r["records"] == 1.0)
        assert bureau["debt"] == (None if r["debt"] != r["debt"] else r["debt"])
        banking = post(simulators_url, "/open-banking/v1/summaries", dni_for_row(row)).json()
        for field in ("income", "expenses", "assets"):
            expected = None if r[field] != r[field] else float(r[field])
            assert banking[field] == expected, (row, field)


def test_missing_income_is_null(simulators_url):
    df = load_credit_data()
    row = int(df.index[df["income"].isna()][0])
    assert post(simulators_url, "/open-banking/v1/summaries", dni_for_row(row)).json()["income"] is None


def test_unknown_applicants_get_deterministic_plausible_answers(simulators_url):
    a = post(simulators_url, "/open-banking/v1/summaries", "X1234567L").json()
    b = post(simulators_url, "/open-banking/v1/summaries", "X1234567L").json()
    c = post(simulators_url, "/open-banking/v1/summaries", "Y7654321Z").json()
    assert a == b and a != c
    assert 0 <= a["expenses"] <= 200
    wrong_letter = post(simulators_url, "/bureau/v1/reports", "00000001A")
    assert wrong_letter.status_code == 200  # not row 1's applicant, but still an answer


def test_bad_lookup_is_a_4xx(simulators_url):
    r = httpx.post(f"{simulators_url}/bureau/v1/reports", json={"id": "x"}, timeout=5)
    assert r.status_code == 422

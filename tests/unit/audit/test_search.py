"""Decision search (audit/search.py) gives the same answers on every backend: SQLite's SQL
query and the scan used for DynamoDB."""

import time

from audit.search import DecisionQuery, search
from tests import records


def decision(i: int, country: str, outcome: str, arm: str) -> dict:
    return records.decision(f"D{i}", country=country, outcome=outcome, decided_by=arm,
                            pd=0.1 + i / 100)


def fill(store):
    rows = [("ES", "approve", "model"), ("ES", "decline", "legacy"), ("PT", "approve", "model"),
            ("ES", "approve", "legacy"), ("ES", "refer", "model")]
    for i, (c, o, a) in enumerate(rows):
        store.append(decision(i, c, o, a), application_id=f"A{i}", decision_id=f"D{i}")
        time.sleep(0.002)  # distinct append times: newest-first order is defined
    store.append(records.flag_change())  # not a decision


def ids(rows):
    return [r["decision_id"] for r in rows]


def test_filters_order_and_pages(backend):
    """Country, outcome and arm filter; newest first; offset/limit page; no flag records."""
    store = backend.open()
    fill(store)
    assert ids(search(store, DecisionQuery())) == ["D4", "D3", "D2", "D1", "D0"]
    assert ids(search(store, DecisionQuery(country="ES", decided_by="model"))) == ["D4", "D0"]
    assert ids(search(store, DecisionQuery(outcome="approve"))) == ["D3", "D2", "D0"]
    assert ids(search(store, DecisionQuery(offset=1, limit=2))) == ["D3", "D2"]
    row = search(store, DecisionQuery(country="PT"))[0]
    assert row["probability_of_default"] == 0.1 + 2 / 100 and row["outcome"] == "approve"


def test_period_bounds(backend):
    """`since` is inclusive and `until` exclusive, on the append time."""
    store = backend.open()
    fill(store)
    every = search(store, DecisionQuery())
    cut = every[2]["at"]  # D2
    assert ids(search(store, DecisionQuery(since=cut))) == ["D4", "D3", "D2"]
    assert ids(search(store, DecisionQuery(until=cut))) == ["D1", "D0"]
    assert search(store, DecisionQuery(since="2999-01-01")) == []

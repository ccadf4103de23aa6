import math

import pytest

from audit.record import Entry, canonical
from shadow.concordance import Pair, kappa_from_table, pairs_from_entries, report, summarize
from tests import records


def pair(i, legacy, model, points=100.0, pd=0.2, country="ES", day="2026-11-20"):
    return Pair(f"d{i}", country, day, "model", legacy, model, points, pd)


def test_summary_by_hand():
    """8 of 10 agree; kappa and Wilson by their textbook formulas."""
    pairs = ([pair(i, "approve", "approve") for i in range(5)]
             + [pair(5 + i, "decline", "decline") for i in range(3)]
             + [pair(8, "approve", "decline"), pair(9, "refer", "approve")])
    s = summarize(pairs)
    assert (s["n"], s["agree"], s["agreement"]) == (10, 8, 0.8)
    # kappa: po = .8; legacy marginals a6 r1 d3, model a6 r0 d4 -> pe = (36+0+12)/100 = .48
    assert s["kappa"] == pytest.approx((0.8 - 0.48) / (1 - 0.48))
    z, n, p = 1.959963984540054, 10, 0.8
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert s["wilson"] == pytest.approx([centre - half, centre + half])
    assert s["swaps"] == {"approve->decline": 1, "refer->approve": 1}
    assert s["table"]["counts"] == [[5, 0, 1], [1, 0, 0], [0, 0, 3]]


def test_kappa_from_table_matches_summary():
    pairs = [pair(0, "approve", "refer"), pair(1, "approve", "approve"),
             pair(2, "decline", "decline"), pair(3, "refer", "refer")]
    s = summarize(pairs)
    assert kappa_from_table(s["table"]["counts"]) == pytest.approx(s["kappa"])


def test_spearman_is_negative_when_points_track_low_risk():
    pairs = [pair(i, "approve", "approve", points=100 + i, pd=0.5 - i / 100) for i in range(10)]
    assert summarize(pairs)["spearman"] == pytest.approx(-1.0)


def entry(rec):
    return Entry("c", 1, "0" * 64, "h", canonical(rec))


def test_entries_filtered_by_country_and_since():
    def rec(i, country, day, status="ok"):
        return entry(records.decision(
            f"d{i}", country=country, decided_at=f"{day}T10:00:00+00:00", decided_by="legacy",
            shadow=records.shadow("approve", "refer", status=status, points=120.0, pd=0.3)))

    from datetime import date

    entries = [rec(0, "ES", "2026-11-01"), rec(1, "ES", "2026-11-20"), rec(2, "FR", "2026-11-20"),
               rec(3, "ES", "2026-11-21", "timeout"), entry(records.flag_change())]
    pairs, statuses = pairs_from_entries(entries, "ES", date(2026, 11, 10))
    assert [p.decision_id for p in pairs] == ["d1"] and statuses == {"ok": 1, "timeout": 1}
    r = report(entries)
    assert r["overall"]["n"] == 3 and set(r["by_country"]) == {"ES", "FR"}
    assert list(r["by_day"]) == ["2026-11-01", "2026-11-20"]
    assert len(r["discrepancies"]) == 3 and r["shadow_runs"]["timeout"] == 1

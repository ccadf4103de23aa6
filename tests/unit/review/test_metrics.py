"""Review metrics read from the store: queue depth, oldest case, SLA breaches, override rates
per reviewer (key id) and per country."""

from prometheus_client import CollectorRegistry, generate_latest

from review.metrics import ReviewCollector
from review.projection import referral_id


def scrape(collector):
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for m in registry.collect() for s in m.samples}, generate_latest(registry)


def test_queue_sla_and_override_rates(desk):
    """Two open ES cases opened 2026-11-20 10:00 with a 24 h SLA, scraped 30 h later: both
    breached, the oldest 30 h old; k1 overrode once and decided once: rate 0.5."""
    for d in ("D1", "D2", "D3"):
        desk.decided(d)
    desk.decided("D4", outcome="approve")
    desk.decided("D5", outcome="refer", country="PT")
    desk.desk.decide(referral_id("D3"), "approve", "VERIFIED_INCOME", None, "k1")
    desk.desk.override("D4", "decline", "HIGH_DEBT_BURDEN", "debts", "k1")
    desk.desk.decide(referral_id("D5"), "decline", "INSUFFICIENT_INCOME", None, "k2")
    values, text = scrape(ReviewCollector(desk.store,
                                          clock=lambda: "2026-11-21T16:00:00.000000+00:00"))
    assert values[("credit_review_queue_depth", (("country", "ES"), ("kind", "referral")))] == 2
    assert values[("credit_review_oldest_case_age_seconds", (("country", "ES"),))] == 30 * 3600
    assert values[("credit_review_sla_breaches", (("country", "ES"),))] == 2
    assert values[("credit_review_override_rate_by_reviewer", (("reviewer", "k1"),))] == 0.5
    assert values[("credit_review_override_rate_by_reviewer", (("reviewer", "k2"),))] == 0
    assert values[("credit_review_override_rate_by_country", (("country", "ES"),))] == 0.5
    assert values[("credit_review_actions_total", (("action", "decision_override"),
                                                   ("country", "ES"), ("reviewer", "k1")))] == 1
    assert values[("credit_review_store_up", ())] == 1
    assert b"credit_review_actions_total{" in text and b"counter" in text


def test_a_store_that_cannot_be_read_is_reported_not_raised(desk):
    desk.store.close()
    values, _ = scrape(ReviewCollector(desk.store))
    assert values == {("credit_review_store_up", ()): 0}

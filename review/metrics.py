"""Prometheus metrics of the review desk, read from the review store at scrape time (the store
is shared by every worker, so any worker's scrape shows the whole desk):

    credit_review_queue_depth{country,kind}          open cases
    credit_review_oldest_case_age_seconds{country}   age of the oldest open case
    credit_review_sla_breaches{country}              open cases past their due time
    credit_review_actions{reviewer,country,action}   human actions (reviewer: the API key id)
    credit_review_override_rate_by_reviewer{reviewer}, ..._by_country{country}
                                                     overrides / (overrides + case decisions)
    credit_review_store_up                           0 when the store could not be read

The share of automated decisions that humans reverse, per country, is
credit_review_actions{action="decision_override"} / credit_decisions_total{outcome!="refer"}.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from review.model import now
from review.store import ReviewStore


class ReviewCollector:
    def __init__(self, store: ReviewStore, clock: Callable[[], str] = now) -> None:
        self.store = store
        self.clock = clock

    def describe(self) -> list[Metric]:
        return []  # collected on demand only: registering must not read the store

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("credit_review_store_up", "1 when the review store answered")
        try:
            at = self.clock()
            queue = self.store.queue_stats(at)
            counts = self.store.action_counts()
        except Exception:  # noqa: BLE001 - a scrape reports the store down, never fails
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from _queue(queue, at)
        yield from _actions(counts)


def _queue(stats: list[tuple[str, str, int, str, int]], at: str) -> Iterator[Metric]:
    depth = GaugeMetricFamily("credit_review_queue_depth", "Open review cases",
                              labels=["country", "kind"])
    oldest = GaugeMetricFamily("credit_review_oldest_case_age_seconds",
                               "Age of the oldest open review case", labels=["country"])
    breaches = GaugeMetricFamily("credit_review_sla_breaches",
                                 "Open review cases past their due time", labels=["country"])
    first: dict[str, str] = {}
    late: Counter[str] = Counter()
    for country, kind, n, opened, overdue in sorted(stats):
        depth.add_metric([country, kind], n)
        first[country] = min(first.get(country, opened), opened)
        late[country] += overdue
    t = datetime.fromisoformat(at)
    for country, opened in sorted(first.items()):
        oldest.add_metric([country], max((t - datetime.fromisoformat(opened)).total_seconds(), 0))
        breaches.add_metric([country], late[country])
    yield from (depth, oldest, breaches)


def _actions(counts: list[tuple[str, str, str, int]]) -> Iterator[Metric]:
    actions = CounterMetricFamily("credit_review_actions", "Human actions by reviewer (API key "
                                  "id), country and type", labels=["reviewer", "country", "action"])
    rates = {"reviewer": GaugeMetricFamily(
                 "credit_review_override_rate_by_reviewer",
                 "Overrides / (overrides + case decisions) per reviewer key id", labels=["reviewer"]),
             "country": GaugeMetricFamily(
                 "credit_review_override_rate_by_country",
                 "Overrides / (overrides + case decisions) per country", labels=["country"])}
    tally: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for actor, country, kind, n in counts:
        actions.add_metric([actor, country, kind], n)
        tally[("reviewer", actor)][kind] += n
        tally[("country", country)][kind] += n
    for (by, key), kinds in sorted(tally.items()):
        judged = kinds["decision_override"] + kinds["review_decision"]
        if judged:
            rates[by].add_metric([key], kinds["decision_override"] / judged)
    yield from (actions, *rates.values())

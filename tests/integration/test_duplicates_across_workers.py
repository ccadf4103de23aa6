"""Two workers (two sets of services on one data dir, as uvicorn's workers are) given the same
application at once: the audit log's unique key lets one decision through, and the customer's
velocity counts that application once, not once per worker that decided it."""

import asyncio
import time

import pytest

from app.services import build_services
from app.settings import Settings
from audit.records import parse_record
from decision.application import Application
from decision.enrichment import Enricher
from decision.errors import IdempotencyConflict
from decision.orchestrator import keeps_count, request_hash
from feature_store.velocity import Velocity
from sources.base import answer
from sources.bureau import BureauReport
from sources.open_banking import BankingSummary

APPLICATION = {
    "application_id": "DUP-ACROSS-1", "country": "ES",
    "applicant": {"customer_id": "C-DUP", "national_id": "00000001R", "age": 40,
                  "seniority_years": 10, "marital_status": "married", "home": "owner",
                  "job": "fixed"},
    "loan": {"amount": 1000.0, "purchase_price": 1200.0, "term_months": 24},
    "consent": {"bureau": True, "open_banking": True},
}


class FixedSource:
    """A Source (our Protocol) answering a fixed, valid report."""

    def __init__(self, name, schema, content):
        self.name, self.schema, self.content = name, schema, content

    async def fetch(self, national_id):
        return answer(self.name, self.schema, self.content, time.perf_counter())


@pytest.fixture
def workers(trained, tmp_path):
    from tests.conftest import GENEROUS_DEADLINES, fresh_data_dir

    s = Settings(data_dir=fresh_data_dir(trained, tmp_path), bureau_url="http://unused",
                 open_banking_url="http://unused", audit_digest_interval_s=0,
                 **GENEROUS_DEADLINES)
    pair = [build_services(s), build_services(s)]
    sources = {"bureau": FixedSource("bureau", BureauReport, b'{"bad_records": false, "debt": 0}'),
               "open_banking": FixedSource("open_banking", BankingSummary,
                                           b'{"income": 2000, "expenses": 500, "assets": 1000}')}
    for services in pair:
        services.orchestrator.enricher = Enricher(sources, 0.8)
    yield pair

    async def close():
        for services in pair:
            await services.aclose()
    asyncio.run(close())


def taken_back(workers, monkeypatch):
    """The velocity take-backs the workers make (negative amounts), recorded."""
    calls = []
    for w in workers:
        store = w.orchestrator.velocity.store
        original = store.increment_and_count

        def recording(fs, amounts, entities, original=original):
            calls.append(sorted(n for n, _ in amounts.values()))
            return original(fs, amounts, entities)
        monkeypatch.setattr(store, "increment_and_count", recording)
    return calls


def test_a_duplicate_decided_by_two_workers_counts_once_in_velocity(workers, monkeypatch):
    application = Application.model_validate(APPLICATION)
    calls = taken_back(workers, monkeypatch)

    async def both():
        # One turn: both lookups miss, both workers decide, one append wins.
        return await asyncio.gather(*(w.orchestrator.decide(application) for w in workers))

    outcomes = asyncio.run(both())
    assert sorted(o.created for o in outcomes) == [False, True]
    assert calls == [[-1] * 6]  # the race did happen: the loser's append lost, it took back
    assert outcomes[0].response == outcomes[1].response
    velocity = workers[0].orchestrator.velocity
    counts = velocity.counts("C-DUP", "00000001R")
    assert counts["customer_applications_1h"] == 1
    assert counts["national_id_applications_30d"] == 1


def test_another_body_with_that_id_in_another_worker_is_409_and_not_counted(workers,
                                                                           monkeypatch):
    calls = taken_back(workers, monkeypatch)
    first = Application.model_validate(APPLICATION)
    changed = Application.model_validate(
        {**APPLICATION, "loan": {**APPLICATION["loan"], "amount": 2000.0}})

    async def both():
        return await asyncio.gather(workers[0].orchestrator.decide(first),
                                    workers[1].orchestrator.decide(changed),
                                    return_exceptions=True)

    outcomes = asyncio.run(both())
    conflicts = [o for o in outcomes if isinstance(o, IdempotencyConflict)]
    assert len(conflicts) == 1 and sum(getattr(o, "created", False) for o in outcomes) == 1
    assert calls == [[-1] * 6]
    counts = workers[0].orchestrator.velocity.counts("C-DUP", "00000001R")
    assert counts["customer_applications_24h"] == 1


class DownStore:
    """A feature store (our Protocol) whose velocity call fails."""

    def increment_and_sum(self, fs, amounts, ranges):
        raise ConnectionError("feature store down")


def test_a_count_stays_when_the_earlier_decision_may_not_have_counted(workers):
    """The earlier decision's velocity degraded (it may not have counted): a later duplicate
    keeps its own count; with it counted, or with another body, the count goes."""
    down, up = workers
    down.orchestrator.velocity = Velocity(DownStore(), down.builder.pseudonymizer)
    application = Application.model_validate(APPLICATION)
    outcome = asyncio.run(down.orchestrator.decide(application))
    assert [d["source"] for d in outcome.response["degraded"]] == ["velocity"]
    earlier = parse_record(up.audit.get_by_application(APPLICATION["application_id"]).body)
    rhash = request_hash(application.model_dump(mode="json"))
    assert keeps_count(earlier, rhash)
    assert not keeps_count(earlier, "another body's hash")

    other = Application.model_validate({**APPLICATION, "application_id": "DUP-ACROSS-2"})
    asyncio.run(up.orchestrator.decide(other))
    assert not keeps_count(parse_record(up.audit.get_by_application("DUP-ACROSS-2").body),
                           request_hash(other.model_dump(mode="json")))

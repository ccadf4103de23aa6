"""Two workers (two sets of services on one data dir, as uvicorn's workers are) given the same
application at once: the audit log's unique key lets one decision through, and the customer's
velocity counts that application once, not once per worker that decided it."""

import asyncio
import time

import pytest

from app.services import build_services
from app.settings import Settings
from decision.application import Application
from decision.enrichment import Enricher
from decision.errors import IdempotencyConflict
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


def test_a_duplicate_decided_by_two_workers_counts_once_in_velocity(workers):
    application = Application.model_validate(APPLICATION)

    async def both():
        # One turn: both lookups miss, both workers decide, one append wins.
        return await asyncio.gather(*(w.orchestrator.decide(application) for w in workers))

    outcomes = asyncio.run(both())
    assert sorted(o.created for o in outcomes) == [False, True]  # the race did happen
    assert outcomes[0].response == outcomes[1].response
    velocity = workers[0].orchestrator.velocity
    counts = velocity.counts("C-DUP", "00000001R")
    assert counts["customer_applications_1h"] == 1
    assert counts["national_id_applications_30d"] == 1


def test_another_body_with_that_id_in_another_worker_is_409_and_not_counted(workers):
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
    counts = workers[0].orchestrator.velocity.counts("C-DUP", "00000001R")
    assert counts["customer_applications_24h"] == 1

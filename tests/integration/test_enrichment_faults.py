"""Resilient sources against the simulators over HTTP, faults injected at run time.
Calls are counted at the simulator, so "no call went out" is observed, not assumed."""

import asyncio
import statistics
import time

import httpx
import pybreaker
import pytest

from app.schemas import Application
from app.simulators.server import application_for_row
from decision.enrichment import Enricher
from sources.base import DependencyError
from sources.bureau import bureau_source
from sources.open_banking import open_banking_source
from sources.resilience import ResilientSource, RetryPolicy, new_breaker
from tests.servers import free_port

NID = "00000001R"


class Harness:
    """Resilient bureau and open-banking sources on fresh clients (one per event loop)."""

    def __init__(self, base: str, attempts=3, fail_max=3, reset_timeout_s=0.5,
                 call_timeout_s=0.2, budget_s=0.4, storage=None, bureau_base=None):
        self.base, self.bureau_base = base, bureau_base or f"{base}/bureau"
        self.policy = RetryPolicy(attempts=attempts, call_timeout_s=call_timeout_s,
                                  budget_s=budget_s, backoff_s=0.01, backoff_max_s=0.05)
        self.breaker = new_breaker("bureau", fail_max, reset_timeout_s, storage)

    async def __aenter__(self):
        self.clients = [httpx.AsyncClient(base_url=self.bureau_base, timeout=5),
                        httpx.AsyncClient(base_url=f"{self.base}/open-banking", timeout=5)]
        self.bureau = ResilientSource(bureau_source(self.clients[0]), self.breaker, self.policy)
        ob_breaker = new_breaker("open_banking", 100, 1.0)
        self.open_banking = ResilientSource(open_banking_source(self.clients[1]), ob_breaker,
                                            self.policy)
        return self

    async def __aexit__(self, *exc):
        for c in self.clients:
            await c.aclose()

    async def reason(self) -> str:
        try:
            await self.bureau.fetch(NID)
        except DependencyError as exc:
            return exc.reason
        return "ok"


def run(coro):
    return asyncio.run(coro)


def test_bureau_hang_degrades_within_the_deadline(faults, fault_simulators_url):
    """The bureau hangs: enrichment ends by the deadline, bureau degraded, open banking used."""
    faults.set("bureau", hang=True)
    app = Application.model_validate(application_for_row(1), strict=False)

    async def go():
        async with Harness(fault_simulators_url) as h:
            enricher = Enricher({"bureau": h.bureau, "open_banking": h.open_banking}, 0.3)
            t = time.monotonic()
            result = await enricher.enrich(app)
            return result, time.monotonic() - t

    result, elapsed = run(go())
    assert elapsed < 0.3 + 0.05
    assert [d.model_dump() for d in result.degraded] == [
        {"source": "bureau", "reason": "timeout", "code": "bureau_unavailable"}]
    assert result.sources["open_banking"].status == "ok"


def test_breaker_opens_after_fail_max_and_costs_little(faults, fault_simulators_url):
    """503s: fail_max calls reach the bureau, then the open breaker answers without a call."""
    faults.set("bureau", error_rate=1.0, error_status=503)

    async def go():
        async with Harness(fault_simulators_url, attempts=1, fail_max=3, reset_timeout_s=30) as h:
            first = [await h.reason() for _ in range(3)]
            costs, later = [], []
            for _ in range(50):
                t = time.perf_counter()
                later.append(await h.reason())
                costs.append(time.perf_counter() - t)
            return first, later, costs, h.breaker.state

    first, later, costs, state = run(go())
    assert first == ["server_error"] * 3
    assert set(later) == {"circuit_open"} and state == pybreaker.STATE_OPEN
    assert faults.calls("bureau") == 3
    assert statistics.median(costs) < 0.005 and max(costs) < 0.5  # generous: a loaded CI box


def test_half_open_sends_exactly_one_trial_then_recovers(faults, fault_simulators_url):
    """After reset_timeout, 10 concurrent fetches send one trial; once healed, it closes."""
    faults.set("bureau", error_rate=1.0)

    async def go():
        async with Harness(fault_simulators_url, attempts=1, fail_max=2,
                           reset_timeout_s=0.3) as h:
            [await h.reason() for _ in range(2)]
            faults.set("bureau", hang=True)  # zeroes nothing: calls keep counting
            before = faults.calls("bureau")
            await asyncio.sleep(0.35)
            trial = await asyncio.gather(*(h.reason() for _ in range(10)))
            after_trial = faults.calls("bureau")
            faults.set("bureau")  # healed
            await asyncio.sleep(0.35)
            healed = [await h.reason() for _ in range(3)]
            return before, sorted(trial), after_trial, healed, h.breaker.state

    before, trial, after_trial, healed, state = run(go())
    assert after_trial - before == 1
    assert trial == ["circuit_open"] * 9 + ["timeout"]
    assert healed == ["ok"] * 3 and state == pybreaker.STATE_CLOSED


def test_5xx_burst_is_retried_within_attempts(faults, fault_simulators_url):
    """Two 503s then an answer: three calls, success; all-503: exactly `attempts` calls."""
    faults.set("bureau", fail_next=2)

    async def go(attempts):
        async with Harness(fault_simulators_url, attempts=attempts, fail_max=100) as h:
            t = time.monotonic()
            return await h.reason(), time.monotonic() - t

    assert run(go(3))[0] == "ok"
    assert faults.calls("bureau") == 3
    faults.set("bureau", error_rate=1.0, error_status=502)
    before = faults.calls("bureau")
    reason, elapsed = run(go(4))
    assert reason == "server_error" and faults.calls("bureau") - before == 4
    assert elapsed < 0.4


def test_5xx_retries_stop_at_the_deadline(faults, fault_simulators_url):
    """Slow 503s (150 ms each) with 10 attempts allowed: the 400 ms budget stops them first."""
    faults.set("bureau", error_rate=1.0, latency_ms=150)

    async def go():
        async with Harness(fault_simulators_url, attempts=10, fail_max=100) as h:
            t = time.monotonic()
            return await h.reason(), time.monotonic() - t

    reason, elapsed = run(go())
    assert reason in ("server_error", "timeout") and elapsed < 0.4 + 0.03
    assert 2 <= faults.calls("bureau") <= 3


def test_4xx_is_not_retried_nor_counted(faults, fault_simulators_url):
    faults.set("bureau", error_rate=1.0, error_status=404)

    async def go():
        async with Harness(fault_simulators_url, attempts=3, fail_max=2) as h:
            return [await h.reason() for _ in range(5)], h.breaker.state

    reasons, state = run(go())
    assert reasons == ["rejected"] * 5 and state == pybreaker.STATE_CLOSED
    assert faults.calls("bureau") == 5


def test_malformed_payload_is_a_dependency_failure(faults, fault_simulators_url):
    """A 200 off the schema: reason malformed, not retried."""
    faults.set("bureau", malformed_rate=1.0)

    async def go():
        async with Harness(fault_simulators_url) as h:
            return await h.reason()

    assert run(go()) == "malformed"
    assert faults.calls("bureau") == 1


def test_seeded_error_rate_is_deterministic(faults, fault_simulators_url):
    """The same seed gives the same sequence of injected failures."""
    def statuses():
        faults.set("bureau", error_rate=0.5, seed=7)
        with httpx.Client(base_url=fault_simulators_url, timeout=5) as c:
            return [c.post("/bureau/v1/reports", json={"national_id": NID}).status_code
                    for _ in range(20)]

    first = statuses()
    assert first == statuses() and {200, 503} == set(first)


def test_refused_connection_is_retried_then_unreachable(fault_simulators_url):
    """A closed port refuses for real: `attempts` tries, reason unreachable, fast."""
    closed = f"http://127.0.0.1:{free_port()}/bureau"

    async def go():
        async with Harness(fault_simulators_url, bureau_base=closed, fail_max=100) as h:
            t = time.monotonic()
            return await h.reason(), time.monotonic() - t

    reason, elapsed = run(go())
    assert reason == "unreachable" and elapsed < 0.4


def test_unknown_fault_endpoint_is_404(fault_simulators_url):
    r = httpx.put(f"{fault_simulators_url}/_faults/nope", json={}, timeout=5)
    assert r.status_code == 404
    r = httpx.put(f"{fault_simulators_url}/_faults/bureau", json={"error_rate": 2}, timeout=5)
    assert r.status_code == 422


@pytest.mark.parametrize("endpoint", ["bureau", "open_banking"])
def test_reset_heals_and_zeroes(faults, endpoint):
    faults.set(endpoint, error_rate=1.0)
    faults.reset()
    assert faults.calls(endpoint) == 0

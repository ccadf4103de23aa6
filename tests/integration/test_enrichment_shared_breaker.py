"""Breaker state shared through a real redis-server, and what happens when Redis dies."""

import asyncio
import subprocess
import time
from datetime import UTC, datetime

import pybreaker
import redis

from sources.breaker_storage import SyncedRedisStorage
from tests.integration.test_enrichment_faults import Harness
from tests.servers import free_port, redis_server

# These tests are about breaker state, not deadlines: a call that must answer "ok" gets a
# timeout no loaded CI box reaches (the default 200 ms was once exceeded there, with four test
# workers on two cores).
PATIENT = {"call_timeout_s": 2.0, "budget_s": 3.0}


def storage(url):
    client = redis.Redis.from_url(url, socket_timeout=0.05, socket_connect_timeout=0.05)
    return SyncedRedisStorage("credit:breaker:bureau", client, sync_s=0.05)


def test_one_worker_opens_the_breaker_for_all(faults, fault_simulators_url, redis_url):
    """Worker A trips the shared breaker; worker B then fails fast without calling."""
    faults.set("bureau", error_rate=1.0)

    async def go():
        async with Harness(fault_simulators_url, attempts=1, fail_max=3,
                           reset_timeout_s=30, storage=storage(redis_url)) as a, \
                Harness(fault_simulators_url, attempts=1, fail_max=3,
                        reset_timeout_s=30, storage=storage(redis_url)) as b:
            ra = [await a.reason() for _ in range(3)]
            await asyncio.sleep(0.3)  # a few sync intervals: A pushes, B takes
            rb = [await b.reason() for _ in range(5)]
            return ra, rb, b.breaker.state

    ra, rb, state_b = run(go())
    assert ra == ["server_error"] * 3
    assert rb == ["circuit_open"] * 5 and state_b == pybreaker.STATE_OPEN
    assert faults.calls("bureau") == 3
    assert redis.Redis.from_url(redis_url).get("credit:breaker:bureau:state") == b"open"


def test_redis_down_falls_back_to_local_state(faults, fault_simulators_url):
    """Kill Redis: fetches keep working on a local breaker, which still opens on failures."""
    with redis_server() as (url, proc):
        shared = storage(url)

        async def go():
            async with Harness(fault_simulators_url, attempts=1, fail_max=3,
                               reset_timeout_s=30, storage=shared, **PATIENT) as h:
                before = [await h.reason() for _ in range(3)]
                assert shared.shared
                proc.kill()
                proc.wait(timeout=10)
                await asyncio.sleep(0.3)  # the sync notices
                t = time.perf_counter()
                after = [await h.reason() for _ in range(5)]
                assert time.perf_counter() - t < 1.0  # no Redis wait in the calls themselves
                faults.set("bureau", error_rate=1.0)
                failing = [await h.reason() for _ in range(6)]
                return before, after, failing, shared.shared

        before, after, failing, still_shared = run(go())
    assert before == ["ok"] * 3 and after == ["ok"] * 5
    assert not still_shared
    assert failing == ["server_error"] * 3 + ["circuit_open"] * 3


def test_redis_down_at_start_uses_local_state(fault_simulators_url, faults):
    """A storage built while Redis is unreachable still serves calls."""
    async def go():
        async with Harness(fault_simulators_url, storage=storage(
                f"redis://127.0.0.1:{free_port()}/0"), **PATIENT) as h:
            return [await h.reason() for _ in range(3)]

    assert run(go()) == ["ok"] * 3


def test_a_state_change_made_while_redis_is_down_reaches_it_later(tmp_path):
    """Open the breaker while Redis is away: once Redis is back, the others learn of it."""
    port = free_port()
    args = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no"]
    url = f"redis://127.0.0.1:{port}/0"
    shared = storage(url)
    try:
        shared.state, shared.opened_at = pybreaker.STATE_OPEN, datetime.now(UTC)
        shared.sync()  # Redis is not there: nothing reaches it
        assert not shared.shared
        with subprocess.Popen(args, stdout=subprocess.DEVNULL) as back:
            try:
                client = redis.Redis.from_url(url)
                deadline = time.monotonic() + 10
                while not reached(client, b"open"):
                    assert time.monotonic() < deadline, "the change made offline was lost"
                    time.sleep(0.05)
            finally:
                back.kill()
    finally:
        shared.close()


def reached(client, state):
    try:
        return client.get("credit:breaker:bureau:state") == state
    except redis.ConnectionError:  # still starting
        return False


def run(coro):
    return asyncio.run(coro)

"""The bounded pool (core/postgres.py) against a PostgreSQL server of its own, which these
tests stop and freeze: every call ends within its bounds, and service resumes as soon as the
database is back."""

import os
import signal
import time

import pytest

from core.postgres import WATCHDOG_GRACE_S, DatabaseUnavailable, PgPool, PostgresConfig
from tests import servers


@pytest.fixture(scope="module")
def server():
    with servers.postgres_server() as pg:
        yield pg


@pytest.fixture
def pool(server):
    p = PgPool(PostgresConfig(url=server.url(), acquire_timeout_s=0.3, statement_timeout_s=0.5,
                              retry_after_s=0.5), "test")
    yield p
    p.close()


def select_1(pool) -> None:
    with pool.connection() as conn:
        conn.execute("SELECT 1")


def seconds_to_fail(fn) -> tuple[float, Exception]:
    t = time.monotonic()
    with pytest.raises(DatabaseUnavailable) as info:
        fn()
    return time.monotonic() - t, info.value


def recovers_within(pool, limit_s: float) -> float:
    t = time.monotonic()
    while True:
        try:
            select_1(pool)
            return time.monotonic() - t
        except DatabaseUnavailable:
            assert time.monotonic() - t < limit_s, "no recovery"
            time.sleep(0.05)


def test_a_stopped_database_fails_fast_then_recovers(server, pool):
    """Stopped: the first call fails within its acquire timeout, the next ones at once (no
    queue of waiters); restarted: the pool serves again within about retry_after_s."""
    select_1(pool)
    server.stop("fast")
    try:
        first, exc = seconds_to_fail(lambda: select_1(pool))
        again, _ = seconds_to_fail(lambda: select_1(pool))
    finally:
        server.start()
    assert first < 0.3 + 0.3 and again < 0.05
    assert "PostgreSQL (test)" in str(exc)
    assert recovers_within(pool, 3.0) < 1.5


def test_a_frozen_server_is_cut_off_by_the_watchdog(server, pool):
    """A server that takes packets but never answers (SIGSTOP): the call fails a little
    after its statement timeout instead of waiting forever."""
    select_1(pool)
    pids = server.pids()
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        took, _ = seconds_to_fail(lambda: select_1(pool))
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    assert took < 0.5 + WATCHDOG_GRACE_S + 0.3
    recovers_within(pool, 3.0)


def test_a_slow_statement_is_cancelled_and_the_pool_goes_on(pool):
    """The server's statement_timeout ends a slow query; the connection is fine, so the
    next call goes through at once (no fail-fast window for a timeout)."""
    def slow():
        with pool.connection() as conn:
            conn.execute("SELECT pg_sleep(3)")

    took, exc = seconds_to_fail(slow)
    assert took < 1.0 and "statement timeout" in str(exc)
    select_1(pool)


def test_an_unreachable_database_refuses_to_open_naming_only_where():
    """No server at the address: opening fails within the connect timeout, and the message
    names host, port and database but never the password."""
    port = servers.free_port()
    url = f"postgresql://someone:s3cret@127.0.0.1:{port}/credit"
    t = time.monotonic()
    with pytest.raises(DatabaseUnavailable) as info:
        PgPool(PostgresConfig(url=url), "test")
    assert time.monotonic() - t < 2 + 1 + 1.0
    assert f"127.0.0.1:{port}/credit" in str(info.value) and "s3cret" not in str(info.value)
    assert "s3cret" not in repr(PostgresConfig(url=url))

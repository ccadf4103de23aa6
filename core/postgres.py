"""PostgreSQL plumbing that every store's PostgreSQL backend shares: one config model and a
connection pool (psycopg 3, psycopg_pool) whose every call is bounded.

The bounds, so that a database that stops answering costs the caller an error within
about `statement_timeout_s + acquire_timeout_s`, never a hang (ADR 0120):
- acquire: waiting for a pooled connection (`acquire_timeout_s`);
- connect: opening one (`connect_timeout_s`; libpq counts whole seconds, at least 2);
- statement: the server's `statement_timeout` and `lock_timeout`;
- the whole call: a watchdog shuts the socket of a call still running a little after its
  statement timeout (in `scan()`, each fetch after `scan_timeout_s`), for a server that
  takes packets but no longer answers (a frozen process, a stalled disk): the blocked
  thread gets an error instead of waiting forever.
After a connection-level failure, calls fail at once for `retry_after_s` instead of each
waiting its acquire timeout (under load that wait would queue every request behind it);
then the next call tries again, so service resumes as soon as the database is back.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout
from pydantic import BaseModel, Field, SecretStr

from core.schema import Branch, SchemaMismatch, check, current

WATCHDOG_GRACE_S = 0.25  # past the statement timeout, before the socket is shut
CHECK_IDLE_S = 1.0       # a connection idle longer is checked before it is handed out


class DatabaseUnavailable(Exception):
    """The database did not answer in time or the connection broke."""


class PostgresConfig(BaseModel):
    """Where the database is and how long anything may take. Each store's PostgreSQL config
    subclasses it with its `type` literal."""

    url: SecretStr  # postgresql://user:password@host:port/dbname (libpq URI)
    min_size: int = Field(default=1, ge=0)
    max_size: int = Field(default=8, ge=1)
    connect_timeout_s: int = Field(default=2, ge=2)
    acquire_timeout_s: float = Field(default=0.5, gt=0)
    statement_timeout_s: float = Field(default=1.0, gt=0)
    # Long reads (verify, export) run on a connection of their own with this timeout.
    scan_timeout_s: float = Field(default=600.0, gt=0)
    retry_after_s: float = Field(default=0.5, ge=0)


def connect_kwargs(config: PostgresConfig, statement_timeout_s: float,
                   application_name: str) -> dict[str, Any]:
    """libpq parameters of every connection: timeouts on the server and on the socket."""
    ms = max(1, int(statement_timeout_s * 1000))
    return {"connect_timeout": config.connect_timeout_s,
            "application_name": application_name,
            "options": f"-c statement_timeout={ms} -c lock_timeout={ms} "
                       f"-c idle_in_transaction_session_timeout={max(ms * 10, 10_000)}",
            # A peer that vanished (no FIN, no RST) is noticed within seconds, not hours.
            "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2,
            "keepalives_count": 2, "tcp_user_timeout": ms + 2000}


def where(config: PostgresConfig) -> str:
    """host:port/dbname of the URL, for messages (never the user or password)."""
    info = conninfo_to_dict(config.url.get_secret_value())
    return f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"


class Watchdog:
    """Shuts the socket of a guarded call that outlives its deadline. One thread serves every
    call of a pool; a call that ends in time costs a dictionary entry."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._cond = threading.Condition()
        self._due: dict[int, tuple[float, int]] = {}  # token -> (deadline, socket fd)
        self._tokens = itertools.count()
        self._thread: threading.Thread | None = None
        self._closed = False

    @contextlib.contextmanager
    def guard(self, conn: psycopg.Connection, seconds: float) -> Iterator[None]:
        token = next(self._tokens)
        with self._cond:
            self._due[token] = (time.monotonic() + seconds, conn.pgconn.socket)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                name=f"pg-watchdog-{self._name}")
                self._thread.start()
            if len(self._due) == 1:
                self._cond.notify()  # it was sleeping with nothing to watch
        try:
            yield
        finally:
            with self._cond:  # after this, the socket is never shut on our behalf
                self._due.pop(token, None)

    def _run(self) -> None:
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                for token, (due, fd) in list(self._due.items()):
                    if due <= now:
                        del self._due[token]
                        _shut(fd)
                nearest = min((due for due, _ in self._due.values()), default=None)
                self._cond.wait(None if nearest is None else max(nearest - now, 0.001))

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()


def _shut(fd: int) -> None:
    # shutdown() acts on the socket, not the descriptor: the thread blocked in recv() on the
    # connection's own descriptor wakes up with an error. The duplicate is closed at once.
    with contextlib.suppress(OSError), socket.socket(fileno=os.dup(fd)) as s:
        s.shutdown(socket.SHUT_RDWR)


class PgPool:
    """A psycopg_pool.ConnectionPool in autocommit mode (a read is one round trip; writers
    open `conn.transaction()`), every call bounded as the module says. `unavailable` is the
    exception its callers raise for "the database is not there" (AuditUnavailable for the
    audit stores), so the shell maps it to a 503 without knowing about PostgreSQL. With
    `schema`, opening it fails (SchemaMismatch) unless the database is at that branch's
    head: a service never runs on a schema it does not know."""

    def __init__(self, config: PostgresConfig, name: str,
                 unavailable: type[Exception] = DatabaseUnavailable,
                 schema: Branch | None = None) -> None:
        self.config = config
        self.name = name
        self._unavailable = unavailable
        self._call_s = config.statement_timeout_s + WATCHDOG_GRACE_S
        self._watchdog = Watchdog(name)
        self._failed_at = float("-inf")
        self._returned: weakref.WeakKeyDictionary[psycopg.Connection, float] = \
            weakref.WeakKeyDictionary()
        self._pool = ConnectionPool(
            config.url.get_secret_value(), min_size=config.min_size, max_size=config.max_size,
            timeout=config.acquire_timeout_s, name=name, open=False,
            kwargs={**connect_kwargs(config, config.statement_timeout_s, f"credit-{name}"),
                    "autocommit": True},
            check=self._check, reset=self._mark_returned,
            # A slot that cannot reconnect is given up quickly and grown again by the next
            # caller, instead of retrying on the pool's own backoff (1 s, 2 s, 4 s, ...):
            # service resumes with the first call after the database is back.
            reconnect_timeout=float(config.connect_timeout_s))
        try:
            self._pool.open(wait=True, timeout=config.connect_timeout_s + 1.0)
        except PoolTimeout:
            self._pool.close(timeout=0)
            self._watchdog.close()
            raise unavailable(f"PostgreSQL at {where(config)} did not accept a connection "
                              f"within {config.connect_timeout_s + 1:.0f} s") from None
        if schema is not None:
            try:
                with self.connection() as conn:
                    revisions = current(conn)
                check(revisions, schema)
            except SchemaMismatch as exc:
                self.close()
                raise SchemaMismatch(f"PostgreSQL at {where(config)}: {exc}") from None

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection for one bounded call; connection-level failures and timeouts
        become `unavailable`."""
        if time.monotonic() - self._failed_at < self.config.retry_after_s:
            raise self._unavailable(f"PostgreSQL ({self.name}) unavailable; retrying shortly")
        conn: psycopg.Connection | None = None
        try:
            with self._pool.connection() as conn, self._watchdog.guard(conn, self._call_s):
                yield conn
        except psycopg.OperationalError as exc:
            if conn is None or conn.broken or conn.closed:
                self._failed_at = time.monotonic()
                if conn is not None:  # its idle siblings were most likely cut as well
                    self._pool.drain()
            raise self._unavailable(f"PostgreSQL ({self.name}): {_reason(exc)}") from exc

    def _check(self, conn: psycopg.Connection) -> None:
        # A connection used a moment ago is fine; one that sat idle may have been cut (a
        # restart of the database): one empty query, under the watchdog, tells.
        if time.monotonic() - self._returned.get(conn, 0.0) > CHECK_IDLE_S:
            with self._watchdog.guard(conn, self._call_s):
                ConnectionPool.check_connection(conn)

    def _mark_returned(self, conn: psycopg.Connection) -> None:
        self._returned[conn] = time.monotonic()

    def close(self) -> None:
        self._pool.close(timeout=5)
        self._watchdog.close()


def _reason(exc: psycopg.OperationalError) -> str:
    """What went wrong, without the server's message (it may quote a query's values)."""
    if isinstance(exc, PoolTimeout):
        return "no connection within the acquire timeout"
    if isinstance(exc, psycopg.errors.QueryCanceled):
        return "statement timeout"
    if isinstance(exc, psycopg.errors.LockNotAvailable):
        return "lock timeout"
    return f"connection failed ({type(exc).__name__})"


def scan(config: PostgresConfig, name: str, sql: str, params: Sequence[Any] = (),
         batch: int = 5000, unavailable: type[Exception] = DatabaseUnavailable
         ) -> Iterator[tuple[Any, ...]]:
    """Rows of a long read (verify, export, a key rotation) through a server-side cursor, on
    a connection of its own (no pooled connection is held while the caller works through
    them), each fetch bounded by `scan_timeout_s` and the watchdog."""
    limit = config.scan_timeout_s + WATCHDOG_GRACE_S
    dog = Watchdog(name)
    try:
        conn = psycopg.connect(config.url.get_secret_value(),
                               **connect_kwargs(config, config.scan_timeout_s, f"credit-{name}"))
    except psycopg.OperationalError as exc:
        dog.close()
        raise unavailable(f"PostgreSQL ({name}): {_reason(exc)}") from exc
    try:
        with conn.transaction(), conn.cursor(name=name.replace("-", "_")) as cur:
            with dog.guard(conn, limit):
                cur.execute(sql, params)
            while True:
                with dog.guard(conn, limit):
                    rows = cur.fetchmany(batch)
                if not rows:
                    return
                yield from rows
    except psycopg.OperationalError as exc:
        raise unavailable(f"PostgreSQL ({name}): {_reason(exc)}") from exc
    finally:
        conn.close()
        dog.close()

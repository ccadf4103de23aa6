"""Real servers for tests: started as subprocesses on free ports, stopped at teardown."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# A loaded 2-core machine can take minutes to import and load a model in a new process.
START_TIMEOUT_S = 240.0


def wait_http(url: str, proc: subprocess.Popen, timeout_s: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server for {url} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {timeout_s}s")


@contextmanager
def process(args: list[str], ready_url: str, env: dict[str, str] | None = None,
            log: Path | None = None) -> Iterator[subprocess.Popen]:
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    # A scratch working directory: nothing may depend on (or write to) the caller's cwd.
    cwd = tempfile.mkdtemp(prefix="server-cwd-")
    proc = subprocess.Popen(args, env={**os.environ, **(env or {})}, stdout=out,
                            stderr=subprocess.STDOUT, cwd=cwd)
    try:
        wait_http(ready_url, proc)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if log:
            out.close()


@contextmanager
def simulators() -> Iterator[str]:
    """The bureau and open-banking simulators; yields their base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with process([sys.executable, "-m", "app.cli", "simulators", "--port", str(port)],
                 f"{base}/healthz"):
        yield base


def _api_args(port: int) -> list[str]:
    return [sys.executable, "-m", "uvicorn", "app.main:app_from_env", "--factory",
            "--port", str(port), "--log-level", "warning"]


@contextmanager
def api(env: dict[str, str], log: Path | None = None) -> Iterator[str]:
    """The decision API (uvicorn, one worker) configured by CREDIT_* env; yields its URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with process(_api_args(port), f"{base}/healthz", env=env, log=log):
        yield base


def start_api(env: dict[str, str], log: Path | None = None) -> tuple[subprocess.Popen, str]:
    """An API process the caller owns (to kill -9 it): (process, base URL). Its output goes
    to `log` (appended) if given."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with open(log, "ab") if log else open(os.devnull, "wb") as out:
        proc = subprocess.Popen(_api_args(port), env={**os.environ, **env},
                                stdout=out, stderr=subprocess.STDOUT,
                                cwd=tempfile.mkdtemp(prefix="server-cwd-"))
    try:
        wait_http(f"{base}/healthz", proc)
    except BaseException:
        proc.kill()
        raise
    return proc, base


@contextmanager
def background(env: dict[str, str], log: Path | None = None) -> Iterator[subprocess.Popen]:
    """`credit background` (the review catch-up and monitoring refresh in a process of their
    own) configured by CREDIT_* env, yielded once its first review catch-up is logged (its
    signal handlers are set by then); SIGTERM at the end, which it must obey within 10 s."""
    cwd = tempfile.mkdtemp(prefix="server-cwd-")
    log = log or Path(cwd) / "background.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", "background"],
                                env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
                                cwd=cwd)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while b"review_catch_up" not in log.read_bytes():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"credit background did not start: {proc.returncode}")
            time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        try:
            assert proc.wait(timeout=10) == 0, f"credit background exited {proc.returncode}"
        finally:
            if proc.poll() is None:
                proc.kill()


@contextmanager
def redis_server(log: Path | None = None) -> Iterator[tuple[str, subprocess.Popen]]:
    """A private redis-server (no persistence) on a free port; yields (url, process)."""
    import redis

    port = free_port()
    with open(log, "ab") if log else open(os.devnull, "wb") as out:
        proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                 "--save", "", "--appendonly", "no"],
                                stdout=out, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
        yield url, proc
    finally:
        proc.kill()
        proc.wait(timeout=10)


@contextmanager
def moto_server() -> Iterator[str]:
    """DynamoDB's API over HTTP from moto's server mode; yields the endpoint URL."""
    with moto_process() as (base, _):
        yield base


@contextmanager
def moto_process() -> Iterator[tuple[str, subprocess.Popen]]:
    """moto's server (one request at a time, as DynamoDB applies each atomically: see
    tests/moto_serial.py) and its process (to freeze it with SIGSTOP)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with process([sys.executable, str(Path(__file__).with_name("moto_serial.py")),
                  "127.0.0.1", str(port)], f"{base}/moto-api/") as proc:
        yield base, proc


def pg_bin() -> Path:
    """Debian's PostgreSQL programs (the newest major installed), or CREDIT_TEST_PG_BIN."""
    if "CREDIT_TEST_PG_BIN" in os.environ:
        return Path(os.environ["CREDIT_TEST_PG_BIN"])
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    if not found:
        raise RuntimeError("PostgreSQL not installed (apt-get install postgresql; .ci/run does)")
    return found[-1].parent


class PostgresServer:
    """A private PostgreSQL cluster in a temporary directory (initdb + pg_ctl, trust
    authentication on 127.0.0.1 only). As root, its programs run as the `postgres` user:
    initdb refuses root. `stop()` and `start()` let a test take the database away."""

    def __init__(self, root: Path, port: int, fsync: bool = False) -> None:
        self.root, self.port, self.fsync = root, port, fsync
        self.data, self.log = root / "data", root / "server.log"

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        cmd = [str(pg_bin() / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=True, capture_output=True, cwd=self.root, timeout=120)

    def url(self, dbname: str = "postgres", user: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{dbname}"

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"port = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.root}'\nmax_connections = 300\n")
            if not self.fsync:  # tests throw the data away; benchmarks keep fsync on
                conf.write("fsync = off\nfull_page_writes = off\n")

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def pids(self) -> list[int]:
        """The postmaster and its children (to freeze the server with SIGSTOP in a test)."""
        main = int((self.data / "postmaster.pid").read_text().split()[0])
        kids = subprocess.run(["ps", "-o", "pid=", "--ppid", str(main)], capture_output=True,
                              text=True).stdout.split()
        return [main, *map(int, kids)]


@contextmanager
def postgres_server(fsync: bool = False) -> Iterator[PostgresServer]:
    """A PostgreSQL 15 server of its own on a free port; yields it, removes it at the end."""
    import shutil

    root = Path(tempfile.mkdtemp(prefix="credit-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    server = PostgresServer(root, free_port(), fsync)
    try:
        server.init()
        server.start()
        yield server
    finally:
        if server.running():
            server.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


SERVICE_ROLE = "credit_service"  # what `credit db upgrade` grants to (the default setting)
SERVICE_LOGIN = "credit_api"     # the API's login role, a member of it


def migrated_database(server: PostgresServer, name: str) -> str:
    """Create `name` at every schema head, migrated as the owner (`credit db upgrade`), and
    the service's login role; returns the service's URL of it."""
    import psycopg

    from app.configs import POSTGRES_SCHEMAS
    from core.schema import upgrade

    with psycopg.connect(server.url(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
        upgrade(server.url(name), POSTGRES_SCHEMAS, SERVICE_ROLE)
        if admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (SERVICE_LOGIN,)
                         ).fetchone() is None:
            admin.execute(f"CREATE ROLE {SERVICE_LOGIN} LOGIN IN ROLE {SERVICE_ROLE}")
    return server.url(name, SERVICE_LOGIN)

"""The servers a benchmark run needs, each a real process on a free port, stopped at exit:
the simulators, the API (uvicorn, N workers, as in production), the peer (`mlflow models
serve` of the same registered version) and, for configurations that ask for them,
redis-server and PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass(frozen=True)
class Prepared:
    data_dir: Path
    mlflow_uri: str
    model_name: str
    version: str
    trained_now: bool
    authorization: str  # "Bearer <key>" of a key with every scope


def prepare_data_dir(data_dir: Path, log=print) -> Prepared:
    """Reuse the data dir's @champion model, or train and register one; add a fresh API key."""
    from app.api_keys import SCOPES, ApiKeyStore
    from app.builder import Builder
    from app.settings import Settings
    from training.train import TrainConfig, train

    settings = Settings(data_dir=data_dir)
    registry = Builder(settings).registry
    version = registry.version_for(settings.model_alias)
    trained_now = version is None
    if trained_now:
        log(f"training a model into {data_dir} (once; --data-dir reuses it next time)")
        version = train(registry, alias=settings.model_alias,
                        config=TrainConfig(trials=2, n_boot=30)).version
    key = ApiKeyStore(settings.api_keys_path).create("benchmark", list(SCOPES))
    return Prepared(data_dir, settings.mlflow_uri, settings.model_name, str(version), trained_now,
                    f"Bearer {key}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server for {url} exited with code {proc.returncode}")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout_s:.0f}s")


@contextmanager
def server(args: list[str], ready_url: str, log: Path, env: dict[str, str] | None = None,
           cwd: Path | None = None) -> Iterator[subprocess.Popen]:
    """A process in its own session (so its workers stop with it), its output in `log`."""
    with open(log, "ab") as out:
        proc = subprocess.Popen(args, env={**os.environ, **(env or {})}, stdout=out,
                                stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True)
        try:
            wait_http(ready_url, proc)
            yield proc
        finally:
            _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # the group of the process we started, no other
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@contextmanager
def simulators(run_dir: Path) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with server([sys.executable, "-m", "app.cli", "simulators", "--port", str(port)],
                f"{base}/healthz", run_dir / "simulators.log", cwd=run_dir):
        yield base


def wait_workers(log: Path, workers: int, proc: subprocess.Popen, timeout_s: float = 120.0,
                 line: str = "Application startup complete", offset: int = 0) -> None:
    """Every worker has run its start-up (model loaded): one `line` per worker in the log,
    counted from byte `offset` (where this start's output begins in a log kept across
    starts). The first worker up answers the readiness probe alone."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if log.read_bytes()[offset:].decode(errors="replace").count(line) >= workers:
            return
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode}; see {log}")
        time.sleep(0.2)
    raise RuntimeError(f"not all {workers} workers started in {timeout_s:.0f}s; see {log}")


@contextmanager
def api(prepared: Prepared, sims: str, workers: int, env: dict[str, str], run_dir: Path,
        name: str) -> Iterator[str]:
    with api_process(prepared, sims, workers, env, run_dir, name) as (base, _):
        yield base


@contextmanager
def api_process(prepared: Prepared, sims: str, workers: int, env: dict[str, str],
                run_dir: Path, name: str, server_name: str = "uvicorn",
                passes: str = "process") -> Iterator[tuple[str, list[int]]]:
    """The API as production runs it (`credit serve`: uvicorn's access log off, the app's
    own JSON access and decision log lines on, at INFO; the background passes in a niced
    process of their own, unless `passes` is "workers"), written to log files; or under
    granian (`server_name`), the same way. Yields its base URL and the pids of the server's
    supervisor (the workers are its children) and of the background process."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = run_dir / f"api-{name}.log"
    log.write_bytes(b"")
    full_env = {"CREDIT_DATA_DIR": str(prepared.data_dir),
                "CREDIT_BUREAU_URL": f"{sims}/bureau",
                "CREDIT_OPEN_BANKING_URL": f"{sims}/open-banking",
                "CREDIT_RATE_LIMIT_PER_CUSTOMER": "100000000/minute",
                "CREDIT_RATE_LIMIT_PER_CLIENT": "100000000/minute",
                "CREDIT_BACKGROUND_PASSES": passes,
                **env}
    common = ["app.main:app_from_env", "--factory", "--host", "127.0.0.1", "--port", str(port),
              "--workers", str(workers), "--no-access-log"]
    if server_name == "granian":
        args = [str(Path(sys.executable).with_name("granian")), "--interface", "asgi", *common]
        ready = "worker_started"  # the app's own line: granian prints none per worker
    else:
        args = [sys.executable, "-m", "uvicorn", *common]
        ready = "Application startup complete"
    with server(args, f"{base}/readyz", log, env=full_env, cwd=run_dir) as proc:
        wait_workers(log, workers, proc, line=ready)
        if passes != "process":
            yield base, [proc.pid]
            return
        with background(full_env, run_dir / f"background-{name}.log", run_dir) as passer:
            yield base, [proc.pid, passer.pid]


@contextmanager
def background(env: dict[str, str], log: Path, cwd: Path) -> Iterator[subprocess.Popen]:
    """`credit background` as `credit serve` starts it (it lowers its own priority)."""
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "app.cli", "background"],
                                env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT,
                                cwd=cwd, start_new_session=True)
    try:
        time.sleep(1.0)  # a build that lacks the command exits at once
        if proc.poll() is not None:
            raise RuntimeError(f"credit background exited with code {proc.returncode}; "
                               f"see {log}")
        yield proc
    finally:
        _stop(proc)


@contextmanager
def peer(prepared: Prepared, workers: int, run_dir: Path,
         omp_threads: int | None = 1) -> Iterator[tuple[str, int]]:
    """`mlflow models serve` of the same registered version, resolved through the registry,
    configured as a competent operator would: OpenMP limited to one thread per worker
    (`omp_threads`; None leaves LightGBM's default, a thread per core in every worker, which
    spin against each other on single-row predictions). Yields its URL and its pid."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    mlflow = Path(sys.executable).with_name("mlflow")
    args = [str(mlflow), "models", "serve", "-m", f"models:/{prepared.model_name}/{prepared.version}",
            "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers)]
    # It runs `uvicorn` by name: this interpreter's scripts must come first on PATH.
    env = {"MLFLOW_TRACKING_URI": prepared.mlflow_uri, "MLFLOW_REGISTRY_URI": prepared.mlflow_uri,
           "PATH": f"{mlflow.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    if omp_threads is not None:
        env["OMP_NUM_THREADS"] = str(omp_threads)
    log = run_dir / "peer.log"  # every round's start, one after the other
    offset = log.stat().st_size if log.exists() else 0
    with server(args, f"{base}/ping", log, env=env, cwd=run_dir) as proc:
        # As for the API: measured only once every worker is up. Until 2026-12-02 the peer
        # was measured from its first /ping, and in one round of each of two runs its second
        # worker came up during the warm-up: 132-136 requests/s at 56% machine load.
        wait_workers(log, workers, proc, offset=offset)
        yield base, proc.pid


@contextmanager
def redis_server(run_dir: Path) -> Iterator[tuple[str, int]]:
    """A private redis-server; yields its URL and pid (its CPU counts as the API's)."""
    from tests.servers import redis_server as start

    with start(run_dir / "redis.log") as (url, proc):
        yield url, proc.pid


@contextmanager
def postgres_server() -> Iterator[tuple[str, int]]:
    """A private PostgreSQL (fsync on, as in production), migrated; yields the service's URL
    and the postmaster's pid (its backends are its children)."""
    from tests.servers import migrated_database
    from tests.servers import postgres_server as start

    with start(fsync=True) as pg:
        url = migrated_database(pg, "credit")
        yield url, int((pg.data / "postmaster.pid").read_text().split()[0])

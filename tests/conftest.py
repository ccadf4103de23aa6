"""Session fixtures: one trained model in a real MLflow registry, real simulator and API
servers. Tests that write state get their own data directory."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import mlflow
import pytest
from mlflow.entities.model_registry import ModelVersion

from app.builder import Builder
from app.settings import Settings
from models.registry import ModelRegistry
from tests import servers
from tests.servers import SERVICE_LOGIN, migrated_database
from training.train import TrainConfig, TrainResult, train

TEST_CONFIG = TrainConfig(trials=2, n_boot=30, explain_rows=300)


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, TrainResult]:
    """The real `credit train` pipeline into a temporary MLflow registry (SQLite + files), with
    a small tuning and bootstrap budget to keep the suite fast."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("registry"))
    return settings, train(Builder(settings).registry, alias="champion", config=TEST_CONFIG)


@pytest.fixture(scope="session")
def simulators_url() -> Iterator[str]:
    with servers.simulators() as base:
        yield base


def fresh_data_dir(trained: tuple[Settings, TrainResult], parent: Path) -> Path:
    """A new data dir holding a copy of the trained registry and an empty audit log."""
    dst = parent / "data"
    shutil.copytree(trained[0].data_dir, dst)
    return dst


@pytest.fixture
def data_dir(trained: tuple[Settings, TrainResult], tmp_path: Path) -> Path:
    return fresh_data_dir(trained, tmp_path)


@contextmanager
def global_tracking_uri(uri: str) -> Iterator[None]:
    """MLflow's process-wide tracking URI set to `uri` for a block, then put back."""
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous)


def register_again(registry: ModelRegistry, source: ModelVersion,
                   gates: str | None = None) -> str:
    """`source`'s model files registered as a new version (cheap; no retraining), tagged
    with its gates' verdict if given. MLflow looks a `models:/m-...` source up through the
    process's global tracking URI (a TODO in its `create_model_version`), which a training
    test in the same worker may have pointed at its own registry: this one for the call."""
    with global_tracking_uri(registry.tracking_uri):
        mv = registry.client.create_model_version(registry.model_name, source.source,
                                                  run_id=source.run_id)
    if gates is not None:
        registry.client.set_model_version_tag(registry.model_name, mv.version, "gates", gates)
    return str(mv.version)


# Functional tests share a busy 2-core machine: the stores' deadlines are raised so that a
# slow fsync does not turn a functional test into a degradation test. The deadlines
# themselves are tested at their production defaults (tests/e2e/test_stalled_stores.py).
GENEROUS_DEADLINES = {"audit_timeout_s": 5.0, "feature_store_timeout_s": 2.0}


def deadline_env(deadlines: dict[str, float]) -> dict[str, str]:
    return {f"CREDIT_{k.upper()}": str(v) for k, v in deadlines.items()}


def api_env(data_dir: Path, simulators_url: str, **extra: str) -> dict[str, str]:
    return {"CREDIT_DATA_DIR": str(data_dir),
            "CREDIT_BUREAU_URL": f"{simulators_url}/bureau",
            "CREDIT_OPEN_BANKING_URL": f"{simulators_url}/open-banking",
            **deadline_env(GENEROUS_DEADLINES), **extra}


@pytest.fixture(scope="module")
def api_dir(trained: tuple[Settings, TrainResult],
            tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fresh_data_dir(trained, tmp_path_factory.mktemp("api"))


def create_key(data_dir: Path, scopes: list[str] | None = None, name: str = "tests") -> str:
    """A real API key in the data dir's key store (all scopes unless given)."""
    from app.api_keys import SCOPES, ApiKeyStore

    return ApiKeyStore(data_dir / "keys" / "api_keys.json").create(name, scopes or list(SCOPES))


def auth(data_dir: Path) -> dict[str, str]:
    """Authorization headers with a new all-scopes key of that data dir."""
    return {"Authorization": f"Bearer {create_key(data_dir)}"}


@pytest.fixture(scope="module")
def api_key(api_dir: Path) -> str:
    return create_key(api_dir)


@pytest.fixture(scope="module")
def api(api_url: str, api_key: str) -> Iterator[httpx.Client]:
    """An HTTP client for the module's API server, authenticated with an all-scopes key."""
    with httpx.Client(base_url=api_url, timeout=10,
                      headers={"Authorization": f"Bearer {api_key}"}) as client:
        yield client


@pytest.fixture(scope="module")
def api_url(api_dir: Path, simulators_url: str) -> Iterator[str]:
    """One API server per test module (tests use distinct application ids). Generous
    enrichment timeouts: on a busy shared box a stalled simulator would otherwise open a
    breaker and degrade functional tests (fault behaviour is tested in test_degradation)."""
    env = api_env(api_dir, simulators_url, CREDIT_ENRICHMENT_TIMEOUT_S="2",
                  CREDIT_ENRICHMENT_DEADLINE_S="3")
    with servers.api(env, log=api_dir / "api.log") as base:
        yield base


@pytest.fixture(scope="session")
def redis_process() -> Iterator[tuple[str, object]]:
    with servers.redis_server() as server:
        yield server


@pytest.fixture
def redis_url(redis_process) -> str:
    """A real redis-server, emptied before each test."""
    import redis

    url, _ = redis_process
    redis.Redis.from_url(url).flushall()
    return url


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with servers.moto_server() as base:
        yield base


@pytest.fixture
def dynamodb_endpoint(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """moto's DynamoDB over HTTP, reset to an empty state before each test (fake credentials:
    moto accepts any)."""
    import httpx

    httpx.post(f"{moto_endpoint}/moto-api/reset", timeout=10).raise_for_status()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    return moto_endpoint


@pytest.fixture(scope="session")
def fault_simulators_url() -> Iterator[str]:
    """Simulators only for fault-injection tests (healed around each test by `faults`), so an
    injected fault never reaches tests that use `simulators_url`."""
    with servers.simulators() as base:
        yield base


@pytest.fixture
def faults(fault_simulators_url: str):
    """Fault control of the private simulators, healed before and after each test."""
    from tests.faults import FaultClient

    client = FaultClient(fault_simulators_url)
    client.reset()
    yield client
    client.reset()


@pytest.fixture(scope="session")
def postgres() -> Iterator[servers.PostgresServer]:
    """A private PostgreSQL server for the session, with `credit_template`: a database at every
    schema head, which each test's database is copied from."""
    with servers.postgres_server() as server:
        migrated_database(server, "credit_template")
        yield server


@dataclass(frozen=True)
class PostgresDB:
    name: str
    url: str        # as the service: a member of the service role
    admin_url: str  # as the owner (superuser here): migrations, tampering


def new_postgres_db(server: servers.PostgresServer, template: str = "credit_template"
                    ) -> PostgresDB:
    import secrets

    import psycopg

    name = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(server.url(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    return PostgresDB(name, server.url(name, SERVICE_LOGIN), server.url(name))


def drop_postgres_db(server: servers.PostgresServer, db: PostgresDB) -> None:
    import psycopg

    with psycopg.connect(server.url(), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE {db.name} WITH (FORCE)")


@pytest.fixture
def postgres_db(postgres: servers.PostgresServer) -> Iterator[PostgresDB]:
    """A fresh database for this test, at every schema head, dropped afterwards."""
    db = new_postgres_db(postgres)
    yield db
    drop_postgres_db(postgres, db)

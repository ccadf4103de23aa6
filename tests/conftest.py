"""Session fixtures: one trained model in a real MLflow registry, real simulator and API
servers. Tests that write state get their own data directory."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.settings import Settings
from tests import servers
from training.train import TrainResult, train


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, TrainResult]:
    """The real `credit train` pipeline into a temporary MLflow registry (SQLite + files)."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("registry"))
    return settings, train(settings)


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


def api_env(data_dir: Path, simulators_url: str, **extra: str) -> dict[str, str]:
    return {"CREDIT_DATA_DIR": str(data_dir),
            "CREDIT_BUREAU_URL": f"{simulators_url}/bureau",
            "CREDIT_OPEN_BANKING_URL": f"{simulators_url}/open-banking", **extra}


@pytest.fixture(scope="module")
def api_dir(trained: tuple[Settings, TrainResult],
            tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fresh_data_dir(trained, tmp_path_factory.mktemp("api"))


@pytest.fixture(scope="module")
def api_url(api_dir: Path, simulators_url: str) -> Iterator[str]:
    """One API server per test module (tests use distinct application ids)."""
    with servers.api(api_env(api_dir, simulators_url), log=api_dir / "api.log") as base:
        yield base

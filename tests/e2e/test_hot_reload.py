"""Promote and roll back while a real API process serves requests: no failed request, the
recorded model version follows the champion alias, old decisions replay on their version."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest

from app.builder import Builder
from app.settings import Settings
from app.simulators.server import application_for_row
from models.features import FEATURE_NAMES
from models.registry import ModelRegistry
from models.scorer import Scorer
from tests import servers
from tests.conftest import api_env, auth
from training.data import load_credit_data
from training.train import TrainConfig, train

pytestmark = pytest.mark.slow


class Load:
    """Four client threads posting fresh applications until stopped; every response kept."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.url, self.headers, self.df = url, headers, load_credit_data()
        self.results: list[tuple[float, int, dict]] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.counter = 0

    def worker(self) -> None:
        # Generous timeout: the 2 shared cores can be saturated by other jobs.
        with httpx.Client(base_url=self.url, timeout=30, headers=self.headers) as client:
            while not self.stop.is_set():
                with self.lock:
                    self.counter += 1
                    n = self.counter
                row = 1 + (n * 37) % len(self.df)
                body = application_for_row(row, self.df, application_id=f"RELOAD-{n}")
                try:
                    r = client.post("/v1/decisions", json=body)
                    item = (time.monotonic(), r.status_code, r.json() if r.status_code == 200 else {})
                except httpx.HTTPError as exc:
                    item = (time.monotonic(), 0, {"error": repr(exc)})
                with self.lock:
                    self.results.append(item)

    def versions_since(self, t: float) -> set[str]:
        with self.lock:
            return {d.get("model_version") for ts, _, d in self.results if ts > t}


def wait_for_version(load: Load, version: str, timeout_s: float = 60) -> float:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        t = time.monotonic()
        time.sleep(0.5)
        if load.versions_since(t) == {version}:
            return t
    raise AssertionError(f"API did not switch to version {version}; saw {load.versions_since(0)}")


def replay(reg: ModelRegistry, record: dict) -> float:
    features = record["personal_data"]["inputs"]["features"]
    x = np.array([[np.nan if features[n] is None else features[n]
                   for n in FEATURE_NAMES]])
    return Scorer(reg.load(record["model"]["version"])).score(x).probability


def test_promote_and_rollback_under_load(data_dir, simulators_url):
    settings = Settings(data_dir=data_dir)
    reg = ModelRegistry(settings.mlflow_uri, settings.model_name, settings.mlflow_artifacts_dir)
    v1 = reg.version_for("champion")
    # A genuinely different second model (small budget), registered as @challenger.
    v2 = train(Builder(settings).registry,
               config=TrainConfig(trials=1, cv_folds=0, n_boot=10, explain_rows=100,
                                  max_rounds=80, seed=11)).version
    assert reg.version_for("challenger") == v2 != v1

    env = api_env(data_dir, simulators_url, CREDIT_MODEL_POLL_S="0.3")
    headers = auth(data_dir)
    with servers.api(env, log=data_dir / "api.log") as url:
        load = Load(url, headers)
        with ThreadPoolExecutor(4) as pool:
            for _ in range(4):
                pool.submit(load.worker)
            try:
                time.sleep(1.0)
                reg.promote(v2, who="e2e", reason="hot reload test", force=True)
                wait_for_version(load, v2)
                reg.rollback(who="e2e", reason="hot reload test")
                wait_for_version(load, v1)
            finally:
                load.stop.set()
        failures = [(s, d) for _, s, d in load.results if s != 200]
        assert failures == [], failures[:3]
        assert len(load.results) > 20
        seq = [d["model_version"] for _, _, d in sorted(load.results, key=lambda r: r[0])]
        # Served versions switch v1 -> v2 -> v1 (a few in-flight answers may straddle a swap).
        changes = [seq[0]] + [b for a, b in zip(seq, seq[1:]) if a != b]
        assert changes[0] == v1 and changes[-1] == v1 and v2 in changes
        assert len(changes) <= 7
        print(f"hot reload: {len(load.results)} requests, {len(failures)} failed, "
              f"served versions in order {changes}")

        # Each audited decision names its version and replays on it exactly.
        with httpx.Client(base_url=url, timeout=10, headers=headers) as client:
            picked = {}
            for _, _, d in load.results:
                picked.setdefault(d["model_version"], d)
            for version, d in picked.items():
                record = client.get(f"/v1/decisions/{d['decision_id']}").json()
                assert record["model"]["version"] == version
                assert replay(reg, record) == d["probability_of_default"]
            ready = client.get("/readyz").json()
            assert ready["checks"]["model"] == f"version {v1}"

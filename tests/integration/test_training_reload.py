"""models.reloader against a real registry: follow the alias, swap atomically, pin per use."""

import time

import numpy as np
import pytest

from app.settings import Settings
from models.registry import ModelRegistry
from models.reloader import ModelReloader, ScorerHolder
from models.scorer import Scorer
from tests.conftest import register_again


@pytest.fixture
def reg(data_dir):
    s = Settings(data_dir=data_dir)
    return ModelRegistry(s.mlflow_uri, s.model_name, s.mlflow_artifacts_dir)


def second_version(reg, v1):
    src = reg.client.get_model_version(reg.model_name, v1)
    return register_again(reg, src, gates="passed")


def test_check_once_swaps_only_on_a_change_and_pinned_scorers_stay(reg, trained):
    v1 = trained[1].version
    holder = ScorerHolder(Scorer(reg.load_alias("champion")))
    reloader = ModelReloader(reg, "champion", holder, interval_s=0)
    assert reloader.check_once() is False
    pinned = holder.current
    v2 = second_version(reg, v1)
    reg.promote(v2, who="test", reason="reload")
    assert reloader.check_once() is True
    assert holder.version == v2 and pinned.version == v1  # a decision in flight keeps its scorer
    x = np.zeros((1, len(pinned.feature_names)))
    assert pinned.score(x).probability == holder.current.score(x).probability  # same files


def test_background_thread_follows_promotion_and_rollback(reg, trained):
    v1 = trained[1].version
    holder = ScorerHolder(Scorer(reg.load_alias("champion")))
    swaps = []
    reloader = ModelReloader(reg, "champion", holder, interval_s=0.05,
                             on_swap=lambda a, b: swaps.append((a, b)))
    reloader.start()
    try:
        v2 = second_version(reg, v1)
        reg.promote(v2, who="test", reason="reload")
        wait(lambda: holder.version == v2)
        reg.rollback(who="test", reason="reload")
        wait(lambda: holder.version == v1)
    finally:
        reloader.stop()
    assert swaps == [(v1, v2), (v2, v1)]


def test_zero_interval_disables_polling(reg):
    holder = ScorerHolder(Scorer(reg.load_alias("champion")))
    reloader = ModelReloader(reg, "champion", holder, interval_s=0)
    reloader.start()
    assert reloader._thread is None


def wait(cond, timeout_s=15):
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)

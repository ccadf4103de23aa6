"""`credit features export-sample` and `materialize` through the real command line."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from app.cli import cli
from feature_store.materialize import CUSTOMER_SET
from feature_store.sqlite import SQLiteConfig, SQLiteFeatureStore


def test_export_then_materialize_into_the_embedded_store(tmp_path, monkeypatch):
    """The two commands fill the default store; a second run resumes with nothing to do."""
    monkeypatch.setenv("CREDIT_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    sample = tmp_path / "s.parquet"
    assert runner.invoke(cli, ["features", "export-sample", str(sample)]).exit_code == 0
    first = runner.invoke(cli, ["features", "materialize", str(sample), "--batch-size", "700"])
    assert first.exit_code == 0, first.output
    assert "4454 rows written" in first.output
    again = runner.invoke(cli, ["features", "materialize", str(sample)])
    assert "0 rows written" in again.output and "resumed after row 4454" in again.output
    store = SQLiteFeatureStore(SQLiteConfig(path=tmp_path / "data" / "features.db"))
    assert store.get(CUSTOMER_SET, "C-4454") is not None
    store.close()


def test_materialize_refuses_a_missing_file(tmp_path, monkeypatch):
    """A missing file is a clear usage error, not a traceback."""
    monkeypatch.setenv("CREDIT_DATA_DIR", str(tmp_path / "data"))
    res = CliRunner().invoke(cli, ["features", "materialize", str(tmp_path / "nope.csv")])
    # Rich boxes the message at 80 columns, so a long temporary path wraps it across lines.
    text = " ".join(re.sub(r"[│╭╮╰╯─]", " ", res.output).split())
    assert res.exit_code == 2 and "does not exist" in text, res.output


def test_move_counters_on_the_embedded_store_says_there_is_nothing_to_move(tmp_path,
                                                                           monkeypatch):
    monkeypatch.setenv("CREDIT_DATA_DIR", str(tmp_path / "data"))
    res = CliRunner().invoke(cli, ["features", "move-counters"])
    assert res.exit_code == 0 and "nothing to move: the feature store is sqlite" in res.output


def test_move_counters_moves_a_redis_stores_old_counters(tmp_path, monkeypatch, redis_url):
    import redis

    monkeypatch.setenv("CREDIT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CREDIT_FEATURE_STORE", "redis")
    monkeypatch.setenv("CREDIT_REDIS_URL", redis_url)
    redis.Redis.from_url(redis_url).set("fs:application_velocity:v2:n:c:ab|1h|100", 3)
    res = CliRunner().invoke(cli, ["features", "move-counters"])
    assert res.exit_code == 0 and "moved 1 counters" in res.output, res.output

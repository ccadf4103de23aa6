"""Materialization: all rows land, reruns are idempotent, an interruption resumes."""

from __future__ import annotations

import numpy as np
import pytest

from feature_store.materialize import CUSTOMER_SET, export_sample, materialize
from feature_store.sqlite import SQLiteConfig, SQLiteFeatureStore
from models.features import FEATURE_NAMES, feature_matrix
from training.data import load_credit_data, raw_columns


class FailingAfter:
    """A FeatureStore (our Protocol) over a real one that dies after n batches."""

    def __init__(self, inner, n: int) -> None:
        self.inner, self.left = inner, n

    def put_many(self, fs, rows, ttl_s=None):
        if self.left == 0:
            raise ConnectionError("store went away")
        self.left -= 1
        self.inner.put_many(fs, rows, ttl_s)


@pytest.fixture
def store(tmp_path):
    s = SQLiteFeatureStore(SQLiteConfig(path=tmp_path / "f.db"))
    yield s
    s.close()


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_every_customer_lands_with_its_offline_features(store, tmp_path, suffix):
    """Each credit_data row is stored under C-<row> with exactly its offline feature vector."""
    path = tmp_path / f"sample{suffix}"
    assert export_sample(path) == 4454
    res = materialize(store, path, tmp_path / "cp.json", batch_size=1000)
    assert (res.rows_total, res.rows_written, res.resumed_from) == (4454, 4454, 0)
    df = load_credit_data()
    x = feature_matrix(raw_columns(df))
    got = store.get_many(CUSTOMER_SET, [f"C-{r}" for r in df.index])
    assert len(got) == 4454
    stored = np.array([[np.nan if got[f"C-{r}"][n] is None else got[f"C-{r}"][n]
                        for n in FEATURE_NAMES] for r in df.index])
    np.testing.assert_array_equal(stored, x)


def test_interrupted_run_resumes_from_its_checkpoint(store, tmp_path):
    """After a crash in batch 3, the rerun writes only the rest and the result is complete."""
    path = tmp_path / "sample.parquet"
    export_sample(path)
    cp = tmp_path / "cp.json"
    with pytest.raises(ConnectionError):
        materialize(FailingAfter(store, 2), path, cp, batch_size=1000)
    res = materialize(store, path, cp, batch_size=1000)
    assert res.resumed_from == 2000 and res.rows_written == 2454
    assert len(store.get_many(CUSTOMER_SET, [f"C-{r}" for r in range(1, 4455)])) == 4454


def test_finished_run_is_a_no_op_and_a_changed_file_starts_over(store, tmp_path):
    """A rerun of a finished file writes nothing; another file ignores the old checkpoint."""
    path = tmp_path / "sample.parquet"
    export_sample(path)
    cp = tmp_path / "cp.json"
    materialize(store, path, cp)
    assert materialize(store, path, cp).rows_written == 0
    other = tmp_path / "sample.csv"
    export_sample(other)
    assert materialize(store, other, cp).rows_written == 4454

"""Materialization: load precomputed customer features (Parquet or CSV) into a feature store in
batches. Idempotent (every write is an upsert keyed by entity) and resumable: after each batch a
checkpoint records how many rows of which file are in the store, so a rerun after an
interruption continues from there (at-least-once for the last batch, harmless for upserts).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pyarrow.parquet as pq

from feature_store.protocol import FeatureSet, FeatureStore
from models.features import FEATURE_NAMES, FEATURE_SET_VERSION, feature_matrix

CUSTOMER_SET = FeatureSet("customer_features", FEATURE_SET_VERSION)
ENTITY_COLUMN = "customer_id"


def export_sample(path: Path) -> int:
    """credit_data's offline feature vectors, one row per customer C-<row>; returns row count."""
    from models.dataset import load_credit_data, raw_columns

    df = load_credit_data()
    out = pd.DataFrame(feature_matrix(raw_columns(df)), columns=list(FEATURE_NAMES))
    out.insert(0, ENTITY_COLUMN, [f"C-{r}" for r in df.index])
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        out.to_parquet(path, index=False)
    elif path.suffix == ".csv":
        out.to_csv(path, index=False)
    else:
        raise ValueError("the file must end in .parquet or .csv")
    return len(out)


def row_count(path: Path) -> int:
    if path.suffix == ".parquet":
        return pq.ParquetFile(path).metadata.num_rows
    with path.open("rb") as f:
        return max(0, sum(1 for _ in f) - 1)


def read_batches(path: Path, batch_size: int) -> Iterator[list[dict[str, Any]]]:
    if path.suffix == ".parquet":
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size):
            yield batch.to_pylist()
    elif path.suffix == ".csv":
        for chunk in pd.read_csv(path, chunksize=batch_size, dtype={ENTITY_COLUMN: str}):
            # NaN stays NaN here: every backend stores values as JSON, where NaN becomes null.
            yield chunk.to_dict("records")
    else:
        raise ValueError("the file must end in .parquet or .csv")


def file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


@dataclass
class Checkpoint:
    path: Path
    source_sha256: str
    feature_set: str
    rows_done: int = 0

    @classmethod
    def load(cls, path: Path, source_sha256: str, fs: FeatureSet) -> Checkpoint:
        """The saved checkpoint if it is for this file and feature set, else a fresh one."""
        if path.exists():
            saved = orjson.loads(path.read_bytes())
            if saved.get("source_sha256") == source_sha256 and saved.get("feature_set") == fs.key:
                return cls(path, source_sha256, fs.key, int(saved["rows_done"]))
        return cls(path, source_sha256, fs.key)

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps({"source_sha256": self.source_sha256,
                                      "feature_set": self.feature_set,
                                      "rows_done": self.rows_done}))
        tmp.replace(self.path)  # atomic: a crash leaves the old or the new checkpoint


@dataclass(frozen=True)
class Result:
    rows_total: int
    rows_written: int
    resumed_from: int


def materialize(store: FeatureStore, path: Path, checkpoint_path: Path, *,
                fs: FeatureSet = CUSTOMER_SET, batch_size: int = 1000,
                entity_column: str = ENTITY_COLUMN,
                on_batch: Callable[[int], None] | None = None) -> Result:
    total = row_count(path)
    checkpoint_path.parent.mkdir(parents=True, exist_ok=True)
    cp = Checkpoint.load(checkpoint_path, file_sha256(path), fs)
    start = cp.rows_done
    if on_batch and start:
        on_batch(start)
    seen = 0
    for batch in read_batches(path, batch_size):
        end = seen + len(batch)
        if end > cp.rows_done:
            todo = batch[max(0, cp.rows_done - seen):]
            store.put_many(fs, {str(r.pop(entity_column)): r for r in todo})
            cp.rows_done = end
            cp.save()
            if on_batch:
                on_batch(len(todo))
        seen = end
    return Result(total, cp.rows_done - start, start)

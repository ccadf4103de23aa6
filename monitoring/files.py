"""Outcome files (CSV, Parquet or JSON Lines, with the API's fields as columns), ingested
in batches and resumable: after each batch a checkpoint (named by the file's SHA-256)
records how many rows are done, so a rerun after an interruption goes on from there. A
batch sent twice is harmless: its outcomes are duplicates the second time.

Whole-file problems (unknown type, missing or unknown columns) refuse the file before
anything is ingested; a bad row is refused on its own, by its 1-based row number.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import orjson

from monitoring.ingest import OutcomeIngestor, Rejection

FIELDS = ("decision_id", "defaulted", "observed_at", "loan_taken", "months_on_book")
REQUIRED = ("decision_id", "defaulted", "observed_at")
SUFFIXES = (".csv", ".parquet", ".jsonl")


class BadOutcomeFile(ValueError):
    """The file cannot be ingested at all."""


def _kind(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise BadOutcomeFile(f"unsupported file type {suffix!r}: use {', '.join(SUFFIXES)}")
    return suffix


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    """Empty cells and nulls are absent fields; timestamps are their day."""
    out = {}
    for k, v in row.items():
        if v is None or v == "" or (isinstance(v, float) and v != v):
            continue
        out[k] = v.date().isoformat() if isinstance(v, datetime) else \
            v.isoformat() if isinstance(v, date) else v
    return out


def _columns(path: Path, kind: str) -> list[str]:
    if kind == ".csv":
        import pandas as pd

        return list(pd.read_csv(path, nrows=0).columns)
    if kind == ".parquet":
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(path).schema_arrow.names)
    return []  # JSON Lines: each row names its own fields


def check_columns(path: Path) -> None:
    columns = _columns(path, _kind(path))
    if not columns:
        return
    missing = [c for c in REQUIRED if c not in columns]
    unknown = [c for c in columns if c not in FIELDS]
    if missing or unknown:
        raise BadOutcomeFile("; ".join(
            part for part in (f"missing columns: {', '.join(missing)}" if missing else "",
                              f"unknown columns: {', '.join(unknown)}" if unknown else "")
            if part) + f" (expected {', '.join(FIELDS)})")


def read_rows(path: Path, batch_size: int) -> Iterator[list[Any]]:
    """The file's rows in batches: dicts of present fields (a JSON Lines row that is not
    JSON stays a string, refused as a row)."""
    kind = _kind(path)
    if kind == ".csv":
        import pandas as pd

        for chunk in pd.read_csv(path, chunksize=batch_size, dtype=str, keep_default_na=False):
            yield [_clean(r) for r in chunk.to_dict("records")]
    elif kind == ".parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size):
            yield [_clean(r) for r in batch.to_pylist()]
    else:
        rows: list[Any] = []
        with path.open("rb") as f:
            for line in f:
                if not line.strip():
                    continue
                try:
                    value = orjson.loads(line)
                except orjson.JSONDecodeError:
                    value = "not JSON"
                rows.append(_clean(value) if isinstance(value, dict) else value)
                if len(rows) == batch_size:
                    yield rows
                    rows = []
        if rows:
            yield rows


def row_count(path: Path) -> int:
    kind = _kind(path)
    if kind == ".parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    return sum(len(b) for b in read_rows(path, 10_000))


def file_sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


@dataclass
class FileResult:
    rows: int = 0             # rows in the file
    resumed_from: int = 0     # rows done by an earlier, interrupted run
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    batches: list[str] = field(default_factory=list)  # batch ids, in order


def _load_checkpoint(path: Path, sha: str) -> int:
    if path.exists():
        saved = orjson.loads(path.read_bytes())
        if saved.get("source_sha256") == sha:
            return int(saved["rows_done"])
    return 0


def _save_checkpoint(path: Path, sha: str, rows_done: int) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps({"source_sha256": sha, "rows_done": rows_done}))
    tmp.replace(path)  # atomic: a crash leaves the old or the new checkpoint


def checkpoint_path(directory: Path, sha: str) -> Path:
    return directory / f"outcomes-{sha[:16]}.json"


def ingest_file(ingestor: OutcomeIngestor, path: Path, checkpoints: Path, *, actor: str,
                batch_size: int = 1000, restart: bool = False,
                on_batch: Callable[[int], None] | None = None) -> FileResult:
    """Ingest `path` batch by batch, resuming after the rows its checkpoint says are done
    (all of them: nothing to do; `restart`: from the first row again)."""
    check_columns(path)
    sha = file_sha256(path)
    checkpoints.mkdir(parents=True, exist_ok=True)
    cp = checkpoint_path(checkpoints, sha)
    done = 0 if restart else _load_checkpoint(cp, sha)
    result = FileResult(resumed_from=done)
    if on_batch and done:
        on_batch(done)
    seen = 0  # rows read so far
    for rows in read_rows(path, batch_size):
        skip = min(len(rows), max(0, done - seen))  # rows of this batch done before
        first, seen = seen + skip + 1, seen + len(rows)
        todo = rows[skip:]
        if not todo:
            continue
        out = ingestor.ingest(todo, source="file", actor=actor, strict=False,
                              source_name=path.name, source_sha256=sha, rows=(first, seen),
                              first_index=first)
        result.accepted += out.accepted
        result.duplicates += out.duplicates
        result.rejected += out.rejected
        result.batches.append(out.batch_id)
        _save_checkpoint(cp, sha, seen)
        if on_batch:
            on_batch(len(todo))
    result.rows = seen
    return result

"""Outcome files: CSV, Parquet and JSON Lines; bad rows apart; resumable."""

from __future__ import annotations

import pandas as pd
import pytest

from monitoring.files import BadOutcomeFile, checkpoint_path, file_sha256, ingest_file


def frame(ingestor, n_bad=0):
    today = ingestor._today().isoformat()
    rows = [{"decision_id": f"D{i}", "defaulted": i == 2, "observed_at": today,
             "loan_taken": True, "months_on_book": 3} for i in (1, 2, 3)]
    rows += [{"decision_id": "unknown", "defaulted": True, "observed_at": today,
              "loan_taken": None, "months_on_book": None}] * n_bad
    return pd.DataFrame(rows)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_each_format_is_read_with_the_same_result(ingestor, tmp_path, suffix):
    """The same rows in any format: the same outcomes, a bad row refused by row number."""
    df = frame(ingestor, n_bad=1)
    path = tmp_path / f"outcomes{suffix}"
    if suffix == ".csv":
        df.to_csv(path, index=False)
    elif suffix == ".parquet":
        df.to_parquet(path, index=False)
    else:
        df.to_json(path, orient="records", lines=True)
    result = ingest_file(ingestor, path, tmp_path / "cp", actor="t", batch_size=2)
    assert (result.rows, result.accepted, result.duplicates) == (4, 3, 0)
    assert [(r.index, r.error.split(":")[0]) for r in result.rejected] == [(4, "decision_id")]
    assert len(result.batches) == 2
    assert ingestor.store.history("D2")[0].observation.defaulted is True


def test_whole_file_problems_refuse_the_file(ingestor, tmp_path):
    """Missing or unknown columns, or an unknown type: nothing ingested, a clear message."""
    path = tmp_path / "o.csv"
    frame(ingestor).drop(columns=["defaulted"]).assign(name="x").to_csv(path, index=False)
    with pytest.raises(BadOutcomeFile, match="missing columns: defaulted; unknown columns: name"):
        ingest_file(ingestor, path, tmp_path / "cp", actor="t")
    with pytest.raises(BadOutcomeFile, match="unsupported"):
        ingest_file(ingestor, tmp_path / "o.xlsx", tmp_path / "cp", actor="t")
    assert ingestor.store.batches() == []


def test_jsonl_lines_that_are_not_json_are_rejected_rows(ingestor, tmp_path):
    """A line that is not a JSON object is refused as a row; the good line is kept."""
    path = tmp_path / "o.jsonl"
    good = frame(ingestor).iloc[:1].to_json(orient="records", lines=True)
    path.write_text(good + "{not json\n[1, 2]\n")
    result = ingest_file(ingestor, path, tmp_path / "cp", actor="t")
    assert result.accepted == 1 and [r.index for r in result.rejected] == [2, 3]


def test_an_interrupted_run_resumes_after_its_checkpoint(ingestor, tmp_path):
    """A crash after the first batch: the rerun (even with another batch size) sends only
    the rest; a finished file has nothing left to do; --restart sends all again, as
    duplicates."""
    path = tmp_path / "o.csv"
    frame(ingestor).to_csv(path, index=False)

    def crash(n):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest_file(ingestor, path, tmp_path / "cp", actor="t", batch_size=2, on_batch=crash)
    assert checkpoint_path(tmp_path / "cp", file_sha256(path)).exists()
    rest = ingest_file(ingestor, path, tmp_path / "cp", actor="t", batch_size=3)
    assert (rest.resumed_from, rest.accepted, len(rest.batches)) == (2, 1, 1)
    assert ingestor.store.history("D3")[0].batch_id == rest.batches[0]
    done = ingest_file(ingestor, path, tmp_path / "cp", actor="t", batch_size=2)
    assert (done.resumed_from, done.accepted, done.batches) == (3, 0, [])
    again = ingest_file(ingestor, path, tmp_path / "cp", actor="t", batch_size=2, restart=True)
    assert (again.accepted, again.duplicates) == (0, 3)

"""The review benchmark runs on today's record format (it once broke silently when records
started sealing their inputs): a small run, its figures consistent with what it built."""

from benchmarks.review import bench, outcome_of


def test_a_small_review_benchmark_runs(tmp_path):
    out = bench(records=300, decisions=5, workdir=tmp_path)
    refers_and_declines = sum(outcome_of(i) in ("refer", "decline") for i in range(300))
    assert out["catch_up_from_empty"]["entries"] == 300
    assert out["catch_up_from_empty"]["cases_and_notices"] == refers_and_declines
    assert out["catch_up_nothing_new"]["entries"] == 0
    assert out["reviewer_decision_ms"]["n"] == 5

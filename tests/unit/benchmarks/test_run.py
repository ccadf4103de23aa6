"""The order of the targets in each round of the benchmark."""

from benchmarks.run import in_turn


def test_every_target_leads_one_round_and_follows_each_other_in_turn():
    targets = ["peer", "embedded", "redis"]
    orders = [in_turn(targets, n) for n in (1, 2, 3, 4)]
    assert orders[0] == targets  # round 1: as given
    assert [o[0] for o in orders[:3]] == targets  # each leads once in three rounds
    assert orders[3] == orders[0]
    assert all(sorted(o) == sorted(targets) for o in orders)  # none dropped or repeated
    assert in_turn([], 2) == []

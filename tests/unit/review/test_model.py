"""A case's rules: one reviewer, or two concurring ones above the four-eyes amount; due times
and four-eyes amounts per country."""

import pytest

from review.errors import CaseConflict, ReviewerExcluded, SameReviewer
from review.model import Case, ReviewRules, Vote
from review.projection import final_outcome


def case(four_eyes=False, excluded=()):
    return Case(review_id="ref-D1", decision_id="D1", kind="referral", country="ES",
                opened_at="2026-11-20T10:00:00.000000+00:00",
                due_at="2026-11-21T10:00:00.000000+00:00", automated_outcome="refer",
                four_eyes=four_eyes, excluded=excluded)


def vote(actor, outcome="approve", n=1):
    return Vote(f"a{n}", actor, outcome, "VERIFIED_INCOME", f"2026-11-20T1{n}:00:00.000000+00:00")


def test_one_reviewer_decides_below_the_amount():
    """Without four eyes the first vote decides, at the next version."""
    c = case().with_vote(vote("k1", "decline"))
    assert (c.status, c.outcome, c.version, c.decided_at) == (
        "decided", "decline", 1, "2026-11-20T11:00:00.000000+00:00")


def test_four_eyes_needs_two_different_keys_agreeing():
    """The first vote waits for a second; the same key again is refused; a second key
    agreeing decides; a split waits for a third reviewer."""
    first = case(four_eyes=True).with_vote(vote("k1"))
    assert first.status == "open" and first.awaiting_second and first.version == 1
    with pytest.raises(SameReviewer, match="four eyes"):
        first.with_vote(vote("k1", n=2))
    done = first.with_vote(vote("k2", n=2))
    assert (done.outcome, done.version, [v.actor for v in done.votes]) == ("approve", 2,
                                                                            ["k1", "k2"])
    split = first.with_vote(vote("k2", "decline", n=2))
    assert split.status == "open"
    assert split.with_vote(vote("k3", "decline", n=3)).outcome == "decline"


def test_decided_case_takes_no_vote_and_excluded_reviewer_is_refused():
    """No vote after the outcome; a contest's excluded reviewer may not vote."""
    with pytest.raises(CaseConflict, match="already decided"):
        case().with_vote(vote("k1")).with_vote(vote("k2", n=2))
    with pytest.raises(ReviewerExcluded):
        case(excluded=("k1",)).with_vote(vote("k1"))


def test_case_round_trips_through_json():
    c = case(four_eyes=True, excluded=("k9",)).with_vote(vote("k1"))
    assert Case.from_json(c.to_json()) == c


def test_rules_per_country_with_a_default():
    """SLA and four-eyes amount per country, the default elsewhere; unknown amount: four eyes."""
    r = ReviewRules(sla_hours={"default": 24, "PT": 8},
                    second_approver_above={"default": 10_000, "PT": 5_000}, notice_days=30)
    assert r.due("2026-11-20T10:00:00+00:00", "PT") == "2026-11-20T18:00:00.000000+00:00"
    assert r.due("2026-11-20T10:00:00+00:00", "ES") == "2026-11-21T10:00:00.000000+00:00"
    assert not r.needs_four_eyes(10_000, "ES") and r.needs_four_eyes(10_000.01, "ES")
    assert r.needs_four_eyes(6_000, "PT") and r.needs_four_eyes(None, "ES")
    assert r.notice_due("2026-11-20T10:00:00+00:00") == "2026-12-20T10:00:00.000000+00:00"


def test_final_outcome_is_the_last_decided_case_else_the_automated_one():
    referral = case().with_vote(vote("k1", "decline"))
    contest = Case(**{**referral.__dict__, "review_id": "con-1", "kind": "contest",
                      "votes": (), "version": 0, "outcome": None, "decided_at": None})
    assert final_outcome("refer", []) is None
    assert final_outcome("approve", []) == "approve"
    assert final_outcome("refer", [referral, contest]) == "decline"
    upheld = contest.with_vote(vote("k2", "approve", n=5))
    assert final_outcome("refer", [referral, upheld]) == "approve"

"""The review store port: cases, the human actions of each decision, adverse-action notices
and the projector's checkpoints. Backends, one per file: sqlite (embedded); the PostgreSQL
backend plugs in the same way. Every backend passes tests/contract/test_review_store.py.

A backend keeps documents and enforces three things, nothing more: a case's version moves by
compare-and-set, one case per decision and kind, at most one open case per decision. Its own
errors (unreachable, timed out, full) surface as review.errors.ReviewStoreUnavailable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from review.model import Action, Case, CaseQuery, Notice


class ReviewStore(Protocol):
    def open_case(self, case: Case, action: Action | None = None) -> bool:
        """Insert a new case (and the action that opened it, if any). False when this review
        id exists already (a replay of the same event); CaseConflict when the decision
        already has a case of this kind or an open case."""

    def open_referrals(self, cases: Sequence[Case], notices: Sequence[Notice]) -> int:
        """The live projection of a burst of automated decisions, in one transaction: each
        referral case and decline notice inserted if absent. A case that would break one of
        the three rules is left out, as a replayed one is (the catch-up meets it again and
        says why). Returns how many of them were new."""

    def save_case(self, case: Case, expected_version: int, action: Action) -> bool:
        """Store `case` if the stored one is still at `expected_version`, with the action
        that moved it; CaseConflict otherwise. False (and no change) when this action was
        applied already."""

    def get_case(self, review_id: str) -> Case | None: ...

    def cases_present(self, review_ids: Sequence[str]) -> set[str]:
        """Which of these review ids have a case: one read for a batch (the catch-up)."""

    def cases_for(self, decision_id: str) -> list[Case]:
        """The decision's cases, oldest first."""

    def list_cases(self, query: CaseQuery) -> list[Case]:
        """Cases by rank (contests first), then opened_at, then review id."""

    def add_action(self, action: Action) -> bool:
        """Record an action that changes no case (a notice sent); False if recorded already."""

    def has_action(self, action_id: str) -> bool: ...

    def actions_for(self, decision_id: str) -> list[Action]:
        """The decision's human actions, in the order they happened."""

    def action_counts(self) -> list[tuple[str, str, str, int]]:
        """(actor, country, action type, count) over every action."""

    def queue_stats(self, at: str) -> list[tuple[str, str, int, str, int]]:
        """(country, kind, open cases, oldest opened_at, open cases due before `at`) per
        country and kind with open cases: aggregated by the store, since the metrics ask on
        every scrape and the queue may hold many thousands of cases."""

    def put_notice(self, notice: Notice) -> bool:
        """Insert if the decision has no notice yet; False if it has one."""

    def set_notice(self, notice: Notice) -> None:
        """Replace the decision's notice."""

    def get_notice(self, decision_id: str) -> Notice | None: ...

    def notices_present(self, decision_ids: Sequence[str]) -> set[str]:
        """Which of these decisions have a notice: one read for a batch (the catch-up)."""

    def notices(self, status: str, country: str | None = None,
                limit: int = 1000) -> list[Notice]:
        """Notices in that status, earliest due first."""

    def checkpoints(self) -> dict[str, int]:
        """chain id -> the last seq of that audit chain the projector has applied."""

    def advance(self, positions: dict[str, int]) -> None:
        """Move checkpoints forward (never back)."""

    def ping(self) -> None: ...

    def close(self) -> None: ...

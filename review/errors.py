"""Errors of the review desk (app/errors.py maps each to an HTTP status).

    ReviewError
    ├── ReviewNotFound        no such case or decision
    ├── InvalidReview         a reason code unknown for the outcome, an empty reason, ...
    ├── ReviewerExcluded      this key decided the decision before (a contest's reviewer)
    ├── ReviewRefused         the action does not apply to this decision in its state
    ├── SameReviewer          four eyes: this key already decided this case
    ├── CaseConflict          the case changed meanwhile (another action won)
    └── ReviewStoreUnavailable
"""

from __future__ import annotations


class ReviewError(Exception):
    pass


class ReviewNotFound(ReviewError):
    pass


class InvalidReview(ReviewError):
    pass


class ReviewerExcluded(ReviewError):
    pass


class ReviewRefused(ReviewError):
    pass


class SameReviewer(ReviewError):
    pass


class CaseConflict(ReviewError):
    pass


class ReviewStoreUnavailable(ReviewError):
    pass

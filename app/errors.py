"""HTTP errors: the shell's own, and the one table that maps every package's errors to a
status and a code. Domain packages raise plain exceptions of their own; only this table
knows HTTP. One handler (app/main.py) answers them all in the same shape:
{"error": code, "message": ...}.

    status  code                      raised by
    400     bad_request               BadRequest (shell), feature_flags InvalidFlag
    401     unauthorized              Unauthorized (shell)
    403     forbidden                 Forbidden (shell)
    403     reviewer_excluded         review ReviewerExcluded (a contest's original reviewer)
    404     not_found                 NotFound (shell), review ReviewNotFound, strategy
                                      PolicyNotFound, ModelVersionNotFound
    409     idempotency_conflict      decision IdempotencyConflict
    409     flag_conflict             feature_flags VersionConflict
    409     promotion_refused         models PromotionRefused
    409     same_reviewer             review SameReviewer (four eyes: one key decided already)
    409     case_conflict             review CaseConflict (another action took the case)
    409     review_refused            review ReviewRefused (not possible in this state)
    409     same_approver             strategy SameApprover (four eyes: proposer != approver)
    409     policy_conflict           strategy PolicyConflict (version exists, not a
                                      proposal, the live version changed meanwhile)
    422     invalid_review            review InvalidReview (reason code, note, statement)
    422     invalid_policy            strategy InvalidPolicyChange (document, reason)
    429     rate_limited              decision RateLimited
    503     audit_unavailable         audit AuditUnavailable (no durable record: no decision)
    503     model_unavailable         models ModelUnavailable
    503     flag_store_unavailable    feature_flags FlagStoreUnavailable
    503     review_store_unavailable  review ReviewStoreUnavailable
    503     outcome_store_unavailable monitoring OutcomeStoreUnavailable
    503     policy_store_unavailable  strategy PolicyStoreUnavailable
    503     store_timeout             core StoreTimeout (a store call past its deadline)
"""

from __future__ import annotations

from audit.store import AuditUnavailable
from core.blocking import StoreTimeout
from decision.errors import IdempotencyConflict, RateLimited
from feature_flags.admin import FlagStoreUnavailable
from feature_flags.model import InvalidFlag
from feature_flags.store import VersionConflict
from models.errors import ModelUnavailable, PromotionRefused
from monitoring.store import OutcomeStoreUnavailable
from review.errors import (
    CaseConflict,
    InvalidReview,
    ReviewerExcluded,
    ReviewNotFound,
    ReviewRefused,
    ReviewStoreUnavailable,
    SameReviewer,
)
from strategy.errors import (
    InvalidPolicyChange,
    ModelVersionNotFound,
    PolicyConflict,
    PolicyNotFound,
    PolicyStoreUnavailable,
    SameApprover,
)


class BadRequest(Exception):
    """A request the shell refuses on its own (not a domain rule)."""


class Unauthorized(Exception):
    """No or unknown API key."""


class Forbidden(Exception):
    """The API key lacks the scope."""


class NotFound(Exception):
    pass


class Unavailable(Exception):
    """A part the request needs is not configured or not reachable."""


STATUS: dict[type[Exception], tuple[int, str]] = {
    BadRequest: (400, "bad_request"),
    InvalidFlag: (400, "bad_request"),
    Unauthorized: (401, "unauthorized"),
    Forbidden: (403, "forbidden"),
    ReviewerExcluded: (403, "reviewer_excluded"),
    NotFound: (404, "not_found"),
    ReviewNotFound: (404, "not_found"),
    PolicyNotFound: (404, "not_found"),
    ModelVersionNotFound: (404, "not_found"),
    IdempotencyConflict: (409, "idempotency_conflict"),
    VersionConflict: (409, "flag_conflict"),
    PromotionRefused: (409, "promotion_refused"),
    SameReviewer: (409, "same_reviewer"),
    CaseConflict: (409, "case_conflict"),
    ReviewRefused: (409, "review_refused"),
    SameApprover: (409, "same_approver"),
    PolicyConflict: (409, "policy_conflict"),
    InvalidReview: (422, "invalid_review"),
    InvalidPolicyChange: (422, "invalid_policy"),
    RateLimited: (429, "rate_limited"),
    AuditUnavailable: (503, "audit_unavailable"),
    ModelUnavailable: (503, "model_unavailable"),
    FlagStoreUnavailable: (503, "flag_store_unavailable"),
    ReviewStoreUnavailable: (503, "review_store_unavailable"),
    OutcomeStoreUnavailable: (503, "outcome_store_unavailable"),
    PolicyStoreUnavailable: (503, "policy_store_unavailable"),
    StoreTimeout: (503, "store_timeout"),
    Unavailable: (503, "unavailable"),
}


def status_of(exc: Exception) -> tuple[int, str]:
    """(status, code) of the nearest class in the table; a subclass inherits its parent's."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500, "internal_error"

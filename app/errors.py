"""One error hierarchy; each error carries its HTTP status and one handler maps them.

CreditError
 ├── BadRequest (4xx)
 │    ├── Unauthorized          401  no or unknown API key
 │    ├── Forbidden             403  key lacks the scope
 │    ├── NotFound              404
 │    ├── IdempotencyConflict   409  same application_id, different body
 │    └── TooManyRequests       429  per-client or per-customer rate limit
 └── Unavailable (503)
      ├── AuditUnavailable      503  no durable audit record, so no decision
      └── ModelUnavailable      503  no model loaded
DependencyError                      a bureau/open-banking failure; never reaches the caller,
                                     the orchestrator turns it into a degraded decision
"""

from __future__ import annotations


class CreditError(Exception):
    status_code = 500
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(CreditError):
    status_code = 400
    code = "bad_request"


class IdempotencyConflict(BadRequest):
    status_code = 409
    code = "idempotency_conflict"


class Unauthorized(BadRequest):
    status_code = 401
    code = "unauthorized"


class Forbidden(BadRequest):
    status_code = 403
    code = "forbidden"


class TooManyRequests(BadRequest):
    status_code = 429
    code = "rate_limited"


class NotFound(BadRequest):
    status_code = 404
    code = "not_found"


class Unavailable(CreditError):
    status_code = 503
    code = "unavailable"


class AuditUnavailable(Unavailable):
    code = "audit_unavailable"


class ModelUnavailable(Unavailable):
    code = "model_unavailable"


class DependencyError(Exception):
    """A dependency failed; `reason` is a short machine code such as 'timeout'."""

    def __init__(self, source: str, reason: str, detail: str = "") -> None:
        super().__init__(f"{source}: {reason} {detail}".strip())
        self.source = source
        self.reason = reason
        self.detail = detail

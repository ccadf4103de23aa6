"""Errors of the decision path (the shell maps them to HTTP statuses in app/errors.py).

AuditUnavailable (no durable record, so no decision) lives in audit.store, beside the log.
"""

from __future__ import annotations


class IdempotencyConflict(Exception):
    """The application id was already decided with a different request body."""


class RateLimited(Exception):
    """Too many requests for an API key, or too many applications for a customer."""

"""Errors of the policy history (app/errors.py maps each to an HTTP status).

    PolicyError
    ├── PolicyNotFound            no such policy version
    ├── ModelVersionNotFound      a backtest's candidate model version is not in the registry
    ├── InvalidPolicyChange       an empty reason, a document that is not a valid policy
    ├── SameApprover              four eyes: the proposer cannot approve their own version
    ├── PolicyConflict            the version exists already / is not a proposal any more /
    │                             the live version changed since
    └── PolicyStoreUnavailable
"""

from __future__ import annotations


class PolicyError(Exception):
    pass


class PolicyNotFound(PolicyError):
    pass


class ModelVersionNotFound(PolicyError):
    pass


class InvalidPolicyChange(PolicyError):
    pass


class SameApprover(PolicyError):
    pass


class PolicyConflict(PolicyError):
    pass


class PolicyStoreUnavailable(PolicyError):
    pass

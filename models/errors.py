"""Errors of the model registry (the shell maps them to HTTP statuses in app/errors.py)."""

from __future__ import annotations


class ModelUnavailable(Exception):
    """No model version can be loaded (nothing registered under the alias, registry down)."""


class PromotionRefused(Exception):
    """An alias change the release rules do not allow (failed gates without --force, ...)."""

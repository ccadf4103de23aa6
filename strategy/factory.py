"""Build the configured policy store (a config model per backend, a union, a factory)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from strategy.postgres import PostgresPolicyConfig, PostgresPolicyStore
from strategy.sqlite import SQLitePolicyConfig, SQLitePolicyStore
from strategy.store import PolicyStore

PolicyConfig = Annotated[SQLitePolicyConfig | PostgresPolicyConfig, Field(discriminator="type")]


def build_policy_store(config: PolicyConfig) -> PolicyStore:
    match config:
        case SQLitePolicyConfig():
            return SQLitePolicyStore(config.path, config.timeout_s)
        case PostgresPolicyConfig():
            return PostgresPolicyStore(config)
    raise ValueError(f"unknown policy store type {config!r}")

"""Build the configured flag store (a config model per backend, a union, a factory)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from feature_flags.file import FileFlagConfig, FileFlagStore
from feature_flags.redis import RedisFlagConfig, RedisFlagStore
from feature_flags.store import FlagStore

FlagConfig = Annotated[FileFlagConfig | RedisFlagConfig, Field(discriminator="type")]


def build_flag_store(config: FlagConfig) -> FlagStore:
    match config:
        case FileFlagConfig():
            return FileFlagStore(config.path)
        case RedisFlagConfig():
            return RedisFlagStore(config.url, config.prefix, config.timeout_s)
    raise ValueError(f"unknown flag store type {config!r}")

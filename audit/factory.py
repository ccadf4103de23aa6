"""Build the configured audit backend: the log, its digest store and the customer key store
(a config model per backend, a union, a factory)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from audit.anchor import DigestAnchor, DirectoryAnchor, DirectoryAnchorConfig
from audit.digest import DigestStore, SQLiteDigestStore
from audit.dynamodb import (
    DynamoDBAuditConfig,
    DynamoDBAuditStore,
    DynamoDBCustomerKeyStore,
    DynamoDBDigestStore,
)
from audit.keystore import CustomerKeyStore, SQLiteCustomerKeyStore
from audit.postgres import PostgresAuditConfig, PostgresAuditStore, PostgresDigestStore
from audit.postgres_keystore import PostgresCustomerKeyStore
from audit.s3_anchor import S3Anchor, S3AnchorConfig
from audit.sqlite import SQLiteAuditConfig, SQLiteAuditStore
from audit.store import AuditStore

AuditConfig = Annotated[SQLiteAuditConfig | DynamoDBAuditConfig | PostgresAuditConfig,
                        Field(discriminator="type")]
AnchorConfig = Annotated[DirectoryAnchorConfig | S3AnchorConfig, Field(discriminator="type")]


def open_log(config: AuditConfig) -> AuditStore:
    match config:
        case SQLiteAuditConfig():
            return SQLiteAuditStore(config.path, busy_timeout_s=config.busy_timeout_s)
        case DynamoDBAuditConfig():
            return DynamoDBAuditStore(config.table_prefix, **config.where)  # type: ignore[arg-type]
        case PostgresAuditConfig():
            return PostgresAuditStore(config)
    raise ValueError(f"unknown audit store type {config!r}")


def open_digests(config: AuditConfig) -> DigestStore:
    match config:
        case SQLiteAuditConfig():
            return SQLiteDigestStore(config.digests_path)
        case DynamoDBAuditConfig():
            return DynamoDBDigestStore(config.table_prefix, **config.where)
        case PostgresAuditConfig():
            return PostgresDigestStore(config)
    raise ValueError(f"unknown audit store type {config!r}")


def open_keys(config: AuditConfig) -> CustomerKeyStore:
    """Beside the log: on DynamoDB and PostgreSQL every host shares the keys, so an erasure
    reaches all."""
    match config:
        case SQLiteAuditConfig():
            return SQLiteCustomerKeyStore(config.keys_path, config.busy_timeout_s)
        case DynamoDBAuditConfig():
            return DynamoDBCustomerKeyStore(config.table_prefix, **config.where)
        case PostgresAuditConfig():
            return PostgresCustomerKeyStore(config)
    raise ValueError(f"unknown audit store type {config!r}")


def open_anchor(config: AnchorConfig) -> DigestAnchor:
    match config:
        case DirectoryAnchorConfig():
            return DirectoryAnchor(config.path)
        case S3AnchorConfig():
            anchor = S3Anchor(config)
            anchor.ensure_bucket()
            return anchor
    raise ValueError(f"unknown anchor type {config!r}")

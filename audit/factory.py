"""Build the configured audit backend: the log, its digest store and the customer key store
(a config model per backend, a union, a factory)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

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
from audit.sqlite import SQLiteAuditConfig, SQLiteAuditStore
from audit.store import AuditStore

AuditConfig = Annotated[SQLiteAuditConfig | DynamoDBAuditConfig | PostgresAuditConfig,
                        Field(discriminator="type")]


def open_log(config: AuditConfig) -> AuditStore:
    match config:
        case SQLiteAuditConfig():
            return SQLiteAuditStore(config.path)
        case DynamoDBAuditConfig():
            return DynamoDBAuditStore(config.table_prefix, **config.where)
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
            return SQLiteCustomerKeyStore(config.keys_path)
        case DynamoDBAuditConfig():
            return DynamoDBCustomerKeyStore(config.table_prefix, **config.where)
        case PostgresAuditConfig():
            return PostgresCustomerKeyStore(config)
    raise ValueError(f"unknown audit store type {config!r}")

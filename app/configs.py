"""Settings turned into each store's config model (one per backend, built by the store's
own factory: audit.factory, feature_store.factory, ...), and the PostgreSQL schemas this
build has. The builder (app/builder.py) opens stores from these."""

from __future__ import annotations

from typing import Any

from app.settings import Settings
from audit.dynamodb import DynamoDBAuditConfig
from audit.factory import AuditConfig
from audit.postgres import MIGRATIONS as AUDIT_SCHEMA
from audit.postgres import PostgresAuditConfig
from audit.sqlite import SQLiteAuditConfig
from core.schema import Branch
from feature_flags.factory import FlagConfig
from feature_flags.file import FileFlagConfig
from feature_flags.redis import RedisFlagConfig
from feature_store.dynamodb import DynamoDBConfig
from feature_store.factory import StoreConfig
from feature_store.redis import RedisConfig
from feature_store.sqlite import SQLiteConfig
from feature_store.tiered import TieredConfig
from monitoring.factory import OutcomeConfig
from monitoring.postgres import MIGRATIONS as MONITORING_SCHEMA
from monitoring.postgres import PostgresOutcomeConfig
from monitoring.sqlite import SQLiteOutcomeConfig
from review.factory import ReviewConfig
from review.postgres import MIGRATIONS as REVIEW_SCHEMA
from review.postgres import PostgresReviewConfig
from review.sqlite import SQLiteReviewConfig
from strategy.factory import PolicyConfig
from strategy.postgres import MIGRATIONS as POLICY_SCHEMA
from strategy.postgres import PostgresPolicyConfig
from strategy.sqlite import SQLitePolicyConfig

# Every PostgreSQL schema this build has, one Alembic branch per package (`credit db upgrade`).
POSTGRES_SCHEMAS: list[Branch] = [AUDIT_SCHEMA, REVIEW_SCHEMA, MONITORING_SCHEMA, POLICY_SCHEMA]


def postgres_fields(settings: Settings) -> dict[str, Any]:
    """The connection fields every PostgreSQL backend's config shares (core.postgres)."""
    if settings.postgres_url is None:
        raise ValueError("CREDIT_POSTGRES_URL is not set")
    return {"url": settings.postgres_url, "min_size": settings.postgres_pool_min,
            "max_size": settings.postgres_pool_max,
            "connect_timeout_s": settings.postgres_connect_timeout_s,
            "acquire_timeout_s": settings.postgres_acquire_timeout_s,
            "statement_timeout_s": settings.postgres_statement_timeout_s}


def audit_config(settings: Settings) -> AuditConfig:
    if settings.audit_store == "postgres":
        return PostgresAuditConfig(**postgres_fields(settings))
    if settings.audit_store == "dynamodb":
        return DynamoDBAuditConfig(table_prefix=settings.dynamodb_table_prefix,
                                   endpoint=settings.dynamodb_endpoint or None,
                                   region=settings.dynamodb_region)
    return SQLiteAuditConfig(path=settings.audit_db_path,
                             digests_path=settings.audit_digest_db_path,
                             keys_path=settings.audit_customer_keys_path)


def flag_config(settings: Settings) -> FlagConfig:
    if settings.flag_store == "redis":
        return RedisFlagConfig(url=settings.redis_url)
    return FileFlagConfig(path=settings.flags_path)


def feature_config(settings: Settings) -> StoreConfig:
    redis_cfg = RedisConfig(url=settings.redis_url, socket_timeout_s=settings.redis_timeout_s,
                            connect_timeout_s=settings.redis_timeout_s)
    dynamo_cfg = DynamoDBConfig(table_name=settings.feature_table,
                                endpoint=settings.dynamodb_endpoint or None,
                                region=settings.dynamodb_region)
    match settings.feature_store:
        case "sqlite":
            return SQLiteConfig(path=settings.feature_db_path)
        case "redis":
            return redis_cfg
        case "dynamodb":
            return dynamo_cfg
        case _:
            return TieredConfig(redis=redis_cfg, dynamodb=dynamo_cfg)


def review_config(settings: Settings) -> ReviewConfig:
    if settings.review_store == "postgres":
        return PostgresReviewConfig(**postgres_fields(settings))
    return SQLiteReviewConfig(path=settings.review_db_path)


def policy_config(settings: Settings) -> PolicyConfig:
    if settings.policy_store == "postgres":
        return PostgresPolicyConfig(**postgres_fields(settings))
    return SQLitePolicyConfig(path=settings.policy_db_path)


def outcome_config(settings: Settings) -> OutcomeConfig:
    if settings.outcome_store == "postgres":
        # Not the decision path's statement timeout: a batch of outcomes or a projection
        # step is one long transaction (PostgresOutcomeConfig's own default).
        fields = postgres_fields(settings)
        del fields["statement_timeout_s"]
        return PostgresOutcomeConfig(**fields)
    return SQLiteOutcomeConfig(path=settings.outcome_db_path)

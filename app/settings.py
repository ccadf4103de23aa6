"""The one settings object. Built once at start-up (CLI or app factory) and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CREDIT_", extra="ignore")

    # Every embedded file (SQLite databases, MLflow store, keys) lives here.
    data_dir: Path = Path(".credit")

    host: str = "127.0.0.1"
    port: int = 8000

    # External enrichment endpoints; empty means "start the built-in simulators".
    bureau_url: str | None = None
    open_banking_url: str | None = None
    simulator_host: str = "127.0.0.1"
    simulator_port: int = 8100

    # Per-call timeout and per-decision enrichment deadline, in seconds.
    enrichment_timeout_s: float = Field(default=0.5, gt=0)
    enrichment_deadline_s: float = Field(default=0.8, gt=0)
    # Retries (transport errors, timeouts, 5xx only) and circuit breakers per dependency.
    enrichment_attempts: int = Field(default=3, ge=1, le=10)
    enrichment_backoff_s: float = Field(default=0.02, ge=0)
    enrichment_backoff_max_s: float = Field(default=0.2, ge=0)
    breaker_fail_max: int = Field(default=5, ge=1)
    breaker_reset_timeout_s: float = Field(default=10.0, gt=0)
    # Share breaker state between workers through this Redis; unset = per-process state.
    breaker_redis_url: str | None = None
    breaker_redis_timeout_s: float = Field(default=0.05, gt=0)

    mlflow_tracking_uri: str | None = None  # default: SQLite file under data_dir
    model_name: str = "credit-default"
    model_alias: str = "champion"
    # Seconds between checks of the alias; a new version is loaded and swapped in without a
    # restart (models/reloader.py). 0 disables hot reload.
    model_poll_s: float = Field(default=5.0, ge=0)

    # HMAC key for pseudonymizing national ids in the audit log. When unset, a random key
    # is generated once under data_dir/keys (never in the repository).
    pseudonym_key: SecretStr | None = None

    reason_count: int = Field(default=4, ge=1, le=10)

    # Security. API keys live in data_dir/keys/api_keys.json (hashed); `credit keys create`.
    # The insecure development mode turns authentication off, loudly.
    insecure_no_auth: bool = False
    max_body_bytes: int = Field(default=64 * 1024, gt=0)
    rate_limit_per_client: str = "50000/minute"
    rate_limit_per_customer: str = "30/day"
    rate_limit_storage: str = "memory://"  # or redis://host:port to share between workers
    docs_enabled: bool = True
    log_level: str = "INFO"
    tracing: Literal["off", "console", "otlp"] = "off"
    otlp_endpoint: str | None = None  # e.g. http://collector:4318/v1/traces
    # Online feature store (feature_store): sqlite (embedded, under data_dir) | redis |
    # dynamodb | tiered (Redis read-through over DynamoDB, the production setting).
    feature_store: Literal["sqlite", "redis", "dynamodb", "tiered"] = "sqlite"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_timeout_s: float = Field(default=0.05, gt=0)
    # Deadlines of store calls made while deciding (core/blocking.py): the feature store's
    # (a miss degrades) and the audit path's (lookup, sealing, durable append: a miss is 503).
    feature_store_timeout_s: float = Field(default=0.25, gt=0)
    store_threads: int = Field(default=32, ge=4, le=256)
    audit_timeout_s: float = Field(default=1.5, gt=0)
    dynamodb_endpoint: str | None = None  # empty: AWS itself
    dynamodb_region: str = "eu-west-1"
    feature_table: str = "credit-features"
    # How long an enrichment answer is reused instead of calling the source again (0: never).
    bureau_cache_ttl_s: float = Field(default=86_400, ge=0)
    open_banking_cache_ttl_s: float = Field(default=3_600, ge=0)
    # Rollout (feature_flags/, shadow/). A country with no stored flag uses flags_default_mode.
    flag_store: Literal["file", "redis"] = "file"
    flags_default_mode: Literal["legacy", "shadow", "canary", "full"] = "full"
    flag_poll_interval_s: float = Field(default=0.2, gt=0, le=1.0)
    # HMAC key of the sticky canary buckets; required with the redis flag store (every
    # instance must bucket alike). Unset with the file store: generated under data_dir/keys.
    bucket_key: SecretStr | None = None
    shadow_budget_ms: float = Field(default=2.0, ge=0)
    shadow_slots: int = Field(default=4, ge=1, le=64)

    @model_validator(mode="after")
    def _shared_bucket_key(self) -> Settings:
        if self.flag_store == "redis" and self.bucket_key is None:
            raise ValueError("CREDIT_BUCKET_KEY must be set with CREDIT_FLAG_STORE=redis: "
                             "every instance must put a customer in the same bucket")
        return self
    # Audit log backend (DynamoDB endpoint and region: see the feature store above;
    # PostgreSQL: the postgres_* settings below).
    audit_store: Literal["sqlite", "dynamodb", "postgres"] = "sqlite"
    dynamodb_table_prefix: str = "credit-audit"
    # Signed digests of all chain heads: how often (seconds; 0 = only at shutdown) and the
    # Ed25519 private key (PEM). When unset, one is generated once under data_dir/keys.
    audit_digest_interval_s: float = Field(default=1.0, ge=0)
    # Where every digest is also anchored, write-once, outside the log's trust domain
    # (audit/anchor.py): a directory (default DATA_DIR/audit-anchors; put it on storage the
    # service cannot rewrite) or S3 with Object Lock in compliance mode.
    audit_anchor: Literal["directory", "s3", "none"] = "directory"
    audit_anchor_dir: Path | None = None
    audit_anchor_bucket: str = "credit-audit-anchors"
    audit_anchor_prefix: str = "audit-digests"
    audit_anchor_retention_days: int = Field(default=3650, ge=1)
    s3_endpoint: str | None = None  # empty: AWS itself
    audit_signing_key: SecretStr | None = None
    # Master key (base64, 32 bytes) wrapping each customer's data key for the personal
    # fields of audit records. When unset, one is generated once under data_dir/keys.
    audit_master_key: SecretStr | None = None
    # Erasure (GDPR Art. 17): days a legal retention period holds an erasure request before
    # it is carried out (0: at once), and per-country overrides, e.g. {"ES": 1825}.
    erasure_hold_days: int = Field(default=0, ge=0)
    erasure_hold_days_by_country: dict[str, int] = Field(default_factory=dict)
    # Master keys (comma-separated base64) that may still unwrap data keys but wrap none:
    # the previous one during a rotation (docs/runbooks/key-rotation.md).
    audit_other_master_keys: SecretStr | None = None

    def erasure_hold(self, country: str | None) -> int:
        return self.erasure_hold_days_by_country.get((country or "").upper(),
                                                     self.erasure_hold_days)

    @property
    def other_master_keys(self) -> list[bytes]:
        import base64

        text = self.audit_other_master_keys.get_secret_value() if self.audit_other_master_keys \
            else ""
        return [base64.b64decode(k) for k in text.split(",") if k.strip()]

    # PostgreSQL (CREDIT_AUDIT_STORE=postgres; core/postgres.py, ADR 0120). The service
    # connects as a member of postgres_service_role, which may read and insert the audit log
    # but not change it; `credit db upgrade` runs the migrations as the owner
    # (postgres_admin_url, default postgres_url) and grants that role what it needs.
    postgres_url: SecretStr | None = None  # postgresql://user:password@host:5432/dbname
    postgres_admin_url: SecretStr | None = None
    postgres_service_role: str = Field(default="credit_service",
                                       pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    postgres_pool_min: int = Field(default=1, ge=0)
    postgres_pool_max: int = Field(default=8, ge=1)
    # Every call is bounded: a database that stops answering costs a 503 within ~2 s.
    postgres_connect_timeout_s: int = Field(default=2, ge=2)
    postgres_acquire_timeout_s: float = Field(default=0.5, gt=0)
    postgres_statement_timeout_s: float = Field(default=1.0, gt=0)

    @model_validator(mode="after")
    def _postgres_url(self) -> Settings:
        if self.audit_store == "postgres" and self.postgres_url is None:
            raise ValueError("CREDIT_POSTGRES_URL must be set with CREDIT_AUDIT_STORE=postgres")
        return self

    # Review desk (review/): referral, override and contest cases. Per-country values are
    # JSON such as {"default": 24, "ES": 8}, or one number for every country.
    review_store: Literal["sqlite", "postgres"] = "sqlite"  # postgres: CREDIT_POSTGRES_URL
    review_sla_hours: dict[str, float] = {"default": 24.0}
    review_second_approver_above: dict[str, float] = {"default": 10_000.0}  # four eyes above
    review_notice_days: int = Field(default=30, ge=1)  # adverse-action notice due in
    # How often the review store catches up with the audit log (it always does at start).
    review_sync_interval_s: float = Field(default=60.0, ge=0)
    # Where the background passes (review catch-up, monitoring refresh) run: in threads of
    # every API worker, or in one process of their own beside the workers (`credit
    # background`, which `credit serve` starts), where they never hold a worker's GIL
    # while it serves decisions (ADR 0157).
    background_passes: Literal["workers", "process"] = "workers"
    # In the workers: the most of the GIL a pass may take; above it the pass pauses
    # (core/pacing.py, ADR 0149). Its own process lowers its priority instead: this
    # niceness, or SCHED_IDLE (it runs only on CPU time nothing else wants).
    background_cpu_share: float = Field(default=0.25, gt=0, le=1)
    background_nice: int = Field(default=10, ge=0, le=19)
    background_sched_idle: bool = False

    @property
    def passes_in_workers(self) -> bool:
        """Whether each API worker runs the background passes itself."""
        return self.background_passes == "workers"

    @field_validator("review_sla_hours", "review_second_approver_above", mode="before")
    @classmethod
    def _per_country(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, int | float | str) and not isinstance(value, bool):
            return {"default": float(value)}
        if isinstance(value, dict) and "default" not in value:
            return {**value, "default": cls.model_fields[info.field_name].default["default"]}
        return value

    # Policy versions (strategy/): proposed and approved by two people, kept in the policy
    # history (sqlite under data_dir, or postgres at CREDIT_POSTGRES_URL); every worker polls
    # the live version this often (0: never, the version at start stays).
    policy_store: Literal["sqlite", "postgres"] = "sqlite"
    policy_poll_s: float = Field(default=2.0, ge=0)
    # Backtests from the API and console (GET /v1/policies/{version}/backtest): on this Dask
    # scheduler (tcp://HOST:PORT) if set, else in the API process's threads; the request
    # gives up (503) after backtest_timeout_s. `credit backtest` starts a local cluster.
    backtest_scheduler: str | None = None
    backtest_timeout_s: float = Field(default=120.0, gt=0)

    # Post-market monitoring (monitoring/): loan outcomes and the monitoring read model live
    # in the outcome store (sqlite under data_dir, or postgres at CREDIT_POSTGRES_URL).
    outcome_store: Literal["sqlite", "postgres"] = "sqlite"
    # PSI thresholds of drift per feature and of the score; below min_decisions a period's
    # PSI is mostly sampling noise and is reported as "insufficient".
    drift_warn_psi: float = Field(default=0.1, gt=0)
    drift_alert_psi: float = Field(default=0.25, gt=0)
    drift_min_decisions: int = Field(default=100, ge=1)
    # Background refresh of the read model and the monitoring gauges (0: off; requests
    # still catch up, spending at most monitoring_catch_up_s on it).
    monitoring_refresh_s: float = Field(default=60.0, ge=0)
    monitoring_catch_up_s: float = Field(default=1.0, gt=0)
    monitoring_performance_days: int = Field(default=365, ge=1)  # the gauges' windows
    monitoring_drift_days: int = Field(default=30, ge=1)
    outcomes_timeout_s: float = Field(default=30.0, gt=0)  # one API batch of outcomes

    @model_validator(mode="after")
    def _drift_thresholds(self) -> Settings:
        if self.drift_warn_psi >= self.drift_alert_psi:
            raise ValueError("CREDIT_DRIFT_WARN_PSI must be below CREDIT_DRIFT_ALERT_PSI")
        return self

    @property
    def mlflow_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{self.data_dir.resolve() / 'mlflow.db'}"

    @property
    def mlflow_artifacts_dir(self) -> Path:
        return self.data_dir.resolve() / "mlartifacts"

    @property
    def audit_db_path(self) -> Path:
        return self.data_dir / "audit.db"

    @property
    def api_keys_path(self) -> Path:
        return self.keys_dir / "api_keys.json"

    @property
    def feature_db_path(self) -> Path:
        return self.data_dir / "features.db"

    @property
    def flags_path(self) -> Path:
        return self.data_dir / "flags.json"

    @property
    def audit_digest_db_path(self) -> Path:
        return self.data_dir / "audit-digests.db"

    @property
    def audit_customer_keys_path(self) -> Path:
        return self.data_dir / "audit-customer-keys.db"

    @property
    def review_db_path(self) -> Path:
        return self.data_dir / "reviews.db"

    @property
    def policy_db_path(self) -> Path:
        return self.data_dir / "policies.db"

    @property
    def outcome_db_path(self) -> Path:
        return self.data_dir / "outcomes.db"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    def ensure_data_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.keys_dir.mkdir(mode=0o700, exist_ok=True)

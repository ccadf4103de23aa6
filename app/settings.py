"""The one settings object. Built once at start-up (CLI or app factory) and passed down."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
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
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    def ensure_data_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.keys_dir.mkdir(mode=0o700, exist_ok=True)

"""Settings choose the backend; the bootstrap wraps sources by their TTL settings."""

from __future__ import annotations

import pytest

from app.configs import feature_config as config_from_settings
from app.services import cached_sources
from app.settings import Settings
from audit.pii import Pseudonymizer
from feature_store.sqlite import SQLiteConfig, SQLiteFeatureStore
from sources.cached import CachingSource


@pytest.mark.parametrize("kind,cls", [("sqlite", "SQLiteConfig"), ("redis", "RedisConfig"),
                                      ("dynamodb", "DynamoDBConfig"), ("tiered", "TieredConfig")])
def test_settings_pick_the_backend(tmp_path, kind, cls):
    """CREDIT_FEATURE_STORE selects the config model; endpoints come from settings."""
    s = Settings(data_dir=tmp_path, feature_store=kind, redis_url="redis://h:1/0",
                 dynamodb_endpoint="http://d:2")
    cfg = config_from_settings(s)
    assert type(cfg).__name__ == cls and cfg.type == kind
    if kind == "tiered":
        assert cfg.redis.url == "redis://h:1/0" and cfg.dynamodb.endpoint == "http://d:2"


def test_default_is_embedded_under_the_data_dir(tmp_path):
    """With nothing set, the store is a SQLite file in data_dir."""
    cfg = config_from_settings(Settings(data_dir=tmp_path))
    assert isinstance(cfg, SQLiteConfig) and cfg.path == tmp_path / "features.db"


def test_zero_ttl_leaves_a_source_uncached(tmp_path):
    """A TTL of 0 for a source means its calls are never cached."""
    class Src:
        def __init__(self, name):
            self.name = name

        async def fetch(self, national_id):
            raise NotImplementedError

    store = SQLiteFeatureStore(SQLiteConfig(path=tmp_path / "f.db"))
    s = Settings(data_dir=tmp_path, open_banking_cache_ttl_s=0)
    got = cached_sources({"bureau": Src("bureau"), "open_banking": Src("open_banking")}, store, s,
                         Pseudonymizer(b"k" * 32))
    assert isinstance(got["bureau"], CachingSource)
    assert not isinstance(got["open_banking"], CachingSource)
    store.close()


def test_outcome_store_is_embedded_under_the_data_dir(tmp_path):
    """CREDIT_OUTCOME_STORE=sqlite (the default): outcomes.db in data_dir."""
    from app.configs import outcome_config
    from monitoring.sqlite import SQLiteOutcomeConfig

    cfg = outcome_config(Settings(data_dir=tmp_path))
    assert isinstance(cfg, SQLiteOutcomeConfig) and cfg.path == tmp_path / "outcomes.db"


def test_drift_thresholds_must_be_ordered(tmp_path):
    """A warn threshold at or above the alert threshold is refused at start-up."""
    with pytest.raises(ValueError, match="DRIFT_WARN_PSI"):
        Settings(data_dir=tmp_path, drift_warn_psi=0.3, drift_alert_psi=0.25)

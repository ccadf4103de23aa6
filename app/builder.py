"""Wiring, in one place: every store and service chosen by settings and built once. The API
(`build_services`, in the FastAPI lifespan) and every CLI command build through `Builder`,
so a setting such as CREDIT_AUDIT_STORE means the same thing everywhere. Tests call these
with their own settings (temporary data dir, simulator URLs, other backends).

Each port has a config model per backend and a factory in its own package (Feast-style):
audit.factory, feature_flags.factory, feature_store.factory; this module only turns
settings into those configs.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import httpx
from prometheus_client import CollectorRegistry

from app.auth import ApiKeyStore
from app.metrics import HttpMetrics, new_registry
from app.settings import Settings
from audit.digest import DigestSigner, DigestStore, DigestWriter
from audit.dynamodb import DynamoDBAuditConfig
from audit.factory import AuditConfig, open_digests, open_keys, open_log
from audit.group_commit import GroupCommitter
from audit.keystore import CustomerKeyStore
from audit.pii import EnvelopeCipher, Pseudonymizer, RecordProtector, RecordReader
from audit.sqlite import SQLiteAuditConfig
from audit.store import AuditStore
from decision.arms import LegacyArm, ModelArm, ShadowRunner
from decision.enrichment import Enricher
from decision.metrics import DecisionMetrics
from decision.orchestrator import Arms, Orchestrator
from decision.policy import Policy
from decision.ratelimit import RateLimiter
from decision.rollout import Rollout
from feature_flags.admin import FlagAdmin
from feature_flags.bucketing import Bucketer
from feature_flags.factory import FlagConfig, build_flag_store
from feature_flags.file import FileFlagConfig
from feature_flags.live import LiveFlags
from feature_flags.redis import RedisFlagConfig
from feature_flags.store import FlagStore
from feature_store.dynamodb import DynamoDBConfig
from feature_store.factory import StoreConfig, build_store
from feature_store.protocol import FeatureStore
from feature_store.redis import RedisConfig
from feature_store.sqlite import SQLiteConfig
from feature_store.tiered import TieredConfig
from feature_store.velocity import Velocity
from models.errors import ModelUnavailable
from models.registry import ModelRegistry
from models.reloader import ModelReloader, ScorerHolder
from models.scorer import Scorer
from monitoring.drift import Thresholds
from monitoring.factory import OutcomeConfig, open_outcome_store
from monitoring.ingest import OutcomeIngestor
from monitoring.metrics import MonitoringMetrics, Refresher
from monitoring.projection import Projector, ReferenceCache
from monitoring.service import Monitor, MonitorConfig
from monitoring.sqlite import SQLiteOutcomeConfig
from monitoring.store import OutcomeStore
from shadow.metrics import RolloutMetrics
from shadow.scorecard import Scorecard
from sources.base import Source
from sources.breaker_storage import FallbackRedisStorage
from sources.bureau import bureau_source
from sources.cached import CachingSource
from sources.metrics import BreakerStateListener, DependencyMetrics
from sources.open_banking import open_banking_source
from sources.resilience import ResilientSource, RetryPolicy, new_breaker

# -- settings -> configs --------------------------------------------------------------------


def audit_config(settings: Settings) -> AuditConfig:
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


def outcome_config(settings: Settings) -> OutcomeConfig:
    return SQLiteOutcomeConfig(path=settings.outcome_db_path)


# -- the builder ----------------------------------------------------------------------------


class Builder:
    """Builds each part on first use and keeps it: one audit log, one flag store, one
    feature store per process, whoever asks. `close()` closes what was built."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.ensure_data_dir()

    def _opened(self, name: str) -> bool:
        return name in self.__dict__  # cached_property stores its value there

    @cached_property
    def audit(self) -> AuditStore:
        return open_log(audit_config(self.settings))

    @cached_property
    def digest_store(self) -> DigestStore:
        return open_digests(audit_config(self.settings))

    @cached_property
    def customer_keys(self) -> CustomerKeyStore:
        return open_keys(audit_config(self.settings))

    @cached_property
    def digest_signer(self) -> DigestSigner:
        s = self.settings
        if s.audit_signing_key is not None:
            return DigestSigner.from_pem(s.audit_signing_key.get_secret_value().encode())
        return DigestSigner.from_key_file(s.keys_dir / "audit-digest.pem")

    @cached_property
    def pseudonymizer(self) -> Pseudonymizer:
        s = self.settings
        if s.pseudonym_key is not None:
            return Pseudonymizer(s.pseudonym_key.get_secret_value().encode())
        return Pseudonymizer.from_key_file(s.keys_dir / "pseudonym.key")

    @cached_property
    def protector(self) -> RecordProtector:
        s = self.settings
        if s.audit_master_key is not None:
            cipher = EnvelopeCipher(base64.b64decode(s.audit_master_key.get_secret_value()),
                                    self.customer_keys)
        else:
            cipher = EnvelopeCipher.from_key_file(s.keys_dir / "audit-master.key",
                                                  self.customer_keys)
        return RecordProtector(self.pseudonymizer, cipher)

    @cached_property
    def record_reader(self) -> RecordReader:
        return RecordReader(self.protector)

    @cached_property
    def flag_store(self) -> FlagStore:
        return build_flag_store(flag_config(self.settings))

    @cached_property
    def flag_admin(self) -> FlagAdmin:
        """Flag changes (`credit flags set`, PUT /v1/flags): the store plus the audit log."""
        return FlagAdmin(self.flag_store, self.audit, self.settings.flags_default_mode)

    @cached_property
    def bucketer(self) -> Bucketer:
        s = self.settings
        if s.bucket_key is not None:
            return Bucketer(s.bucket_key.get_secret_value().encode())
        return Bucketer.from_key_file(s.keys_dir / "bucket.key")

    @cached_property
    def feature_store(self) -> FeatureStore:
        return build_store(feature_config(self.settings))

    @cached_property
    def registry(self) -> ModelRegistry:
        return self.new_registry()

    def new_registry(self) -> ModelRegistry:
        """A registry client of its own (the reloader polls from a background thread)."""
        s = self.settings
        return ModelRegistry(s.mlflow_uri, s.model_name, s.mlflow_artifacts_dir)

    @cached_property
    def api_keys(self) -> ApiKeyStore:
        return ApiKeyStore(self.settings.api_keys_path)

    @cached_property
    def policy(self) -> Policy:
        return Policy.load()

    @cached_property
    def outcome_store(self) -> OutcomeStore:
        return open_outcome_store(outcome_config(self.settings))

    @cached_property
    def outcomes(self) -> OutcomeIngestor:
        """Outcome ingestion (POST /v1/outcomes, `credit outcomes ingest`)."""
        return OutcomeIngestor(self.audit, self.outcome_store)

    @cached_property
    def monitor(self) -> Monitor:
        """Performance and drift over the read model projected from the audit log."""
        s = self.settings
        references = ReferenceCache(self.new_registry().reference)
        projector = Projector(self.audit, self.outcome_store, self.record_reader, references)
        thresholds = Thresholds(s.drift_warn_psi, s.drift_alert_psi, s.drift_min_decisions)
        return Monitor(self.outcome_store, projector, references,
                       MonitorConfig(thresholds, s.monitoring_catch_up_s), s.model_name)

    def close(self) -> None:
        for name in ("customer_keys", "digest_store", "audit", "flag_store", "feature_store",
                     "outcome_store"):
            if self._opened(name):
                getattr(self, name).close()


# -- the API's object graph -----------------------------------------------------------------


@dataclass
class Services:
    settings: Settings
    registry: ModelRegistry
    audit: AuditStore
    orchestrator: Orchestrator
    metrics_registry: CollectorRegistry
    http_metrics: HttpMetrics
    api_keys: ApiKeyStore
    limiter: RateLimiter
    flags: FlagAdmin
    digests: DigestWriter
    reloader: ModelReloader
    builder: Builder
    clients: list[httpx.AsyncClient] = field(default_factory=list)
    monitoring: Refresher | None = None

    @property
    def customer_keys(self) -> CustomerKeyStore:
        return self.builder.customer_keys

    @property
    def outcomes(self) -> OutcomeIngestor:
        return self.builder.outcomes

    @property
    def monitor(self) -> Monitor:
        return self.builder.monitor

    async def start(self) -> None:
        self.digests.start()
        self.reloader.start()
        if self.monitoring is not None:
            self.monitoring.start()

    async def aclose(self) -> None:
        self.reloader.stop()
        if self.monitoring is not None:
            self.monitoring.stop()
        for client in self.clients:
            await client.aclose()
        if self.orchestrator.rollout is not None:
            self.orchestrator.rollout.close()
        await self.digests.stop()  # a last digest over the final heads
        self.builder.close()


def build_services(settings: Settings) -> Services:
    if not settings.bureau_url or not settings.open_banking_url:
        raise ModelUnavailable("CREDIT_BUREAU_URL and CREDIT_OPEN_BANKING_URL must be set "
                               "(`credit serve` starts the simulators and sets them)")
    b = Builder(settings)
    metrics_registry = new_registry()
    scorers = ScorerHolder(Scorer(b.registry.load_alias(settings.model_alias)))
    reloader = ModelReloader(b.new_registry(), settings.model_alias, scorers,
                             settings.model_poll_s)
    digests = DigestWriter(b.audit.heads, b.digest_signer, b.digest_store,
                           settings.audit_digest_interval_s)
    clients = [_http_client(settings.bureau_url, settings),
               _http_client(settings.open_banking_url, settings)]
    sources = resilient([bureau_source(clients[0]), open_banking_source(clients[1])],
                        settings, DependencyMetrics(metrics_registry))
    # The cache sits in front: a hit costs no breaker or retry work.
    sources = cached_sources(sources, b.feature_store, settings, b.pseudonymizer)
    limiter = RateLimiter(settings.rate_limit_per_client, settings.rate_limit_per_customer,
                          settings.rate_limit_storage)
    orchestrator = Orchestrator(
        scorers=scorers, enricher=Enricher(sources, settings.enrichment_deadline_s),
        arms=Arms(ModelArm(b.policy), LegacyArm(Scorecard.load())),
        audit=b.audit, committer=GroupCommitter(b.audit), protector=b.protector,
        reason_count=settings.reason_count, metrics=DecisionMetrics(metrics_registry),
        limiter=limiter, velocity=Velocity(b.feature_store, b.pseudonymizer),
        rollout=_rollout(b, metrics_registry))
    monitoring = Refresher(b.monitor, MonitoringMetrics(metrics_registry),
                           settings.monitoring_refresh_s, settings.monitoring_performance_days,
                           settings.monitoring_drift_days)
    return Services(settings=settings, registry=b.registry, audit=b.audit,
                    orchestrator=orchestrator, metrics_registry=metrics_registry,
                    http_metrics=HttpMetrics(metrics_registry), api_keys=b.api_keys,
                    limiter=limiter, flags=b.flag_admin, digests=digests, reloader=reloader,
                    builder=b, clients=clients, monitoring=monitoring)


def _rollout(b: Builder, registry: CollectorRegistry) -> Rollout:
    s = b.settings
    metrics = RolloutMetrics(registry)
    flags = LiveFlags(b.flag_store, s.flags_default_mode, s.flag_poll_interval_s,
                      on_error=lambda _: metrics.flag_errors.inc())
    flags.start()
    return Rollout(flags, b.bucketer, ShadowRunner(s.shadow_budget_ms / 1000, s.shadow_slots),
                   metrics)


def _http_client(base_url: str, settings: Settings) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(settings.enrichment_timeout_s),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=50),
    )


def resilient(sources: list[Source], settings: Settings,
              metrics: DependencyMetrics) -> dict[str, Source]:
    """Each source behind its own breaker, with retries inside the decision's deadline."""
    policy = RetryPolicy(attempts=settings.enrichment_attempts,
                         call_timeout_s=settings.enrichment_timeout_s,
                         budget_s=settings.enrichment_deadline_s,
                         backoff_s=settings.enrichment_backoff_s,
                         backoff_max_s=settings.enrichment_backoff_max_s)
    redis_client: Any = None
    if settings.breaker_redis_url:
        import redis

        t = settings.breaker_redis_timeout_s
        redis_client = redis.Redis.from_url(settings.breaker_redis_url, socket_timeout=t,
                                            socket_connect_timeout=t)
    out: dict[str, Source] = {}
    for src in sources:
        storage = (FallbackRedisStorage(f"credit:breaker:{src.name}", redis_client)
                   if redis_client is not None else None)
        breaker = new_breaker(src.name, settings.breaker_fail_max,
                              settings.breaker_reset_timeout_s, storage,
                              [BreakerStateListener(metrics, src.name)])
        metrics.set_breaker_state(src.name, breaker.state)
        out[src.name] = ResilientSource(src, breaker, policy, metrics)
    return out


def cached_sources(sources: dict[str, Source], store: FeatureStore, settings: Settings,
                   pseudonymizer: Pseudonymizer) -> dict[str, Source]:
    """Wrap each source in a CachingSource with its TTL from settings (0: not cached)."""
    ttl = {"bureau": settings.bureau_cache_ttl_s,
           "open_banking": settings.open_banking_cache_ttl_s}
    return {name: CachingSource(src, store, ttl[name], pseudonymizer) if ttl.get(name) else src
            for name, src in sources.items()}

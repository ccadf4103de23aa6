"""Wiring, in one place: every store and service chosen by settings and built once. The API
(`build_services`, in the FastAPI lifespan) and every CLI command build through `Builder`,
so a setting such as CREDIT_AUDIT_STORE means the same thing everywhere. Tests call these
with their own settings (temporary data dir, simulator URLs, other backends).

Each port has a config model per backend and a factory in its own package (Feast-style):
audit.factory, feature_flags.factory, feature_store.factory; this module only turns
settings into those configs.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import httpx
from prometheus_client import CollectorRegistry
from prometheus_client.registry import Collector

from app.auth import ApiKeyStore
from app.metrics import HttpMetrics, new_registry
from app.settings import Settings
from audit.anchor import DigestAnchor, DirectoryAnchorConfig
from audit.digest import DigestSigner, DigestStore, DigestWriter
from audit.dynamodb import DynamoDBAuditConfig
from audit.factory import AuditConfig, open_anchor, open_digests, open_keys, open_log
from audit.group_commit import GroupCommitter
from audit.keystore import CustomerKeyStore
from audit.pii import EnvelopeCipher, Pseudonymizer, RecordProtector, RecordReader, key_file
from audit.postgres import MIGRATIONS as AUDIT_SCHEMA
from audit.postgres import PostgresAuditConfig
from audit.s3_anchor import S3AnchorConfig
from audit.sqlite import SQLiteAuditConfig
from audit.store import AuditStore
from audit.verify import LogReport, VerifyResult, verify_log
from core.schema import Branch
from decision.application import COUNTRIES
from decision.arms import LegacyArm, ModelArm, ShadowRunner
from decision.enrichment import Enricher
from decision.erasure import Eraser
from decision.metrics import DecisionMetrics
from decision.orchestrator import Arms, Orchestrator
from decision.policy import Policy, PolicyHolder
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
from models.admin import ModelAdmin
from models.errors import ModelUnavailable
from models.registry import ModelRegistry
from models.reloader import ModelReloader, ScorerHolder
from models.scorer import Scorer
from monitoring.drift import Thresholds
from monitoring.factory import OutcomeConfig, open_outcome_store
from monitoring.ingest import OutcomeIngestor
from monitoring.metrics import MonitoringMetrics, Refresher
from monitoring.postgres import MIGRATIONS as MONITORING_SCHEMA
from monitoring.postgres import PostgresOutcomeConfig
from monitoring.projection import Projector, ReferenceCache
from monitoring.service import Monitor, MonitorConfig
from monitoring.sqlite import SQLiteOutcomeConfig
from monitoring.store import OutcomeStore
from review.desk import ReviewDesk
from review.factory import ReviewConfig, build_review_store
from review.metrics import ReviewCollector
from review.model import ReviewRules
from review.postgres import MIGRATIONS as REVIEW_SCHEMA
from review.postgres import PostgresReviewConfig
from review.projection import Projection
from review.projector import ReviewProjector
from review.reasons import ReasonCodes
from review.sealing import CustomerSealer
from review.sqlite import SQLiteReviewConfig
from review.store import ReviewStore
from shadow.metrics import RolloutMetrics
from shadow.scorecard import Scorecard
from sources.base import Source
from sources.breaker_storage import SyncedRedisStorage
from sources.bureau import bureau_source
from sources.cached import CachingSource
from sources.metrics import BreakerStateListener, DependencyMetrics
from sources.open_banking import open_banking_source
from sources.resilience import ResilientSource, RetryPolicy, new_breaker
from strategy.admin import PolicyAdmin
from strategy.factory import PolicyConfig, build_policy_store
from strategy.jobs import Backtester
from strategy.live import PolicyReloader
from strategy.postgres import MIGRATIONS as POLICY_SCHEMA
from strategy.postgres import PostgresPolicyConfig
from strategy.sqlite import SQLitePolicyConfig
from strategy.store import PolicyStore

# -- settings -> configs --------------------------------------------------------------------


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
    def anchor(self) -> DigestAnchor | None:
        s = self.settings
        if s.audit_anchor == "none":
            return None
        if s.audit_anchor == "s3":
            return open_anchor(S3AnchorConfig(
                bucket=s.audit_anchor_bucket, prefix=s.audit_anchor_prefix,
                endpoint=s.s3_endpoint or None, region=s.dynamodb_region,
                retention_days=s.audit_anchor_retention_days))
        return open_anchor(DirectoryAnchorConfig(
            path=s.audit_anchor_dir or s.data_dir / "audit-anchors"))

    def digest_writer(self, interval_s: float = 0) -> DigestWriter:
        return DigestWriter(self.audit.heads, self.digest_signer, self.digest_store, interval_s,
                            self.anchor)

    def verify(self, chain_id: str | None = None, jobs: int = 1) -> LogReport:
        """The log against its own latest digest and the anchored one (both signature-checked:
        a digest with a bad signature fails verification outright)."""
        digests = [self.digest_store.latest(), self.anchor.latest() if self.anchor else None]
        for d in digests:
            if d is not None and not d.verify(self.digest_signer.public_key):
                return LogReport(VerifyResult(False, 0, 0, "digest",
                                              f"the digest of {d.issued_at} has a bad "
                                              "signature"), None, None, 0)
        return verify_log(self.audit, [digests[0]] if digests[0] else [], anchored=digests[1],
                          chain_id=chain_id, jobs=jobs)

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
    def cipher(self) -> EnvelopeCipher:
        """The master key that wraps new data keys first, then those that may still unwrap
        (a rotation in progress, docs/runbooks/key-rotation.md)."""
        s = self.settings
        current = (base64.b64decode(s.audit_master_key.get_secret_value())
                   if s.audit_master_key is not None
                   else key_file(s.keys_dir / "audit-master.key"))
        return EnvelopeCipher([current, *s.other_master_keys], self.customer_keys)

    @cached_property
    def protector(self) -> RecordProtector:
        return RecordProtector(self.pseudonymizer, self.cipher)

    @cached_property
    def record_reader(self) -> RecordReader:
        return RecordReader(self.cipher)

    @cached_property
    def eraser(self) -> Eraser:
        return Eraser(self.customer_keys, self.pseudonymizer, self.feature_store,
                      Velocity(self.feature_store, self.pseudonymizer), self.audit)

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

    @cached_property
    def model_admin(self) -> ModelAdmin:
        return ModelAdmin(self.registry, self.audit)

    def new_registry(self) -> ModelRegistry:
        """A registry client of its own (the reloader polls from a background thread)."""
        s = self.settings
        return ModelRegistry(s.mlflow_uri, s.model_name, s.mlflow_artifacts_dir)

    @cached_property
    def api_keys(self) -> ApiKeyStore:
        return ApiKeyStore(self.settings.api_keys_path)

    @cached_property
    def policy_store(self) -> PolicyStore:
        return build_policy_store(policy_config(self.settings))

    @cached_property
    def policy_admin(self) -> PolicyAdmin:
        """Policy versions: propose, approve (four eyes), history; audited."""
        return PolicyAdmin(self.policy_store, self.audit, Policy.load(), COUNTRIES)

    @property
    def policy(self) -> Policy:
        """The live policy version now (the history's, or the bundled one)."""
        return self.policy_admin.live()

    @cached_property
    def backtester(self) -> Backtester:
        """Backtests of a candidate policy/model on the recorded history (Dask)."""
        return Backtester(self.audit, self.record_reader, self.outcome_store,
                          self.monitor.refresh, self.new_registry().load,
                          self.settings.data_dir / "backtests")

    @cached_property
    def review_store(self) -> ReviewStore:
        return build_review_store(review_config(self.settings))

    @cached_property
    def review_projection(self) -> Projection:
        """The review store as a projection of the audit log (review/projection.py)."""
        s = self.settings
        rules = ReviewRules(sla_hours=s.review_sla_hours,
                            second_approver_above=s.review_second_approver_above,
                            notice_days=s.review_notice_days)
        return Projection(self.review_store, rules, self.record_reader.inputs)

    @cached_property
    def review_desk(self) -> ReviewDesk:
        """Reviewer decisions, overrides, contests, notices: the audit log, then the store."""
        return ReviewDesk(self.review_projection, self.audit, ReasonCodes.load(),
                          CustomerSealer(self.protector.cipher))

    def review_projector(self) -> ReviewProjector:
        return ReviewProjector(self.review_projection, self.audit,
                               self.settings.review_sync_interval_s,
                               cpu_share=self.settings.background_cpu_share)

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
        for name in ("customer_keys", "digest_store", "anchor", "audit", "flag_store",
                     "feature_store", "review_store", "outcome_store", "policy_store"):
            if self._opened(name) and getattr(self, name) is not None:
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
    reviews: ReviewDesk
    projector: ReviewProjector
    clients: list[httpx.AsyncClient] = field(default_factory=list)
    breaker_storages: list[SyncedRedisStorage] = field(default_factory=list)
    shared_metrics: list[Collector] = field(default_factory=list)  # read at scrape time
    monitoring: Refresher | None = None
    policies: PolicyReloader | None = None

    @property
    def policy_admin(self) -> PolicyAdmin:
        return self.builder.policy_admin

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
        if self.policies is not None:
            self.policies.start()
        self.projector.start()
        if self.monitoring is not None:
            self.monitoring.start()

    async def aclose(self) -> None:
        self.reloader.stop()
        if self.policies is not None:
            self.policies.stop()
        await asyncio.to_thread(self.projector.stop)
        if self.monitoring is not None:
            self.monitoring.stop()
        for client in self.clients:
            await client.aclose()
        for storage in self.breaker_storages:
            storage.close()
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
    digests = b.digest_writer(settings.audit_digest_interval_s)
    clients = [_http_client(settings.bureau_url, settings),
               _http_client(settings.open_banking_url, settings)]
    storages: list[SyncedRedisStorage] = []
    sources = resilient([bureau_source(clients[0]), open_banking_source(clients[1])],
                        settings, DependencyMetrics(metrics_registry), storages)
    # The cache sits in front: a hit costs no breaker or retry work.
    sources = cached_sources(sources, b.feature_store, settings, b.pseudonymizer)
    decision_metrics = DecisionMetrics(metrics_registry)
    limiter = RateLimiter(settings.rate_limit_per_client, settings.rate_limit_per_customer,
                          settings.rate_limit_storage,
                          on_error=decision_metrics.rate_limit_errors.inc)
    projector = b.review_projector()
    policy_holder = PolicyHolder(b.policy)
    policies = PolicyReloader(b.policy_admin, policy_holder, settings.policy_poll_s)
    orchestrator = Orchestrator(
        scorers=scorers, enricher=Enricher(sources, settings.enrichment_deadline_s),
        arms=Arms(ModelArm(policy_holder), LegacyArm(Scorecard.load())),
        audit=b.audit, committer=GroupCommitter(b.audit), protector=b.protector,
        reason_count=settings.reason_count, metrics=decision_metrics,
        limiter=limiter, velocity=Velocity(b.feature_store, b.pseudonymizer),
        rollout=_rollout(b, metrics_registry), audit_timeout_s=settings.audit_timeout_s,
        feature_timeout_s=settings.feature_store_timeout_s, listeners=[projector.on_decision])
    monitoring = Refresher(b.monitor, MonitoringMetrics(metrics_registry),
                           settings.monitoring_refresh_s, settings.monitoring_performance_days,
                           settings.monitoring_drift_days, settings.background_cpu_share)
    return Services(settings=settings, registry=b.registry, audit=b.audit,
                    orchestrator=orchestrator, metrics_registry=metrics_registry,
                    http_metrics=HttpMetrics(metrics_registry), api_keys=b.api_keys,
                    limiter=limiter, flags=b.flag_admin, digests=digests, reloader=reloader,
                    builder=b, clients=clients, breaker_storages=storages,
                    reviews=b.review_desk, projector=projector,
                    shared_metrics=[ReviewCollector(b.review_store)], monitoring=monitoring,
                    policies=policies)


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


def resilient(sources: list[Source], settings: Settings, metrics: DependencyMetrics,
              storages: list[SyncedRedisStorage]) -> dict[str, Source]:
    """Each source behind its own breaker, with retries inside the decision's deadline; with
    CREDIT_BREAKER_REDIS_URL the breakers' state is shared (appended to `storages`, which
    the caller closes)."""
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
        storage = None
        if redis_client is not None:
            storage = SyncedRedisStorage(f"credit:breaker:{src.name}", redis_client)
            storages.append(storage)
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
    return {name: CachingSource(src, store, ttl[name], pseudonymizer,
                                settings.feature_store_timeout_s) if ttl.get(name) else src
            for name, src in sources.items()}

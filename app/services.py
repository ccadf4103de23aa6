"""The API's object graph (`build_services`, in the FastAPI lifespan): the orchestrator and
everything a request or a background thread of a worker uses, built from the shared
`Builder` (app/builder.py), plus the enrichment sources' HTTP clients, breakers and caches."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx
from prometheus_client import CollectorRegistry
from prometheus_client.registry import Collector

from app.api_keys import ApiKeyStore
from app.builder import Builder
from app.metrics import HttpMetrics, new_registry
from app.settings import Settings
from audit.digest import DigestWriter
from audit.group_commit import GroupCommitter
from audit.keystore import CustomerKeyStore
from audit.pii import Pseudonymizer
from audit.store import AuditStore
from decision.arms import LegacyArm, ModelArm, ShadowRunner
from decision.enrichment import Enricher
from decision.metrics import DecisionMetrics
from decision.orchestrator import Arms, Orchestrator
from decision.policy import PolicyHolder
from decision.ratelimit import RateLimiter
from decision.rollout import Rollout
from feature_flags.admin import FlagAdmin
from feature_flags.live import LiveFlags
from feature_store.protocol import FeatureStore
from feature_store.velocity import Velocity
from models.errors import ModelUnavailable
from models.registry import ModelRegistry
from models.reloader import ModelReloader, ScorerHolder
from models.scorer import Scorer
from monitoring.ingest import OutcomeIngestor
from monitoring.metrics import MonitoringMetrics, Refresher
from monitoring.service import Monitor
from review.desk import ReviewDesk
from review.metrics import ReviewCollector
from review.projector import ReviewProjector
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
from strategy.live import PolicyReloader


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
        self.projector.start(catch_up=self.settings.passes_in_workers)
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
    listeners = [projector.on_decision]
    in_workers = settings.passes_in_workers  # else `credit background` runs them
    if in_workers and settings.monitoring_refresh_s > 0:  # only its passes drop what it keeps
        listeners.append(b.monitor.projector.on_decision)
    policy_holder = PolicyHolder(b.policy)
    policies = PolicyReloader(b.policy_admin, policy_holder, settings.policy_poll_s)
    orchestrator = Orchestrator(
        scorers=scorers, enricher=Enricher(sources, settings.enrichment_deadline_s),
        arms=Arms(ModelArm(policy_holder), LegacyArm(Scorecard.load())),
        audit=b.audit, committer=GroupCommitter(b.audit), protector=b.protector,
        reason_count=settings.reason_count, metrics=decision_metrics,
        limiter=limiter, velocity=Velocity(b.feature_store, b.pseudonymizer),
        rollout=_rollout(b, metrics_registry), audit_timeout_s=settings.audit_timeout_s,
        feature_timeout_s=settings.feature_store_timeout_s, listeners=listeners)
    monitoring = Refresher(b.monitor, MonitoringMetrics(metrics_registry),
                           settings.monitoring_refresh_s, settings.monitoring_performance_days,
                           settings.monitoring_drift_days, settings.background_cpu_share,
                           project=in_workers)
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

"""Wiring: build the object graph from settings, in one place. Tests call this with their own
settings (temporary data dir, simulator URLs) to assemble the same app on other backends."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

import httpx
from prometheus_client import CollectorRegistry

from app.adapters.base import Source
from app.adapters.breaker_storage import FallbackRedisStorage
from app.adapters.bureau import bureau_source
from app.adapters.metrics import BreakerStateListener, DependencyMetrics
from app.adapters.open_banking import open_banking_source
from app.adapters.resilience import ResilientSource, RetryPolicy, new_breaker
from app.auth import ApiKeyStore
from app.enrichment import Enricher
from app.errors import ModelUnavailable
from app.feature_store.cached_source import CachingSource
from app.feature_store.factory import build_store, config_from_settings
from app.feature_store.protocol import FeatureStore
from app.feature_store.velocity import Velocity
from app.metrics import DecisionMetrics, new_registry
from app.orchestrator import Orchestrator
from app.policy import Policy
from app.ratelimit import RateLimiter
from app.settings import Settings
from audit.digest import DigestSigner, DigestStore, DigestWriter, SQLiteDigestStore
from audit.group_commit import GroupCommitter
from audit.keystore import CustomerKeyStore, SQLiteCustomerKeyStore
from audit.pii import EnvelopeCipher, Pseudonymizer, RecordProtector
from audit.sqlite import SQLiteAuditStore
from audit.store import AuditStore
from feature_flags.admin import FlagAdmin
from feature_flags.bucketing import Bucketer
from feature_flags.live import LiveFlags
from feature_flags.store import FlagStore
from models.registry import ModelRegistry
from models.reloader import ModelReloader, ScorerHolder
from models.scorer import Scorer
from shadow.arms import LegacyArm, ModelArm, ShadowRunner
from shadow.metrics import RolloutMetrics
from shadow.rollout import Rollout
from shadow.scorecard import Scorecard


@dataclass
class Services:
    settings: Settings
    registry: ModelRegistry
    audit: AuditStore
    orchestrator: Orchestrator
    metrics_registry: CollectorRegistry
    api_keys: ApiKeyStore
    limiter: RateLimiter
    clients: list[httpx.AsyncClient] = field(default_factory=list)
    feature_store: FeatureStore | None = None
    flags: FlagAdmin | None = None
    digests: DigestWriter | None = None
    customer_keys: CustomerKeyStore | None = None

    reloader: ModelReloader | None = None

    async def start(self) -> None:
        if self.digests is not None:
            self.digests.start()
        if self.reloader is not None:
            self.reloader.start()

    async def aclose(self) -> None:
        if self.reloader is not None:
            self.reloader.stop()
        for client in self.clients:
            await client.aclose()
        if self.orchestrator.rollout is not None:
            self.orchestrator.rollout.close()
        if self.flags is not None:
            self.flags.store.close()
        if self.digests is not None:
            await self.digests.stop()  # a last digest over the final heads
            self.digests.store.close()
        if self.customer_keys is not None:
            self.customer_keys.close()
        self.audit.close()
        if self.feature_store is not None:
            self.feature_store.close()


def pseudonymizer_for(settings: Settings) -> Pseudonymizer:
    if settings.pseudonym_key is not None:
        return Pseudonymizer(settings.pseudonym_key.get_secret_value().encode())
    return Pseudonymizer.from_key_file(settings.keys_dir / "pseudonym.key")


def flag_store_for(settings: Settings) -> FlagStore:
    if settings.flag_store == "redis":
        from feature_flags.redis import RedisFlagStore

        return RedisFlagStore(settings.redis_url)
    from feature_flags.file import FileFlagStore

    return FileFlagStore(settings.flags_path)


def bucketer_for(settings: Settings) -> Bucketer:
    if settings.bucket_key is not None:
        return Bucketer(settings.bucket_key.get_secret_value().encode())
    return Bucketer.from_key_file(settings.keys_dir / "bucket.key")


def flag_admin_for(settings: Settings, audit: AuditStore) -> FlagAdmin:
    """Flag changes (`credit flags set`, PUT /v1/flags): the store plus the audit log."""
    return FlagAdmin(flag_store_for(settings), audit, settings.flags_default_mode)


def rollout_for(settings: Settings, policy: Policy, registry: CollectorRegistry) -> Rollout:
    metrics = RolloutMetrics(registry)
    flags = LiveFlags(flag_store_for(settings), settings.flags_default_mode,
                      settings.flag_poll_interval_s,
                      on_error=lambda _: metrics.flag_errors.inc())
    flags.start()
    return Rollout(flags, bucketer_for(settings), LegacyArm(Scorecard.load()), ModelArm(policy),
                   ShadowRunner(settings.shadow_budget_ms / 1000, settings.shadow_slots), metrics)
def envelope_cipher_for(settings: Settings, keys: CustomerKeyStore) -> EnvelopeCipher:
    if settings.audit_master_key is not None:
        return EnvelopeCipher(base64.b64decode(settings.audit_master_key.get_secret_value()), keys)
    return EnvelopeCipher.from_key_file(settings.keys_dir / "audit-master.key", keys)


def _dynamodb(settings: Settings) -> dict[str, str | None]:
    """Where the audit log's DynamoDB tables are (its store, digests and customer keys)."""
    return {"endpoint": settings.dynamodb_endpoint or None, "region": settings.dynamodb_region}


def customer_key_store_for(settings: Settings) -> CustomerKeyStore:
    """Beside the audit store: on DynamoDB every host shares the keys, so an erasure
    reaches all of them."""
    if settings.audit_store == "dynamodb":
        from audit.dynamodb import DynamoDBCustomerKeyStore

        return DynamoDBCustomerKeyStore(settings.dynamodb_table_prefix, **_dynamodb(settings))
    return SQLiteCustomerKeyStore(settings.audit_customer_keys_path)


def record_protector_for(settings: Settings) -> RecordProtector:
    return RecordProtector(pseudonymizer_for(settings),
                           envelope_cipher_for(settings, customer_key_store_for(settings)))


def audit_store_for(settings: Settings) -> AuditStore:
    if settings.audit_store == "dynamodb":
        from audit.dynamodb import DynamoDBAuditStore

        return DynamoDBAuditStore(settings.dynamodb_table_prefix, **_dynamodb(settings))
    return SQLiteAuditStore(settings.audit_db_path)


def digest_store_for(settings: Settings) -> DigestStore:
    if settings.audit_store == "dynamodb":
        from audit.dynamodb import DynamoDBDigestStore

        return DynamoDBDigestStore(settings.dynamodb_table_prefix, **_dynamodb(settings))
    return SQLiteDigestStore(settings.audit_digest_db_path)


def digest_signer_for(settings: Settings) -> DigestSigner:
    if settings.audit_signing_key is not None:
        return DigestSigner.from_pem(settings.audit_signing_key.get_secret_value().encode())
    return DigestSigner.from_key_file(settings.keys_dir / "audit-digest.pem")


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
    redis_client = None
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


def build_services(settings: Settings) -> Services:
    if not settings.bureau_url or not settings.open_banking_url:
        raise ModelUnavailable("CREDIT_BUREAU_URL and CREDIT_OPEN_BANKING_URL must be set "
                               "(`credit serve` starts the simulators and sets them)")
    settings.ensure_data_dir()
    metrics_registry = new_registry()
    registry = ModelRegistry(settings.mlflow_uri, settings.model_name,
                             settings.mlflow_artifacts_dir)
    scorers = ScorerHolder(Scorer(registry.load_alias(settings.model_alias)))
    # Its own registry client: the reloader polls from a background thread.
    reloader = ModelReloader(ModelRegistry(settings.mlflow_uri, settings.model_name,
                                           settings.mlflow_artifacts_dir),
                             settings.model_alias, scorers, settings.model_poll_s)
    audit = audit_store_for(settings)
    digests = DigestWriter(audit.heads, digest_signer_for(settings), digest_store_for(settings),
                           settings.audit_digest_interval_s)
    bureau_client = _http_client(settings.bureau_url, settings)
    ob_client = _http_client(settings.open_banking_url, settings)
    sources = resilient([bureau_source(bureau_client), open_banking_source(ob_client)],
                        settings, DependencyMetrics(metrics_registry))
    limiter = RateLimiter(settings.rate_limit_per_client, settings.rate_limit_per_customer,
                          settings.rate_limit_storage)
    pseudonymizer = pseudonymizer_for(settings)
    feature_store = build_store(config_from_settings(settings))
    # The cache sits in front: a hit costs no breaker or retry work.
    sources = cached_sources(sources, feature_store, settings, pseudonymizer)
    protector = record_protector_for(settings)
    policy = Policy.load()
    orchestrator = Orchestrator(
        scorer=scorers, enricher=Enricher(sources, settings.enrichment_deadline_s),
        policy=policy, audit=audit, committer=GroupCommitter(audit),
        protector=protector, reason_count=settings.reason_count,
        metrics=DecisionMetrics(metrics_registry), limiter=limiter,
        velocity=Velocity(feature_store, pseudonymizer),
        rollout=rollout_for(settings, policy, metrics_registry))
    return Services(settings=settings, registry=registry, audit=audit, orchestrator=orchestrator,
                    metrics_registry=metrics_registry, api_keys=ApiKeyStore(settings.api_keys_path),
                    limiter=limiter, clients=[bureau_client, ob_client], feature_store=feature_store,
                    flags=flag_admin_for(settings, audit), digests=digests,
                    customer_keys=protector.cipher.keys, reloader=reloader)


def cached_sources(sources: dict[str, Source], store: FeatureStore, settings: Settings,
                   pseudonymizer: Pseudonymizer) -> dict[str, Source]:
    """Wrap each source in a CachingSource with its TTL from settings (0: not cached)."""
    ttl = {"bureau": settings.bureau_cache_ttl_s,
           "open_banking": settings.open_banking_cache_ttl_s}
    return {name: CachingSource(src, store, ttl[name], pseudonymizer) if ttl.get(name) else src
            for name, src in sources.items()}

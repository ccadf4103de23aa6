"""Wiring: build the object graph from settings, in one place. Tests call this with their own
settings (temporary data dir, simulator URLs) to assemble the same app on other backends."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

import httpx
from prometheus_client import CollectorRegistry

from app.adapters.base import Source
from app.adapters.bureau import bureau_source
from app.adapters.open_banking import open_banking_source
from app.enrichment import Enricher
from app.errors import ModelUnavailable
from app.metrics import DecisionMetrics, new_registry
from app.orchestrator import Orchestrator
from app.policy import Policy
from app.settings import Settings
from audit.digest import DigestSigner, DigestStore, DigestWriter, SQLiteDigestStore
from audit.group_commit import GroupCommitter
from audit.keystore import CustomerKeyStore, SQLiteCustomerKeyStore
from audit.pii import EnvelopeCipher, Pseudonymizer, RecordProtector
from audit.sqlite import SQLiteAuditStore
from audit.store import AuditStore
from models.registry import ModelRegistry
from models.scorer import Scorer


@dataclass
class Services:
    settings: Settings
    registry: ModelRegistry
    audit: AuditStore
    orchestrator: Orchestrator
    metrics_registry: CollectorRegistry
    clients: list[httpx.AsyncClient] = field(default_factory=list)
    digests: DigestWriter | None = None
    customer_keys: CustomerKeyStore | None = None

    async def start(self) -> None:
        if self.digests is not None:
            self.digests.start()

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()
        if self.digests is not None:
            await self.digests.stop()  # a last digest over the final heads
            self.digests.store.close()
        if self.customer_keys is not None:
            self.customer_keys.close()
        self.audit.close()


def pseudonymizer_for(settings: Settings) -> Pseudonymizer:
    if settings.pseudonym_key is not None:
        return Pseudonymizer(settings.pseudonym_key.get_secret_value().encode())
    return Pseudonymizer.from_key_file(settings.keys_dir / "pseudonym.key")


def envelope_cipher_for(settings: Settings, keys: CustomerKeyStore) -> EnvelopeCipher:
    if settings.audit_master_key is not None:
        return EnvelopeCipher(base64.b64decode(settings.audit_master_key.get_secret_value()), keys)
    return EnvelopeCipher.from_key_file(settings.keys_dir / "audit-master.key", keys)


def record_protector_for(settings: Settings) -> RecordProtector:
    keys = SQLiteCustomerKeyStore(settings.audit_customer_keys_path)
    return RecordProtector(pseudonymizer_for(settings), envelope_cipher_for(settings, keys))


def audit_store_for(settings: Settings) -> AuditStore:
    if settings.audit_store == "dynamodb":
        from audit.dynamodb import DynamoDBAuditStore

        return DynamoDBAuditStore(settings.dynamodb_table_prefix,
                                  endpoint=settings.dynamodb_endpoint or None,
                                  region=settings.dynamodb_region)
    return SQLiteAuditStore(settings.audit_db_path)


def digest_store_for(settings: Settings) -> DigestStore:
    if settings.audit_store == "dynamodb":
        from audit.dynamodb import DynamoDBDigestStore

        return DynamoDBDigestStore(settings.dynamodb_table_prefix,
                                   endpoint=settings.dynamodb_endpoint or None,
                                   region=settings.dynamodb_region)
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


def build_services(settings: Settings) -> Services:
    if not settings.bureau_url or not settings.open_banking_url:
        raise ModelUnavailable("CREDIT_BUREAU_URL and CREDIT_OPEN_BANKING_URL must be set "
                               "(`credit serve` starts the simulators and sets them)")
    settings.ensure_data_dir()
    metrics_registry = new_registry()
    registry = ModelRegistry(settings.mlflow_uri, settings.model_name,
                             settings.mlflow_artifacts_dir)
    scorer = Scorer(registry.load_alias(settings.model_alias))
    audit = audit_store_for(settings)
    digests = DigestWriter(audit.heads, digest_signer_for(settings), digest_store_for(settings),
                           settings.audit_digest_interval_s)
    bureau_client = _http_client(settings.bureau_url, settings)
    ob_client = _http_client(settings.open_banking_url, settings)
    sources: dict[str, Source] = {"bureau": bureau_source(bureau_client),
                                  "open_banking": open_banking_source(ob_client)}
    protector = record_protector_for(settings)
    orchestrator = Orchestrator(
        scorer=scorer, enricher=Enricher(sources, settings.enrichment_deadline_s),
        policy=Policy.load(), audit=audit, committer=GroupCommitter(audit),
        pseudonymizer=protector, reason_count=settings.reason_count,
        metrics=DecisionMetrics(metrics_registry))
    return Services(settings, registry, audit, orchestrator, metrics_registry,
                    [bureau_client, ob_client], digests, protector.cipher.keys)

"""Wiring: build the object graph from settings, in one place. Tests call this with their own
settings (temporary data dir, simulator URLs) to assemble the same app on other backends."""

from __future__ import annotations

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
from audit.group_commit import GroupCommitter
from audit.pii import Pseudonymizer
from audit.sqlite import SQLiteAuditStore
from audit.store import AuditStore
from models.registry import ModelRegistry
from models.reloader import ModelReloader, ScorerHolder
from models.scorer import Scorer


@dataclass
class Services:
    settings: Settings
    registry: ModelRegistry
    audit: AuditStore
    orchestrator: Orchestrator
    metrics_registry: CollectorRegistry
    clients: list[httpx.AsyncClient] = field(default_factory=list)
    reloader: ModelReloader | None = None

    async def aclose(self) -> None:
        if self.reloader is not None:
            self.reloader.stop()
        for client in self.clients:
            await client.aclose()
        self.audit.close()


def pseudonymizer_for(settings: Settings) -> Pseudonymizer:
    if settings.pseudonym_key is not None:
        return Pseudonymizer(settings.pseudonym_key.get_secret_value().encode())
    return Pseudonymizer.from_key_file(settings.keys_dir / "pseudonym.key")


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
    scorers = ScorerHolder(Scorer(registry.load_alias(settings.model_alias)))
    # Its own registry client: the reloader polls from a background thread.
    reloader = ModelReloader(ModelRegistry(settings.mlflow_uri, settings.model_name,
                                           settings.mlflow_artifacts_dir),
                             settings.model_alias, scorers, settings.model_poll_s)
    audit = SQLiteAuditStore(settings.audit_db_path)
    bureau_client = _http_client(settings.bureau_url, settings)
    ob_client = _http_client(settings.open_banking_url, settings)
    sources: dict[str, Source] = {"bureau": bureau_source(bureau_client),
                                  "open_banking": open_banking_source(ob_client)}
    orchestrator = Orchestrator(
        scorer=scorers, enricher=Enricher(sources, settings.enrichment_deadline_s),
        policy=Policy.load(), audit=audit, committer=GroupCommitter(audit),
        pseudonymizer=pseudonymizer_for(settings), reason_count=settings.reason_count,
        metrics=DecisionMetrics(metrics_registry))
    reloader.start()
    return Services(settings, registry, audit, orchestrator, metrics_registry,
                    [bureau_client, ob_client], reloader)

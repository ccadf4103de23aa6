"""Wiring, in one place: every store and service chosen by settings and built once. The API
(`build_services` in app/services.py, in the FastAPI lifespan) and every CLI command build
through `Builder`, so a setting such as CREDIT_AUDIT_STORE means the same thing everywhere.
Tests call these with their own settings (temporary data dir, simulator URLs, other
backends).

Each port has a config model per backend and a factory in its own package (Feast-style):
audit.factory, feature_flags.factory, feature_store.factory; app/configs.py turns settings
into those configs.
"""

from __future__ import annotations

import base64
from functools import cached_property
from typing import TYPE_CHECKING

from app.api_keys import ApiKeyStore
from app.configs import (
    audit_config,
    feature_config,
    flag_config,
    outcome_config,
    policy_config,
    review_config,
)
from app.settings import Settings
from audit.anchor import DigestAnchor, DirectoryAnchorConfig
from audit.digest import DigestSigner, DigestStore, DigestWriter
from audit.factory import open_anchor, open_digests, open_keys, open_log
from audit.keystore import CustomerKeyStore
from audit.pii import EnvelopeCipher, Pseudonymizer, RecordProtector, RecordReader
from audit.s3_anchor import S3AnchorConfig
from audit.store import AuditStore
from audit.verify import LogReport, VerifyResult, verify_log
from core.keyfile import load_or_create
from decision.application import COUNTRIES
from decision.erasure import Eraser
from decision.policy import Policy
from feature_flags.admin import FlagAdmin
from feature_flags.bucketing import Bucketer
from feature_flags.factory import build_flag_store
from feature_flags.store import FlagStore
from feature_store.factory import build_store
from feature_store.protocol import FeatureStore
from feature_store.velocity import Velocity
from monitoring.factory import open_outcome_store
from monitoring.ingest import OutcomeIngestor
from monitoring.store import OutcomeStore
from review.desk import ReviewDesk
from review.factory import build_review_store
from review.model import ReviewRules
from review.projection import Projection
from review.projector import ReviewProjector
from review.reasons import ReasonCodes
from review.sealing import CustomerSealer
from review.store import ReviewStore
from strategy.admin import PolicyAdmin
from strategy.factory import build_policy_store
from strategy.store import PolicyStore

if TYPE_CHECKING:
    # Imported where built: with LightGBM, scikit-learn, SciPy and pandas they cost ~1.5 s,
    # which only what scores, monitors or backtests pays (`credit audit ...` starts without).
    from models.admin import ModelAdmin
    from models.registry import ModelRegistry
    from monitoring.service import Monitor
    from strategy.jobs import Backtester

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
                   else load_or_create(s.keys_dir / "audit-master.key"))
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
        from models.admin import ModelAdmin

        return ModelAdmin(self.registry, self.audit)

    def new_registry(self) -> ModelRegistry:
        """A registry client of its own (the reloader polls from a background thread)."""
        from models.registry import ModelRegistry

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
        from strategy.jobs import Backtester

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
        from monitoring.drift import Thresholds
        from monitoring.projection import Projector, ReferenceCache
        from monitoring.service import Monitor, MonitorConfig

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

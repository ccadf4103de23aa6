"""Model registry on MLflow: register versions, move aliases, load a version's booster natively.

The booster is read straight from the version's artifacts with lightgbm (not through the
pandas pyfunc wrapper, which costs 25-40x per single-row prediction).

Aliases: `challenger` (a newly trained version) and `champion` (the one the API serves).
Every alias change is recorded in MLflow itself, as a registered-model tag
`alias_event.<nanoseconds>` holding JSON {alias, version, previous, action, who, when, why,
forced}; the history is those tags in order. Release gates travel as model-version tags
(`gates` = passed | failed, `gate.<name>` = pass | fail), written by `credit train`.
"""

from __future__ import annotations

import getpass
import json
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lightgbm as lgb

from models.errors import ModelUnavailable, PromotionRefused

EXPERIMENT = "credit-training"
EVENT_PREFIX = "alias_event."
REFERENCE_TAG = "reference"  # model-version tag: run artifact path of the training reference


@dataclass(frozen=True)
class LoadedModel:
    name: str
    version: str
    run_id: str
    booster: lgb.Booster
    meta: dict[str, Any]


@dataclass(frozen=True)
class AliasEvent:
    alias: str
    version: str
    previous: str | None
    action: str       # register | promote | rollback | set
    who: str
    when: str         # ISO 8601, UTC
    why: str
    forced: bool = False


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "unknown"


class ModelRegistry:
    def __init__(self, tracking_uri: str, model_name: str, artifacts_dir: Path) -> None:
        from mlflow import MlflowClient

        self.tracking_uri = tracking_uri
        self.model_name = model_name
        self.artifacts_dir = artifacts_dir
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    def experiment_id(self) -> str:
        exp = self.client.get_experiment_by_name(EXPERIMENT)
        if exp is not None:
            return exp.experiment_id
        # Explicit artifact location, or MLflow writes to ./mlruns of the working directory.
        self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        return self.client.create_experiment(EXPERIMENT, artifact_location=self.artifacts_dir.as_uri())

    def version_for(self, alias: str) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            return str(self.client.get_model_version_by_alias(self.model_name, alias).version)
        except MlflowException:
            return None

    # -- aliases and their history -------------------------------------------------------

    def set_alias(self, alias: str, version: str, *, action: str = "set", who: str | None = None,
                  why: str = "", forced: bool = False) -> AliasEvent:
        """Point `alias` at `version` and record who, when and why."""
        previous = self.version_for(alias)
        self.client.set_registered_model_alias(self.model_name, alias, str(version))
        event = AliasEvent(alias, str(version), previous, action, who or current_user(),
                           datetime.now(UTC).isoformat(timespec="seconds"), why, forced)
        self.client.set_registered_model_tag(self.model_name, f"{EVENT_PREFIX}{time.time_ns()}",
                                             json.dumps(asdict(event)))
        return event

    def restore_alias(self, event: AliasEvent) -> None:
        """Undo `event` (its change could not be audited): the alias back where it was."""
        if event.previous is None:
            self.client.delete_registered_model_alias(self.model_name, event.alias)
        else:
            self.client.set_registered_model_alias(self.model_name, event.alias, event.previous)
        self.client.set_registered_model_tag(
            self.model_name, f"{EVENT_PREFIX}{time.time_ns()}",
            json.dumps(asdict(AliasEvent(event.alias, event.previous or "", event.version,
                                         "set", event.who, datetime.now(UTC).isoformat(
                                             timespec="seconds"),
                                         "reverted: the change could not be audited"))))

    def history(self, alias: str | None = None) -> list[AliasEvent]:
        """Every recorded alias change, oldest first (optionally of one alias)."""
        tags = self.client.get_registered_model(self.model_name).tags
        events = [AliasEvent(**json.loads(v)) for k, v in
                  sorted(tags.items(), key=lambda kv: kv[0]) if k.startswith(EVENT_PREFIX)]
        return [e for e in events if alias is None or e.alias == alias]

    def gates_passed(self, version: str) -> bool | None:
        """True/False from the version's `gates` tag; None when it was never gated."""
        tags = self.client.get_model_version(self.model_name, str(version)).tags
        value = tags.get("gates")
        return None if value is None else value == "passed"

    def promote(self, version: str, *, who: str | None = None, reason: str = "",
                force: bool = False, alias: str = "champion") -> AliasEvent:
        """Make `version` the champion. A version whose gates failed (or were never checked)
        is refused unless `force`, which needs a reason; both are recorded."""
        self.client.get_model_version(self.model_name, str(version))  # raises if unknown
        passed = self.gates_passed(version)
        if passed is not True:
            state = "failed" if passed is False else "were never checked"
            if not force:
                raise PromotionRefused(f"version {version}: release gates {state}; "
                                       "use --force --reason TEXT to promote anyway")
            if not reason.strip():
                raise PromotionRefused("--force needs --reason TEXT (it is recorded)")
        return self.set_alias(alias, version, action="promote", who=who,
                              why=reason or "promote", forced=passed is not True)

    def champion_stack(self, alias: str = "champion") -> list[str]:
        """Versions that served, replayed from history: a promotion pushes, a rollback pops."""
        stack: list[str] = []
        for e in self.history(alias):
            if e.action == "rollback":
                if stack:
                    stack.pop()
            elif not stack or stack[-1] != e.version:
                stack.append(e.version)
        return stack

    def rollback(self, *, who: str | None = None, reason: str = "",
                 alias: str = "champion") -> AliasEvent:
        """Point the champion back at the version that served before the current one."""
        stack = self.champion_stack(alias)
        current = self.version_for(alias)
        if len(stack) < 2 or stack[-1] != current:
            raise PromotionRefused(f"no previous {alias} to roll back to "
                                   f"(current: {current}, history: {stack})")
        return self.set_alias(alias, stack[-2], action="rollback", who=who,
                              why=reason or "rollback")

    # -- loading ---------------------------------------------------------------------------

    def load(self, version: str) -> LoadedModel:
        import mlflow.artifacts
        from mlflow.models import Model

        mv = self.client.get_model_version(self.model_name, str(version))
        # Resolved through this registry's own client: a `models:/` URI would be resolved against
        # the process-wide registry URI, which may be another registry (tests, tools).
        uri = self.client.get_model_version_download_uri(self.model_name, str(version))
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri,
                                                         tracking_uri=self.tracking_uri))
        booster = lgb.Booster(model_file=str(local / "model.lgb"))
        # Feature set version and calibration travel in the MLmodel file's metadata.
        meta = Model.load(str(local / "MLmodel")).metadata or {}
        return LoadedModel(self.model_name, str(mv.version), mv.run_id or "", booster, meta)

    def reference(self, version: str) -> dict[str, Any] | None:
        """The version's training reference distribution (monitoring.reference, written by
        `credit train`); None for an unknown version or one trained without it."""
        import mlflow.artifacts
        from mlflow.exceptions import MlflowException

        try:
            mv = self.client.get_model_version(self.model_name, str(version))
        except MlflowException as exc:
            if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return None
            raise
        path = mv.tags.get(REFERENCE_TAG)
        if not path or not mv.run_id:
            return None
        with tempfile.TemporaryDirectory(prefix="reference-") as tmp:
            local = mlflow.artifacts.download_artifacts(run_id=mv.run_id, artifact_path=path,
                                                        dst_path=tmp,
                                                        tracking_uri=self.tracking_uri)
            return json.loads(Path(local).read_text())

    def load_alias(self, alias: str) -> LoadedModel:
        version = self.version_for(alias)
        if version is None:
            raise ModelUnavailable(
                f"no version of model '{self.model_name}' has alias '{alias}'; run `credit train`")
        return self.load(version)

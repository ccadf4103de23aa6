"""The backtest as one job, for the CLI and the console alike: the window's history extracted
from the audit log (with outcomes from the monitoring read model), the models it needs loaded
once, the candidate re-decided on Dask, the report. Reports are kept per candidate, model,
window and audit log position, so the console shows a proposal's backtest without running it
again on every view."""

from __future__ import annotations

import hashlib
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from audit.pii import RecordReader
from audit.store import AuditStore
from models.registry import LoadedModel
from monitoring.store import OutcomeStore
from strategy.backtest import Candidate, ShippedModel, report, run
from strategy.errors import ModelVersionNotFound
from strategy.history import Window, extract, outcomes_of


class Backtester:
    def __init__(self, audit: AuditStore, reader: RecordReader, outcomes: OutcomeStore,
                 refresh: Callable[[], Any], load_model: Callable[[str], LoadedModel],
                 work_dir: Path) -> None:
        self.audit = audit
        self.reader = reader
        self.outcomes = outcomes
        self.refresh = refresh
        self.load_model = load_model
        self.work_dir = work_dir
        self._models: dict[str, ShippedModel] = {}
        self._reports: dict[tuple, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def extract(self, window: Window, out: Path) -> int:
        self.refresh()  # the read model's outcomes up to the log's end
        return extract(self.audit, self.reader, outcomes_of(self.outcomes, window), window,
                       out)

    def _model(self, version: str) -> ShippedModel:
        if version not in self._models:
            try:
                model = self.load_model(version)
            except Exception as exc:
                # The registry's own "does not exist" (MLflow's RESOURCE_DOES_NOT_EXIST);
                # anything else (the registry unreachable, ...) stays what it is.
                if getattr(exc, "error_code", None) == "RESOURCE_DOES_NOT_EXIST":
                    raise ModelVersionNotFound(f"no model version {version!r} in the "
                                               "registry") from None
                raise
            self._models[version] = ShippedModel.of(model)
        return self._models[version]

    def on_parts(self, policy_text: str, model: str | None, parts: list[str],
                 client: Any = None) -> dict[str, Any]:
        versions = {model} if model else set()
        if not model and parts:
            versions = set(pd.read_parquet(parts, columns=["model_version"])["model_version"]
                           .dropna().astype(str).unique())
        candidate = Candidate(policy_text, {v: self._model(v) for v in versions}, model)
        return report(run(parts, candidate, client), candidate).to_json()

    def run(self, policy_text: str, model: str | None, window: Window,
            client: Any = None, history: Path | None = None) -> dict[str, Any]:
        """The report, with the seconds each stage took."""
        seconds: dict[str, float] = {}
        self.work_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.work_dir) as tmp:
            t = time.perf_counter()
            if history is None:
                history = Path(tmp) / "history"
                self.extract(window, history)
            seconds["extract_s"] = round(time.perf_counter() - t, 3)
            parts = sorted(str(p) for p in history.glob("*.parquet"))
            t = time.perf_counter()
            out = self.on_parts(policy_text, model, parts, client)
            seconds["backtest_s"] = round(time.perf_counter() - t, 3)
        out["window"] = {"since": window.since, "until": window.until, "country": window.country}
        out["seconds"] = seconds
        return out

    def cached(self, policy_text: str, model: str | None, window: Window,
               client: Any = None) -> dict[str, Any]:
        """`run`, kept until the audit log moves on (a new record means new history)."""
        heads = tuple(sorted((h.chain_id, h.seq) for h in self.audit.heads()))
        key = (hashlib.sha256(policy_text.encode()).hexdigest(), model, window, heads)
        with self._lock:
            if key in self._reports:
                return self._reports[key]
        out = self.run(policy_text, model, window, client)
        with self._lock:
            self._reports = {key: out, **{k: v for k, v in list(self._reports.items())[-15:]}}
        return out

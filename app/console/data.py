"""What the rollout, models and audit pages show, gathered from the services (blocking calls:
the routes run these in a thread)."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path
from typing import Any

from audit.records import DecisionRecord, parse_record
from decision.application import COUNTRIES
from feature_flags.history import flag_history
from shadow import concordance


def rollout_view(services: Any, since: date | None) -> dict[str, Any]:
    """Flags, their change history, concordance (overall, per country, per day) and the
    approval / refer rates per deciding arm, from one pass over the audit log (a scan:
    fine for the console's scale, see docs/console.md)."""
    lo = since.isoformat() if since else ""
    entries = list(services.audit.entries())
    decisions = []
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    for e in entries:
        if b'"type":"decision"' not in e.body:
            continue
        rec = parse_record(e.body)
        if isinstance(rec, DecisionRecord) and rec.decided_at[:10] >= lo:
            decisions.append(e)
            outcomes[rec.response.decided_by][rec.response.outcome] += 1
    history = flag_history(entries)
    rates = {}
    for arm, counts in sorted(outcomes.items()):
        n = sum(counts.values())
        rates[arm] = {"n": n, "approve": counts["approve"] / n, "refer": counts["refer"] / n,
                      "decline": counts["decline"] / n}
    rollout = services.orchestrator.rollout
    flags = [rollout.flags.get(c) if rollout else services.flags.current(c) for c in COUNTRIES]
    return {"flags": flags, "history": history, "rates": rates,
            "concordance": concordance.report(decisions, since=since)}


def _artifact_json(registry: Any, run_id: str, path: str) -> Any:
    import mlflow.artifacts

    tmp = tempfile.mkdtemp(prefix="console-")
    try:
        local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path,
                                                    dst_path=tmp,
                                                    tracking_uri=registry.tracking_uri)
        return json.loads(Path(local).read_text())
    except Exception:  # noqa: BLE001 - a version without this artifact (not trained by us)
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def models_view(registry: Any) -> dict[str, Any]:
    client = registry.client
    versions = sorted(client.search_model_versions(f"name='{registry.model_name}'"),
                      key=lambda v: int(v.version), reverse=True)
    aliases = client.get_registered_model(registry.model_name).aliases
    by_version: dict[str, list[str]] = defaultdict(list)
    for alias, version in aliases.items():
        by_version[str(version)].append(alias)
    rows = []
    for v in versions:
        gates = _artifact_json(registry, v.run_id, "gates/gates.json") if v.run_id else None
        fairness = (_artifact_json(registry, v.run_id, "fairness/fairness.json")
                    if v.run_id else None)
        rows.append({"version": str(v.version), "aliases": sorted(by_version[str(v.version)]),
                     "created": v.creation_timestamp, "run_id": v.run_id,
                     "gates": v.tags.get("gates"), "gate_results": (gates or {}).get("gates", []),
                     "fairness": fairness or {}, "has_card": bool(v.tags.get("model_card"))})
    return {"versions": rows, "aliases": dict(aliases), "history": list(reversed(registry.history())),
            "model_name": registry.model_name}


def model_card_html(registry: Any, version: str) -> str | None:
    import mlflow.artifacts

    mv = registry.client.get_model_version(registry.model_name, version)
    path = mv.tags.get("model_card")
    if not path or not mv.run_id:
        return None
    tmp = tempfile.mkdtemp(prefix="console-card-")
    try:
        local = mlflow.artifacts.download_artifacts(run_id=mv.run_id, artifact_path=path,
                                                    dst_path=tmp,
                                                    tracking_uri=registry.tracking_uri)
        return Path(local).read_text()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def audit_view(services: Any) -> dict[str, Any]:
    """The whole log verified as GET /v1/audit/verify does, and the latest digest."""
    b = services.builder
    report = b.verify()
    r = report.result
    digest = b.digest_store.latest()
    return {"ok": r.ok, "checked": r.checked, "chains": r.chains, "first_bad": r.first_bad,
            "problem": r.problem, "summary": report.summary(),
            "digest": digest.to_json() if digest else None,
            "signed": digest is not None and digest.verify(b.digest_signer.public_key)}

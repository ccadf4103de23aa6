"""`credit monitor report --html FILE`: the post-market monitoring report for the risk
committee, one section per model version that decided in the period: realized against
expected bad rates with intervals, calibration, discrimination, the shadow counterfactual,
drift against the version's training reference, and where the figures come from (outcome
batches as recorded in the audit log, the read model's freshness)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from monitoring import charts
from monitoring.service import Monitor
from monitoring.store import Period

TEMPLATES = Path(__file__).parent / "templates"
OVER_EXPECTED = 1.25  # a realized bad rate whose lower bound is this far above the mean PD
LISTED_BATCHES = 50


def findings(groups: list[dict[str, Any]], drift: dict[str, Any]) -> list[str]:
    """What the committee should look at first, in plain words."""
    out = []
    for g in groups:
        name = f"{g['country']} {g['decided_by']}"
        ci, expected = g["bad_rate_approved_ci"], g["mean_pd_approved"]
        if ci and expected and ci[0] > expected * OVER_EXPECTED:
            out.append(f"{name}: realized bad rate {g['bad_rate_approved']:.1%} (95% interval "
                       f"{ci[0]:.1%}-{ci[1]:.1%}) is above the expected {expected:.1%}.")
        off = [b for b in g["calibration"] if not b["within_interval"]]
        if off:
            bands = ", ".join(f"{b['pd_band'][0]:.0%}-{b['pd_band'][1]:.0%}" for b in off)
            out.append(f"{name}: mean PD outside the observed 95% interval in band(s) {bands}.")
        if g["outcome_coverage"] is not None and g["outcome_coverage"] < 0.5:
            out.append(f"{name}: outcomes known for only {g['outcome_coverage']:.0%} of "
                       "approved loans; realized rates are early.")
    for f in [*drift.get("features", []), *([drift["score"]] if drift.get("score") else [])]:
        if f["status"] in ("warn", "alert"):
            out.append(f"Drift {f['status']}: {f['name']} PSI {f['psi']:.3f}.")
    return out


def context(monitor: Monitor, period: Period) -> dict[str, Any]:
    perf = monitor.performance(period)
    versions = sorted({g["model_version"] for g in perf["groups"] if g["model_version"]}
                      | set(monitor.drift(period)["versions"]), key=lambda v: (len(v), v))
    legacy = [g for g in perf["groups"] if g["decided_by"] == "legacy"]
    sections = []
    for version in versions:
        drift = monitor.drift(period, version)
        groups = [g for g in perf["groups"] if g["model_version"] == version]
        series = {f"{g['country']} {g['decided_by']}": g["cohorts"] for g in groups + legacy}
        sections.append({
            "version": version, "groups": groups, "drift": drift,
            "findings": findings(groups, drift),
            "bad_rate_chart": charts.bad_rate_chart(series),
            "calibration_charts": [
                (g["country"], charts.calibration_chart(
                    g["calibration"], f"Calibration, {g['country']} model v{version}"))
                for g in groups if g["calibration"]],
            "drift_chart": charts.drift_chart(
                drift["features"] + ([drift["score"]] if drift.get("score") else []),
                drift["thresholds"]["warn"], drift["thresholds"]["alert"])})
    return {"model_name": monitor.model_name, "period": period, "performance": perf,
            "legacy": legacy, "sections": sections, "batches": monitor.store.batches(LISTED_BATCHES),
            "batch_totals": monitor.store.batch_totals(),
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds")}


def render(ctx: dict[str, Any]) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["j2"]))
    env.filters["pct"] = lambda x, d=1: "-" if x is None else f"{100 * x:.{d}f}%"
    env.filters["num"] = lambda x, d=3: "-" if x is None else f"{x:.{d}f}"
    return env.get_template("report.html.j2").render(**ctx)


def write(monitor: Monitor, period: Period, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(context(monitor, period)))
    return path

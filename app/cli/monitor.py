"""`credit monitor ...`: performance, drift and the post-market monitoring report, from the
same read model as the API (caught up with the audit log first)."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from app.cli.common import built

monitor_cli = typer.Typer(no_args_is_help=True,
                          help="Post-market monitoring: performance, drift, report.")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

Country = Annotated[str | None, typer.Option(help="e.g. ES")]
Since = Annotated[str | None, typer.Option(help="first decision day, YYYY-MM-DD (UTC)")]
Until = Annotated[str | None, typer.Option(help="last decision day, YYYY-MM-DD, inclusive")]
AsJson = Annotated[bool, typer.Option("--json", help="JSON output")]


def _monitor(b):  # noqa: ANN001, ANN202
    # MLflow draws a progress bar for each reference it downloads: noise in a report.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    return b.monitor


def _period(country: str | None, since: str | None, until: str | None):  # noqa: ANN202
    from monitoring.store import Period

    try:
        days = [date.fromisoformat(d).isoformat() if d else None for d in (since, until)]
    except ValueError:
        raise typer.BadParameter("dates look like 2026-01-31") from None
    return Period(days[0], days[1], country.upper() if country else None)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.2%}"


def _json(doc: dict) -> None:
    import orjson

    print(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())


@monitor_cli.command("refresh")
def refresh() -> None:
    """Project every audit record not yet in the monitoring read model (the API does this
    in the background; useful after a bulk import)."""
    with built() as b:
        fresh = _monitor(b).refresh()
    err.print(f"projected {fresh.projected} records in {fresh.seconds:.1f}s; "
              f"{fresh.pending} pending" + (f"; {fresh.error}" if fresh.error else ""))
    if fresh.error:
        raise typer.Exit(1)


@monitor_cli.command("performance")
def performance(country: Country = None, since: Since = None, until: Until = None,
                cohort: Annotated[str, typer.Option(help="month or day")] = "month",
                as_json: AsJson = False) -> None:
    """Realized bad rates (Wilson 95%), mean PD, AUC/KS per country, arm and model version."""
    if cohort not in ("month", "day"):
        raise typer.BadParameter("--cohort is month or day")
    with built() as b:
        doc = _monitor(b).performance(_period(country, since, until), cohort)
    if as_json:
        _json(doc)
        return
    table = Table("country", "arm", "version", "decisions", "approved", "with outcome",
                  "bad rate", "95% interval", "mean PD", "AUC", "KS")
    for g in doc["groups"]:
        ci = g["bad_rate_approved_ci"]
        table.add_row(g["country"], g["decided_by"], g["model_version"] or "-",
                      str(g["decisions"]), str(g["approved"]), str(g["approved_with_outcome"]),
                      _pct(g["bad_rate_approved"]),
                      f"{_pct(ci[0])} - {_pct(ci[1])}" if ci else "-",
                      _pct(g["mean_pd_approved"]),
                      "-" if g["auc"] is None else f"{g['auc']:.3f}",
                      "-" if g["ks"] is None else f"{g['ks']:.3f}")
    out.print(table)


@monitor_cli.command("drift")
def drift(country: Country = None, since: Since = None, until: Until = None,
          model_version: Annotated[str | None, typer.Option(
              help="default: the version behind most decisions")] = None,
          as_json: AsJson = False) -> None:
    """PSI of every model feature and the score against the training reference."""
    with built() as b:
        doc = _monitor(b).drift(_period(country, since, until), model_version)
    if as_json:
        _json(doc)
        return
    out.print(doc["reference"] or f"no training reference ({doc['status']})")
    table = Table("feature", "PSI", "status", "missing", "missing (reference)",
                  title=f"{doc['decisions']} decisions; warn {doc['thresholds']['warn']}, "
                        f"alert {doc['thresholds']['alert']}")
    for f in doc["features"] + ([doc["score"]] if doc["score"] else []):
        table.add_row(f["name"], "-" if f["psi"] is None else f"{f['psi']:.4f}", f["status"],
                      _pct(f["missing_share"]), _pct(f["reference_missing_share"]))
    out.print(table)


@monitor_cli.command("report")
def report(html: Annotated[Path, typer.Option("--html", help="write the report here")],
           country: Country = None, since: Since = None, until: Until = None) -> None:
    """The post-market monitoring report per model version, for the risk committee."""
    from monitoring.report import write

    with built() as b:
        path = write(_monitor(b), _period(country, since, until), html)
    err.print(f"wrote {path}")

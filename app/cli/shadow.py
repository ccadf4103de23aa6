"""`credit shadow report`."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from app.cli.common import built

shadow_cli = typer.Typer(no_args_is_help=True, help="Shadow mode: legacy vs model concordance.")
console = Console(soft_wrap=True)


def _since(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise typer.BadParameter("--since takes a date: YYYY-MM-DD") from None


@shadow_cli.command("report")
def shadow_report(country: Annotated[str | None, typer.Option(help="e.g. ES")] = None,
                  since: Annotated[str | None, typer.Option(help="YYYY-MM-DD (UTC)")] = None,
                  limit: Annotated[int, typer.Option(help="discrepancies to list")] = 20,
                  as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
                  prom: Annotated[Path | None, typer.Option(
                      help="also write concordance gauges to this .prom file")] = None) -> None:
    """Agreement (Wilson 95% interval), cross-table, swap sets, kappa, Spearman: overall,
    per country, per day; and the disagreements to investigate."""
    import orjson

    from shadow.concordance import report

    with built() as b:
        result = report(b.audit.entries(), country.upper() if country else None, _since(since),
                        limit)
    if prom is not None:
        write_prom(result, prom)
    if as_json:
        print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
        return
    _print(result)


def write_prom(result: dict, path: Path) -> None:
    from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

    reg = CollectorRegistry()
    n = Gauge("credit_shadow_report_pairs", "Compared decisions in the audit log", ["country"],
              registry=reg)
    agree = Gauge("credit_shadow_report_agreement_ratio", "Agreement, from the audit log",
                  ["country"], registry=reg)
    low = Gauge("credit_shadow_report_agreement_wilson_low", "Wilson 95% lower bound",
                ["country"], registry=reg)
    kappa = Gauge("credit_shadow_report_kappa", "Cohen's kappa, from the audit log",
                  ["country"], registry=reg)
    for c, s in {"all": result["overall"], **result["by_country"]}.items():
        n.labels(c).set(s["n"])
        if s["n"]:
            agree.labels(c).set(s["agreement"])
            low.labels(c).set(s["wilson"][0])
            if s["kappa"] is not None:
                kappa.labels(c).set(s["kappa"])
    write_to_textfile(str(path), reg)


def _num(x: float | None, fmt: str = ".3f") -> str:
    return "-" if x is None else format(x, fmt)


def _print(result: dict) -> None:
    runs = ", ".join(f"{k} {v}" for k, v in sorted(result["shadow_runs"].items())) or "none"
    console.print(f"shadow runs: {runs}")
    for title, groups in (("per country", {"ALL": result["overall"], **result["by_country"]}),
                          ("per day", result["by_day"])):
        table = Table("group", "n", "agreement", "95% Wilson", "kappa", "spearman", "swaps",
                      title=title)
        for name, s in groups.items():
            if not s["n"]:
                table.add_row(name, "0", "-", "-", "-", "-", "-")
                continue
            lo, hi = s["wilson"]
            swaps = ", ".join(f"{k} {v}" for k, v in s["swaps"].items()) or "-"
            table.add_row(name, str(s["n"]), f"{s['agreement']:.2%}", f"{lo:.2%} - {hi:.2%}",
                          _num(s["kappa"]), _num(s["spearman"]), swaps)
        console.print(table)
    overall = result["overall"]
    if overall["n"]:
        cross = Table("legacy \\ model", *overall["table"]["labels"], title="cross-table")
        for label, row in zip(overall["table"]["labels"], overall["table"]["counts"], strict=True):
            cross.add_row(label, *map(str, row))
        console.print(cross)
    disc = Table("decision id", "country", "day", "decided by", "legacy", "model", "points",
                 "model PD", title="discrepancies")
    for d in result["discrepancies"]:
        disc.add_row(d["decision_id"], d["country"], d["day"], d["decided_by"], d["legacy"],
                     d["model"], _num(d["legacy_points"], ".0f"),
                     _num(d["model_probability"]))
    console.print(disc)

"""`credit flags show | set | history`."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from app.cli.common import built, console
from decision.application import COUNTRIES

flags_cli = typer.Typer(no_args_is_help=True, help="Per-country rollout flags.")


@flags_cli.command("show")
def flags_show(country: Annotated[str | None, typer.Argument(help="e.g. ES")] = None) -> None:
    """The stored flag of one country, or of every country that has one."""
    countries = [country.upper()] if country else list(COUNTRIES)
    table = Table("country", "mode", "model %", "version", "updated", "by", "reason")
    with built() as b:
        for c in countries:
            f = b.flag_admin.current(c)
            table.add_row(c, f.mode, f"{f.percent:.2f}", str(f.version), f.updated_at or "-",
                          f.updated_by or "-", f.reason or "(default)")
    Console().print(table)


@flags_cli.command("set")
def flags_set(country: Annotated[str, typer.Argument(help="e.g. ES")],
              mode: Annotated[str, typer.Option(help="legacy | shadow | canary | full")],
              reason: Annotated[str, typer.Option(help="why (kept in the audit log)")],
              percent: Annotated[str | None, typer.Option(
                  help="canary: share of customers the model decides, 0-100, 0.01 steps")] = None,
              actor: Annotated[str | None, typer.Option(
                  help="who (default: the OS user)")] = None) -> None:
    """Change a country's rollout mode; the change is audited. `--mode legacy` is the kill
    switch: every worker falls back to the legacy scorecard within a second."""
    from feature_flags.model import InvalidFlag
    from feature_flags.store import VersionConflict

    c = country.upper()
    if c not in COUNTRIES:
        raise typer.BadParameter(f"country must be one of {', '.join(COUNTRIES)}")
    with built() as b:
        try:
            flag = b.flag_admin.set(c, mode, percent, reason=reason,
                                    actor=actor or f"cli:{getpass.getuser()}")
        except (InvalidFlag, VersionConflict) as exc:
            console.print(f"[red]refused[/]: {exc}")
            raise typer.Exit(2) from None
    console.print(f"{c}: {flag.mode} (model {flag.percent:.2f}%), version {flag.version}")


@flags_cli.command("history")
def flags_history(country: Annotated[str | None, typer.Argument()] = None) -> None:
    """Every flag change in the audit log (who, when, what, why)."""
    from feature_flags.history import flag_history

    table = Table("at", "country", "from", "to", "by", "reason", "applied")
    with built() as b:
        for h in flag_history(b.audit.entries(), country.upper() if country else None):
            table.add_row(h.at, h.country, _fmt(h.change.before), _fmt(h.change.after),
                          h.change.actor, h.change.reason,
                          "yes" if h.failed is None else f"NO ({h.failed})")
    Console().print(table)


def _fmt(f) -> str:  # noqa: ANN001 - audit.records.FlagValue
    return f"{f.mode} {f.percent_bp / 100:.2f}% v{f.version}"

"""`credit policy propose FILE | approve VERSION | show [VERSION] | history | diff A B`.

The same policy history and audit log as the API (`policy:admin`). The CLI's principal is
`cli:<OS user>` unless `--actor` names one: the CLI is an operator's tool on a machine that
holds the stores, so four eyes on the CLI is as strong as the host's accounts; the API's
four eyes compares API keys.
"""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from app.cli.common import built, console

policy_cli = typer.Typer(no_args_is_help=True,
                         help="Policy versions: propose, approve (four eyes), show, history, diff.")

Actor = Annotated[str | None, typer.Option(help="who (default: cli:<OS user>)")]
Json = Annotated[bool, typer.Option("--json", help="print JSON")]


def _actor(actor: str | None) -> tuple[str, str]:
    name = actor or f"cli:{getpass.getuser()}"
    return name, name


@policy_cli.command("propose")
def propose(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
            reason: Annotated[str, typer.Option(help="why (kept in the audit log)")],
            actor: Actor = None) -> None:
    """Propose the policy in FILE (a TOML document with a new `version`); audited, not live
    until someone else approves it."""
    from strategy.errors import InvalidPolicyChange, PolicyConflict

    name, actor_id = _actor(actor)
    with built() as b:
        try:
            v = b.policy_admin.propose(file.read_text(), reason=reason, actor=name,
                                       actor_id=actor_id)
        except (InvalidPolicyChange, PolicyConflict) as exc:
            console.print(f"[red]refused[/]: {escape(str(exc))}")
            raise typer.Exit(2) from None
    console.print(f"proposed policy {v.version} (based on {v.based_on}); approve with "
                  f"`credit policy approve {v.version} --reason ...` as another person")


@policy_cli.command("approve")
def approve(version: Annotated[str, typer.Argument()],
            reason: Annotated[str, typer.Option(help="why (kept in the audit log)")],
            actor: Actor = None) -> None:
    """Approve a proposal (not your own): it goes live on every worker within the poll
    interval (CREDIT_POLICY_POLL_S), without a restart."""
    from strategy.errors import InvalidPolicyChange, PolicyConflict, PolicyNotFound, SameApprover

    name, actor_id = _actor(actor)
    with built() as b:
        try:
            v = b.policy_admin.approve(version, reason=reason, actor=name, actor_id=actor_id)
        except (InvalidPolicyChange, PolicyConflict, PolicyNotFound, SameApprover) as exc:
            console.print(f"[red]refused[/]: {escape(str(exc))}")
            raise typer.Exit(2) from None
    console.print(f"policy {v.version} is live (approved by {v.approved_by})")


@policy_cli.command("show")
def show(version: Annotated[str | None, typer.Argument(help="default: the live one")] = None,
         as_json: Json = False) -> None:
    """A version's document and who proposed and approved it."""
    from strategy.errors import PolicyNotFound

    with built() as b:
        try:
            v = b.policy_admin.get(version or b.policy_admin.live_version())
        except PolicyNotFound as exc:
            console.print(f"[red]{escape(str(exc))}[/]")
            raise typer.Exit(2) from None
    if as_json:
        typer.echo(orjson.dumps(v.model_dump(), option=orjson.OPT_INDENT_2))
        return
    console.print(f"policy {v.version}: {v.state}; proposed by {v.proposed_by} "
                  f"{v.proposed_at or ''} ({v.proposal_reason})"
                  + (f"; approved by {v.approved_by} {v.approved_at} ({v.approval_reason})"
                     if v.approved_by else ""))
    typer.echo(v.text)


@policy_cli.command("history")
def history(as_json: Json = False) -> None:
    """Every version, oldest first."""
    with built() as b:
        versions = b.policy_admin.history()
    if as_json:
        typer.echo(orjson.dumps([{k: v for k, v in x.model_dump().items() if k != "text"}
                                 for x in versions], option=orjson.OPT_INDENT_2))
        return
    table = Table("version", "state", "proposed", "by", "why", "approved", "by", "why")
    for v in versions:
        table.add_row(v.version, v.state, v.proposed_at or "-", v.proposed_by,
                      v.proposal_reason, v.approved_at or "-", v.approved_by or "-",
                      v.approval_reason or "-")
    Console().print(table)


@policy_cli.command("diff")
def diff(a: Annotated[str, typer.Argument()], b_: Annotated[str, typer.Argument(metavar="B")],
         as_json: Json = False) -> None:
    """What changes from version A to version B: the documents and the effective values."""
    from strategy.errors import PolicyNotFound

    with built() as b:
        try:
            d = b.policy_admin.diff(a, b_)
        except PolicyNotFound as exc:
            console.print(f"[red]{escape(str(exc))}[/]")
            raise typer.Exit(2) from None
    if as_json:
        typer.echo(orjson.dumps({"a": d.a, "b": d.b, "diff": d.text,
                                 "params": [vars(c) for c in d.params]},
                                option=orjson.OPT_INDENT_2))
        return
    typer.echo(d.text or "(identical documents)")
    for c in d.params:
        typer.echo(f"{c.scope}.{c.key}: {c.before!r} -> {c.after!r}")

"""`credit reviews list | sync` and `credit notices pending | mark-sent`."""

from __future__ import annotations

import getpass
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from app.cli.common import built, console

reviews_cli = typer.Typer(no_args_is_help=True, help="Review cases (referrals, overrides, "
                          "contests).")
notices_cli = typer.Typer(no_args_is_help=True, help="Adverse-action notices of final declines.")


@reviews_cli.command("list")
def reviews_list(status: Annotated[str, typer.Option(help="open | decided")] = "open",
                 country: Annotated[str | None, typer.Option()] = None,
                 limit: Annotated[int, typer.Option(min=1)] = 100) -> None:
    """Cases, contests first, then oldest first, with their due time."""
    from review.model import CaseQuery

    with built() as b:
        cases = b.review_store.list_cases(CaseQuery(
            status=status, country=country.upper() if country else None, limit=limit))  # type: ignore[arg-type]
    table = Table("review id", "kind", "country", "opened", "due", "four eyes", "votes",
                  "outcome", "why")
    for c in cases:
        table.add_row(c.review_id, c.kind, c.country, c.opened_at[:19], c.due_at[:19],
                      "yes" if c.four_eyes else "no", str(len(c.votes)), c.outcome or "-",
                      ", ".join(c.reasons))
    Console().print(table)


@reviews_cli.command("sync")
def reviews_sync() -> None:
    """Catch the review store up with the audit log now (the API does it at start and
    periodically): every refer decision gets its case, every human action its effect."""
    with built() as b:
        r = b.review_projector().catch_up()
    console.print(f"read {r.entries} audit entries: {r.decisions} referrals/declines, "
                  f"{r.actions} human actions applied, {r.skipped} that did not take effect, "
                  f"{r.deferred} left for a later pass")


@notices_cli.command("pending")
def notices_pending(country: Annotated[str | None, typer.Option()] = None,
                    as_json: Annotated[bool, typer.Option("--json", help="JSON Lines")] = False
                    ) -> None:
    """Adverse-action notices not sent yet, earliest due first."""
    with built() as b:
        notices = b.review_store.notices("pending", country.upper() if country else None)
    if as_json:
        for n in notices:
            typer.echo(n.to_json())
        return
    table = Table("decision id", "country", "declined", "due by")
    for n in notices:
        table.add_row(n.decision_id, n.country, n.declined_at[:19], n.due_at[:10])
    Console().print(table)
    console.print(f"{len(notices)} pending")


@notices_cli.command("mark-sent")
def notices_mark_sent(decision_id: str,
                      channel: Annotated[str, typer.Option(help="how: letter, email, app")],
                      actor: Annotated[str | None, typer.Option(
                          help="who (default: the OS user)")] = None) -> None:
    """Record that a decision's notice was sent; audited, linked to the decision."""
    from review.errors import ReviewNotFound, ReviewRefused

    with built() as b:
        try:
            n = b.review_desk.notice_sent(decision_id, channel,
                                          actor or f"cli:{getpass.getuser()}")
        except (ReviewNotFound, ReviewRefused) as exc:
            console.print(f"[red]refused[/]: {exc}")
            raise typer.Exit(2) from None
    typer.echo(orjson.dumps({"decision_id": n.decision_id, "status": n.status,
                             "sent_at": n.sent_at, "channel": n.channel}))


def human_story(b: Any, record: Any) -> dict[str, Any]:
    """What people did with a decision after it was made (for `credit audit replay`): its
    final outcome and each human action with its place in the audit log."""
    try:
        story = b.review_desk.story(record)
    except Exception as exc:  # noqa: BLE001 - the replay itself does not need the store
        return {"final_outcome": None, "human_actions": None,
                "review_unavailable": type(exc).__name__}
    actions = [(a, a.parsed()) for a in story.actions]
    return {"final_outcome": story.final_outcome, "human_actions": [
        {"type": a.type, "at": a.at, "actor": a.actor, "review_id": a.review_id or None,
         "outcome": getattr(rec, "outcome", None),
         "reason_code": getattr(rec, "reason_code", None),
         "chain_id": a.chain_id, "seq": a.seq, "hash": a.entry_hash} for a, rec in actions]}


def print_story(story: dict[str, Any]) -> None:
    if story["human_actions"] is None:
        console.print("[yellow]human actions unknown: the review store could not be read[/]")
        return
    for a in story["human_actions"]:
        console.print(f"  {a['at'][:19]} {a['type']} by key {a['actor']}: "
                      f"{a['outcome'] or ''} {a['reason_code'] or ''} (audit {a['chain_id']} "
                      f"#{a['seq']})")
    console.print(f"final outcome: {story['final_outcome'] or 'waiting for review'}")

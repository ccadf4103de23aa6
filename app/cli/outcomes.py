"""`credit outcomes ...`: ingest a file of loan outcomes; list batches and a decision's
observations."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from app.cli.common import built

outcomes_cli = typer.Typer(no_args_is_help=True, help="Loan outcomes (post-market monitoring).")
console = Console(stderr=True, soft_wrap=True)
SHOWN_REJECTIONS = 20


@outcomes_cli.command("ingest")
def ingest(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                                help=".csv, .parquet or .jsonl")],
           batch_size: Annotated[int, typer.Option(min=1, max=10_000)] = 1000,
           restart: Annotated[bool, typer.Option(help="ignore the checkpoint")] = False,
           rejects: Annotated[Path | None, typer.Option(
               help="write every rejected row (row, error) to this CSV")] = None,
           as_json: Annotated[bool, typer.Option("--json", help="summary as JSON")] = False
           ) -> None:
    """Ingest FILE (columns decision_id, defaulted, observed_at, optional loan_taken,
    months_on_book) in batches, each recorded in the audit log; resumes after an
    interruption from its checkpoint. Bad rows are refused on their own."""
    import orjson

    from audit.store import AuditUnavailable
    from models.registry import current_user
    from monitoring.files import BadOutcomeFile, ingest_file, row_count
    from monitoring.store import OutcomeStoreUnavailable

    columns = [TextColumn("ingesting outcomes"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn()]
    with built() as b:
        try:
            total = row_count(file)
            with Progress(*columns, console=console) as progress:
                task = progress.add_task("rows", total=total)
                result = ingest_file(b.outcomes, file, b.settings.data_dir / "checkpoints",
                                     actor=f"{current_user()} (cli)", batch_size=batch_size,
                                     restart=restart,
                                     on_batch=lambda n: progress.advance(task, n))
        except BadOutcomeFile as exc:
            console.print(f"[red]{file.name}: {exc}[/]")
            raise typer.Exit(2) from None
        except (AuditUnavailable, OutcomeStoreUnavailable) as exc:
            console.print(f"[red]stopped: {exc}. Batches before this one are stored; run "
                          "the same command again to go on from the checkpoint.[/]")
            raise typer.Exit(1) from None
    if rejects is not None:
        with rejects.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["row", "error"])
            w.writerows((r.index, r.error) for r in result.rejected)
    summary = {"file": file.name, "rows": result.rows, "resumed_from": result.resumed_from,
               "accepted": result.accepted, "duplicates": result.duplicates,
               "rejected": len(result.rejected), "batches": result.batches,
               "rejected_rows": [{"row": r.index, "error": r.error}
                                 for r in result.rejected[:SHOWN_REJECTIONS]]}
    if as_json:
        print(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
        return
    resumed = f" (resumed after row {result.resumed_from})" if result.resumed_from else ""
    console.print(f"{file.name}: {result.rows} rows{resumed}; {result.accepted} accepted, "
                  f"{result.duplicates} duplicates, {len(result.rejected)} rejected, in "
                  f"{len(result.batches)} audited batches")
    if result.rejected:
        table = Table("row", "error", title=f"rejected rows (first {SHOWN_REJECTIONS})")
        for r in result.rejected[:SHOWN_REJECTIONS]:
            table.add_row(str(r.index), r.error)
        console.print(table)
        reasons = Counter(r.error.split(":")[0] for r in result.rejected)
        console.print("by field: " + ", ".join(f"{k} {v}" for k, v in reasons.most_common()))


@outcomes_cli.command("batches")
def batches(limit: Annotated[int, typer.Option(min=1)] = 50) -> None:
    """The latest batches of outcomes received, with their content hash and audit record."""
    with built() as b:
        rows = b.outcome_store.batches(limit)
    table = Table("received", "batch", "source", "items", "accepted", "duplicates", "rejected",
                  "sha-256", "audit record")
    for r in rows:
        table.add_row(r.batch.received_at, r.batch.batch_id,
                      r.batch.source + (f" {r.batch.source_name}" if r.batch.source_name else ""),
                      str(r.batch.count), str(r.accepted), str(r.duplicates),
                      str(r.batch.rejected), r.batch.content_sha256[:16], r.audit_ref or "-")
    Console(soft_wrap=True).print(table)


@outcomes_cli.command("show")
def show(decision_id: str) -> None:
    """Every observation of one decision's loan, oldest first; the current one marked."""
    with built() as b:
        rows = b.outcome_store.history(decision_id)
    if not rows:
        console.print(f"no outcomes for decision {decision_id}")
        raise typer.Exit(1)
    table = Table("observed", "defaulted", "loan taken", "months on book", "batch", "received",
                  "current")
    for r in rows:
        o = r.observation
        table.add_row(o.observed_at, str(o.defaulted), str(o.loan_taken),
                      str(o.months_on_book), r.batch_id, r.received_at, "yes" if r.current else "")
    Console(soft_wrap=True).print(table)

"""`credit audit ...`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from app.settings import Settings

audit_cli = typer.Typer(no_args_is_help=True, help="Audit log: verify.")
console = Console(stderr=True, soft_wrap=True)


@audit_cli.command("verify")
def audit_verify(db: Annotated[Path | None, typer.Option(help="audit database")] = None) -> None:
    """Check every hash chain; exit 1 naming the first bad record."""
    from audit.sqlite import SQLiteAuditStore
    from audit.verify import verify_entries

    settings = Settings()
    store = SQLiteAuditStore(db or settings.audit_db_path)
    t = time.perf_counter()
    result = verify_entries(store.entries())
    secs = time.perf_counter() - t
    if result.ok:
        console.print(f"OK: {result.checked} records in {result.chains} chains ({secs:.2f}s)")
        return
    console.print(f"[red]FAILED[/] at {result.first_bad}: {result.problem} "
                  f"({result.checked} records good before it)")
    raise typer.Exit(1)

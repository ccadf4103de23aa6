"""`credit db ...`: the PostgreSQL schema of every store with a PostgreSQL backend (Alembic
migrations, one branch per package: core/schema.py, ADR 0121)."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli.common import console
from app.settings import Settings

db_cli = typer.Typer(no_args_is_help=True, help="PostgreSQL schema: upgrade, status.")


def _url(settings: Settings, *, admin: bool) -> str:
    url = (settings.postgres_admin_url or settings.postgres_url) if admin \
        else (settings.postgres_url or settings.postgres_admin_url)
    if url is None:
        console.print("[red]set CREDIT_POSTGRES_URL (and CREDIT_POSTGRES_ADMIN_URL for the "
                      "schema's owner, if the service's role is another)[/]")
        raise typer.Exit(2)
    return url.get_secret_value()


@db_cli.command("upgrade")
def db_upgrade(sql: Annotated[bool, typer.Option(
        "--sql", help="print the SQL it would run (for review), change nothing")] = False
               ) -> None:
    """Bring every schema to this build's head, in one transaction, as the owner
    (CREDIT_POSTGRES_ADMIN_URL, else CREDIT_POSTGRES_URL); the service's role
    (CREDIT_POSTGRES_SERVICE_ROLE) is created if missing and granted what the stores need."""
    from app.configs import POSTGRES_SCHEMAS
    from core.schema import upgrade

    settings = Settings()
    url = _url(settings, admin=True)
    try:
        out = upgrade(url, POSTGRES_SCHEMAS, settings.postgres_service_role, sql=sql)
    except Exception as exc:  # connection refused, no privilege: say which, briefly
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[:1]
        console.print(f"[red]upgrade failed[/]: {type(exc).__name__}: {' '.join(first)}")
        raise typer.Exit(1) from None
    if sql:
        typer.echo(out)
        return
    db_status()


@db_cli.command("status")
def db_status() -> None:
    """Each schema's revision in the database against this build's; exit 1 unless every one
    is current (the service refuses to start otherwise)."""
    import psycopg

    from app.configs import POSTGRES_SCHEMAS
    from core.schema import SchemaMismatch, check, current

    try:
        with psycopg.connect(_url(Settings(), admin=False), connect_timeout=5) as conn:
            revisions = current(conn)
    except psycopg.OperationalError as exc:
        console.print(f"[red]PostgreSQL not reachable[/]: {type(exc).__name__}")
        raise typer.Exit(2) from None
    bad = 0
    for branch in POSTGRES_SCHEMAS:
        try:
            check(revisions, branch)
            console.print(f"{branch.name}: at {branch.revisions()[-1]} (current)")
        except SchemaMismatch as exc:
            bad += 1
            console.print(f"[red]{branch.name}[/]: {exc}")
    if bad:
        raise typer.Exit(1)

"""`credit keys ...`: API keys (stored hashed; a new key is printed once)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from app.api_keys import SCOPES, ApiKeyStore
from app.settings import Settings

keys_cli = typer.Typer(no_args_is_help=True, help="API keys and their scopes.")


def _store() -> ApiKeyStore:
    from app.builder import Builder

    return Builder(Settings()).api_keys


@keys_cli.command("create")
def create(name: Annotated[str, typer.Option(help="who or what uses the key")],
           scope: Annotated[list[str], typer.Option(help=f"repeat; one of {', '.join(SCOPES)}")]
           ) -> None:
    """Create a key and print it (only now: the server keeps its hash)."""
    try:
        print(_store().create(name, scope))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


@keys_cli.command("list")
def list_keys() -> None:
    table = Table("key id", "name", "scopes", "created")
    for key_id, meta in _store().list().items():
        table.add_row(key_id, meta["name"], " ".join(meta["scopes"]), meta["created_at"])
    Console().print(table)


@keys_cli.command("revoke")
def revoke(key_id: str) -> None:
    if not _store().revoke(key_id):
        raise typer.BadParameter(f"no key {key_id}")
    print(f"revoked {key_id}")


def ensure_local_key(settings: Settings, console: Console) -> None:
    """First `credit serve` on a data dir: create an all-scopes key for the local operator,
    saved (mode 0600) to data_dir/keys/local-api-key and printed."""
    store = ApiKeyStore(settings.api_keys_path)
    path = settings.keys_dir / "local-api-key"
    if store.list():
        return
    key = store.create("local operator", list(SCOPES))
    path.write_text(key + "\n")
    path.chmod(0o600)
    console.print(f"created a local API key with every scope (saved to {path}):\n{key}")

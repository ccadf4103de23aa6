"""`credit`: the one command-line entry point."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from app.settings import Settings

cli = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Real-time credit decisions with an audit trail.")
model_cli = typer.Typer(no_args_is_help=True, help="Model registry: versions and aliases.")
audit_cli = typer.Typer(no_args_is_help=True, help="Audit log: verify.")
cli.add_typer(model_cli, name="model")
cli.add_typer(audit_cli, name="audit")
console = Console(stderr=True, soft_wrap=True)


def _registry(settings: Settings):
    from models.registry import ModelRegistry

    return ModelRegistry(settings.mlflow_uri, settings.model_name, settings.mlflow_artifacts_dir)


@cli.command()
def train(alias: Annotated[str, typer.Option(help="alias to point at the new version")] = "champion",
          rounds: Annotated[int, typer.Option(help="boosting rounds")] = 200) -> None:
    """Train on credit_data, report 5-fold CV ROC AUC, register a version in MLflow."""
    from training.train import train as run

    settings = Settings()
    with console.status("training") as status:
        result = run(settings, rounds=rounds, alias=alias, progress=status.update)
    folds = ", ".join(f"{a:.4f}" for a in result.cv_auc_folds)
    console.print(f"5-fold CV ROC AUC: [bold]{result.cv_auc:.4f}[/] ({folds})")
    console.print(f"registered {settings.model_name} version {result.version} "
                  f"(run {result.run_id}) as @{alias}")
    console.print("seconds: " + ", ".join(f"{k} {v:.2f}" for k, v in result.seconds.items()))


def _wait_ready(url: str, proc: subprocess.Popen, timeout_s: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise typer.Exit(f"simulators exited with code {proc.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise typer.Exit(f"simulators not ready at {url} after {timeout_s:.0f}s")


@cli.command()
def serve(host: Annotated[str | None, typer.Option()] = None,
          port: Annotated[int | None, typer.Option()] = None,
          workers: Annotated[int, typer.Option(min=1)] = 1) -> None:
    """Run the API. With nothing configured: trains a first model if the registry has none and
    starts the bureau and open-banking simulators beside the API."""
    import uvicorn

    settings = Settings()
    settings.ensure_data_dir()
    if _registry(settings).version_for(settings.model_alias) is None:
        console.print(f"no @{settings.model_alias} model in the registry: training one first")
        train(alias=settings.model_alias)
    sims = None
    if not settings.bureau_url or not settings.open_banking_url:
        base = f"http://{settings.simulator_host}:{settings.simulator_port}"
        sims = subprocess.Popen([sys.executable, "-m", "app.cli", "simulators",
                                 "--host", settings.simulator_host,
                                 "--port", str(settings.simulator_port)])
        _wait_ready(f"{base}/healthz", sims)
        os.environ.setdefault("CREDIT_BUREAU_URL", f"{base}/bureau")
        os.environ.setdefault("CREDIT_OPEN_BANKING_URL", f"{base}/open-banking")
        console.print(f"simulators on {base}")
    try:
        uvicorn.run("app.main:app_from_env", factory=True, host=host or settings.host,
                    port=port or settings.port, workers=workers, access_log=False)
    finally:
        if sims is not None:
            sims.terminate()
            sims.wait(timeout=10)


@cli.command()
def simulators(host: Annotated[str, typer.Option()] = "127.0.0.1",
               port: Annotated[int, typer.Option()] = 8100) -> None:
    """Serve the bureau (/bureau) and open-banking (/open-banking) simulators."""
    import uvicorn

    from app.adapters.simulators import create_simulator_app

    uvicorn.run(create_simulator_app(), host=host, port=port, access_log=False,
                log_level="warning")


@model_cli.command("list")
def model_list() -> None:
    """Registered versions and their aliases."""
    settings = Settings()
    client = _registry(settings).client
    table = Table("version", "aliases", "run id", "created")
    for mv in sorted(client.search_model_versions(f"name='{settings.model_name}'"),
                     key=lambda m: int(m.version)):
        created = time.strftime("%Y-%m-%d %H:%M", time.gmtime(mv.creation_timestamp / 1000))
        table.add_row(mv.version, ", ".join(mv.aliases), mv.run_id or "", created)
    Console().print(table)


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


def main() -> None:
    cli()


if __name__ == "__main__":
    main()

"""`credit train` and `credit model ...`."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from app.settings import Settings

model_cli = typer.Typer(no_args_is_help=True, help="Model registry: versions and aliases.")
console = Console(stderr=True, soft_wrap=True)


def registry(settings: Settings):
    from models.registry import ModelRegistry

    return ModelRegistry(settings.mlflow_uri, settings.model_name, settings.mlflow_artifacts_dir)


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


@model_cli.command("list")
def model_list() -> None:
    """Registered versions and their aliases."""
    settings = Settings()
    client = registry(settings).client
    table = Table("version", "aliases", "run id", "created")
    for mv in sorted(client.search_model_versions(f"name='{settings.model_name}'"),
                     key=lambda m: int(m.version)):
        created = time.strftime("%Y-%m-%d %H:%M", time.gmtime(mv.creation_timestamp / 1000))
        table.add_row(str(mv.version), ", ".join(mv.aliases), mv.run_id or "", created)
    Console().print(table)

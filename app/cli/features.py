"""`credit features ...`: export a sample file and materialize it into the feature store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

features_cli = typer.Typer(no_args_is_help=True, help="The online feature store.")
console = Console(stderr=True)


@features_cli.command("export-sample")
def export_sample_cmd(out: Annotated[Path, typer.Argument(help=".parquet or .csv")]) -> None:
    """Write credit_data's offline feature vectors (one row per customer C-<row>) to OUT."""
    from feature_store.materialize import export_sample

    n = export_sample(out)
    console.print(f"wrote {n} customers to {out}")


@features_cli.command()
def materialize(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
                batch_size: Annotated[int, typer.Option(min=1)] = 1000,
                restart: Annotated[bool, typer.Option(help="ignore the checkpoint")] = False
                ) -> None:
    """Load FILE (Parquet/CSV, a customer_id column plus features) into the configured store,
    resuming after an interruption from its checkpoint."""
    from app.cli.common import built
    from feature_store.materialize import materialize as run
    from feature_store.materialize import row_count

    columns = [TextColumn("materializing"), BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn()]
    with built() as b:
        checkpoint = b.settings.data_dir / "checkpoints" / f"materialize-{file.name}.json"
        if restart:
            checkpoint.unlink(missing_ok=True)
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("rows", total=row_count(file))
            result = run(b.feature_store, file, checkpoint, batch_size=batch_size,
                         on_batch=lambda n: progress.advance(task, n))
    console.print(f"{result.rows_written} rows written into {b.settings.feature_store}"
                  + (f" (resumed after row {result.resumed_from})" if result.resumed_from else ""))


@features_cli.command("move-counters")
def move_counters_cmd() -> None:
    """Once, after upgrading a Redis feature store past ADR 0160: move each counter kept as a
    key of its own into its hash (safe while the API runs, and to run again)."""
    from app.cli.common import built
    from feature_store.redis import RedisFeatureStore

    with built() as b:
        store = getattr(b.feature_store, "redis", b.feature_store)  # tiered: its Redis tier
        if not isinstance(store, RedisFeatureStore):
            console.print(f"nothing to move: the feature store is {b.settings.feature_store}")
            return
        console.print(f"moved {store.move_old_counters()} counters")

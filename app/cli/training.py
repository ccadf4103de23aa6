"""`credit train`, `credit model ...` and `credit data synth`."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from app.cli.common import built, console
from app.settings import Settings

model_cli = typer.Typer(no_args_is_help=True, help="Model registry: versions and aliases.")
data_cli = typer.Typer(no_args_is_help=True, help="Training data.")


def registry(settings: Settings):
    from app.builder import Builder

    return Builder(settings).registry


def train(
    data: Annotated[Path | None, typer.Option(help="CSV/Parquet with credit_data's columns "
                                                   "(default: credit_data itself)")] = None,
    alias: Annotated[str, typer.Option(help="alias to point at the new version")] = "challenger",
    trials: Annotated[int, typer.Option(min=1, help="tuning candidates")] = 6,
    tune_budget: Annotated[float, typer.Option(help="tuning time budget, seconds")] = 15.0,
    cv_folds: Annotated[int, typer.Option(min=0, help="cross-validation folds (0: skip)")] = 5,
    n_boot: Annotated[int, typer.Option(min=10, help="bootstrap resamples (fairness)")] = 200,
    gates: Annotated[Path | None, typer.Option(help="TOML file overriding gate thresholds")] = None,
    seed: Annotated[int, typer.Option()] = 7,
    objective: Annotated[str, typer.Option(
        help="cut-off objective: legacy-dominance (approval no lower than legacy, lowest bad "
             "rate) | bad-rate-ceiling (highest approval with bad rate <= --bad-rate-ceiling)")
    ] = "legacy-dominance",
    bad_rate_ceiling: Annotated[float | None, typer.Option(
        min=0, max=1, help="with --objective bad-rate-ceiling, e.g. 0.08")] = None,
    from_audit: Annotated[bool, typer.Option(
        "--from-audit", help="train on recorded decisions (their recorded raw inputs) joined "
                             "with reported outcomes; declined applicants are excluded")] = False,
    since: Annotated[str | None, typer.Option(help="--from-audit: first day, YYYY-MM-DD")] = None,
    until: Annotated[str | None, typer.Option(help="--from-audit: last day, YYYY-MM-DD")] = None,
) -> None:
    """The offline pipeline: validate, tune, train, calibrate, evaluate, compare with the
    legacy scorecard, check fairness and gates, explain, register a version with its card."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from training.data import DataError
    from training.steps import STEPS, Steps
    from training.train import TrainConfig
    from training.train import train as run

    if objective not in ("legacy-dominance", "bad-rate-ceiling"):
        raise typer.BadParameter("--objective: legacy-dominance or bad-rate-ceiling")
    if objective == "bad-rate-ceiling" and bad_rate_ceiling is None:
        raise typer.BadParameter("--objective bad-rate-ceiling needs --bad-rate-ceiling")
    with Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                  console=console) as progress:
        task = progress.add_task("starting", total=len(STEPS))

        def ended(name: str, seconds: float, note: str) -> None:
            progress.console.print(f"[green]✓[/] {name:<15} {seconds:7.2f}s  {note}")
            progress.advance(task)

        steps = Steps(on_start=lambda name: progress.update(task, description=name), on_end=ended)
        try:
            with built() as b, tempfile.TemporaryDirectory(dir=b.settings.data_dir) as tmp:
                if from_audit:
                    data = _from_audit(b, since, until, Path(tmp), progress.console)
                config = TrainConfig(data_path=data, trials=trials, tune_budget_s=tune_budget,
                                     cv_folds=cv_folds, n_boot=n_boot, gates_path=gates,
                                     seed=seed, policy=b.policy, objective=objective,  # type: ignore[arg-type]
                                     bad_rate_ceiling=bad_rate_ceiling)
                result = run(b.registry, alias=alias, config=config, steps=steps)
                draft_path = _write_draft(b.settings.data_dir, result.policy_draft)
                if result.alias_event is not None:
                    b.model_admin.recorded(result.alias_event)
        except DataError as exc:
            progress.stop()
            console.print(f"[red]cannot train on this data:[/] {exc}")
            raise typer.Exit(2) from None
    folds = ", ".join(f"{a:.4f}" for a in result.cv_auc_folds)
    console.print(f"test ROC AUC [bold]{result.test['roc_auc']:.4f}[/]; "
                  f"5-fold CV ROC AUC {result.cv_auc:.4f} ({folds})")
    lg = result.legacy
    console.print(f"legacy comparison: bad rate among approved {lg['legacy_bad_rate_approved']:.2%} -> "
                  f"{lg['model_bad_rate_approved']:.2%} at approval rate {lg['approval_rate']:.1%} "
                  f"(relative reduction [bold]{lg['relative_reduction']:.1%}[/], target 30%)")
    verdict = "[green]passed[/]" if result.gates_passed else "[red]FAILED[/]"
    console.print(f"gates {verdict}; registered version {result.version} "
                  f"(run {result.run_id}) as @{alias}; model card: run artifact model_card/")
    for c in result.report["cutoffs"]["scopes"]:
        ch = c["chosen"]
        console.print(f"cut-offs {c['scope']}: legacy approves {c['legacy']['approval_rate']:.1%} "
                      f"with {c['legacy']['bad_rate']:.2%} bad; "
                      + (f"proposed approve_below {ch['threshold']:g}: {ch['approval_rate']:.1%} "
                         f"with {ch['bad_rate']:.2%} bad" if ch else "no cut-off meets the objective"))
    console.print(f"policy draft (not live): {draft_path}; publish it with "
                  f"`credit policy propose {draft_path} --reason ...`")


def _from_audit(b, since: str | None, until: str | None, tmp: Path,  # noqa: ANN001
                out: Console) -> Path:
    """The recorded history of the window with outcomes, as a training file."""
    import pandas as pd

    from strategy.history import Window
    from strategy.retrain import training_set

    b.backtester.extract(Window(since, until), tmp / "history")
    parts = sorted((tmp / "history").glob("*.parquet"))
    history = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    df, stats = training_set(history)
    out.print(f"from the audit log: {stats.decisions} decisions, {stats.with_outcome} with an "
              f"outcome, {stats.without_outcome} without (declined, referred, not taken or not "
              f"yet reported: excluded), {stats.other_feature_set} of another feature set; "
              f"{stats.rows} rows, bad rate "
              + (f"{stats.bad_rate:.2%}" if stats.bad_rate is not None else "-"))
    path = tmp / "from_audit.parquet"
    df.to_parquet(path, index=False)
    return path


def _write_draft(data_dir: Path, draft: str | None) -> Path | None:
    if draft is None:
        return None
    import tomllib

    version = tomllib.loads(draft)["version"]
    path = data_dir / "policy-drafts" / f"{version}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(draft)
    return path


@model_cli.command("list")
def model_list() -> None:
    """Registered versions, their aliases and gate results."""
    settings = Settings()
    client = registry(settings).client
    # Search results do not carry aliases on every store; the registered model does.
    aliases: dict[str, list[str]] = {}
    for alias, version in client.get_registered_model(settings.model_name).aliases.items():
        aliases.setdefault(str(version), []).append(alias)
    table = Table("version", "aliases", "gates", "run id", "created")
    for mv in sorted(client.search_model_versions(f"name='{settings.model_name}'"),
                     key=lambda m: int(m.version)):
        created = time.strftime("%Y-%m-%d %H:%M", time.gmtime(mv.creation_timestamp / 1000))
        table.add_row(str(mv.version), ", ".join(sorted(aliases.get(str(mv.version), []))),
                      mv.tags.get("gates", "unchecked"), mv.run_id or "", created)
    Console().print(table)


@model_cli.command("promote")
def model_promote(
    version: Annotated[str, typer.Argument(help="model version to make champion")],
    force: Annotated[bool, typer.Option(help="promote although its gates failed")] = False,
    reason: Annotated[str, typer.Option(help="why (recorded; required with --force)")] = "",
) -> None:
    """Point @champion at VERSION (the API follows within its poll interval)."""
    from audit.store import AuditUnavailable
    from models.errors import PromotionRefused

    try:
        with built() as b:
            event = b.model_admin.promote(version, reason=reason, force=force)
    except (PromotionRefused, AuditUnavailable) as exc:
        console.print(f"[red]refused:[/] {exc}")
        raise typer.Exit(1) from None
    console.print(f"@champion: {event.previous} -> {event.version} by {event.who} at {event.when}"
                  + (" (forced)" if event.forced else ""))


@model_cli.command("rollback")
def model_rollback(reason: Annotated[str, typer.Option(help="why (recorded)")] = "") -> None:
    """Point @champion back at the version that served before the current one."""
    from audit.store import AuditUnavailable
    from models.errors import PromotionRefused

    try:
        with built() as b:
            event = b.model_admin.rollback(reason=reason)
    except (PromotionRefused, AuditUnavailable) as exc:
        console.print(f"[red]refused:[/] {exc}")
        raise typer.Exit(1) from None
    console.print(f"@champion rolled back: {event.previous} -> {event.version} by {event.who}")


@model_cli.command("history")
def model_history() -> None:
    """Every alias change: who, when, why."""
    table = Table("when", "alias", "action", "from", "to", "who", "why", "forced")
    for e in registry(Settings()).history():
        table.add_row(e.when, e.alias, e.action, e.previous or "", e.version, e.who, e.why,
                      "yes" if e.forced else "")
    Console().print(table)


@model_cli.command("card")
def model_card(version: Annotated[str, typer.Argument(help="model version")],
               out: Annotated[Path, typer.Option(help="directory to write the card to")] = Path(".")
               ) -> None:
    """Download a version's model card (HTML and Markdown) from its MLflow run."""
    import mlflow.artifacts

    settings = Settings()
    reg = registry(settings)
    mv = reg.client.get_model_version(settings.model_name, version)
    path = mv.tags.get("model_card")
    if not path or not mv.run_id:
        console.print(f"[red]version {version} has no model card[/] (not trained by `credit train`)")
        raise typer.Exit(1)
    local = mlflow.artifacts.download_artifacts(run_id=mv.run_id, artifact_path="model_card",
                                                dst_path=str(out), tracking_uri=settings.mlflow_uri)
    console.print(f"model card of version {version}: {Path(local) / Path(path).name}")


@data_cli.command("synth")
def data_synth(
    rows: Annotated[int, typer.Option(min=1, help="applications to generate")] = 100_000,
    out: Annotated[Path | None, typer.Option(help=".parquet or .csv "
                                                  "(default: DATA_DIR/synth/credit_<rows>.parquet)")] = None,
    seed: Annotated[int, typer.Option()] = 7,
) -> None:
    """Synthetic applications with outcomes from a generator fitted on credit_data."""
    from training.synth import Generator, write

    settings = Settings()
    path = out or settings.data_dir / "synth" / f"credit_{rows}.parquet"
    t = time.perf_counter()
    df = Generator.fit().sample(rows, seed=seed)
    write(df, path)
    console.print(f"{len(df):,} rows (bad rate {df['bad'].mean():.3f}) -> {path} "
                  f"in {time.perf_counter() - t:.1f}s")

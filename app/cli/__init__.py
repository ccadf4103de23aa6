"""`credit`: the one command-line entry point."""

from __future__ import annotations

import os
import shutil
import subprocess  # nosec B404
import sys
import time
from typing import Annotated

import typer
from rich.console import Console

from app.cli.audit import audit_cli
from app.cli.background import Launched, background
from app.cli.backtest import backtest
from app.cli.common import die_with_parent
from app.cli.db import db_cli
from app.cli.features import features_cli
from app.cli.flags import flags_cli
from app.cli.keys import ensure_local_key, keys_cli
from app.cli.monitor import monitor_cli
from app.cli.outcomes import outcomes_cli
from app.cli.policy import policy_cli
from app.cli.reviews import notices_cli, reviews_cli
from app.cli.shadow import shadow_cli
from app.cli.training import data_cli, model_cli, registry, train
from app.settings import Settings

# One module per area beside the composition root (app/builder.py); gathered here.
cli = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Real-time credit decisions with an audit trail.")
cli.command()(train)
cli.add_typer(model_cli, name="model")
cli.add_typer(data_cli, name="data")
cli.add_typer(audit_cli, name="audit")
cli.add_typer(keys_cli, name="keys")
cli.add_typer(features_cli, name="features")
cli.add_typer(flags_cli, name="flags")
cli.add_typer(shadow_cli, name="shadow")
cli.add_typer(db_cli, name="db")
cli.add_typer(reviews_cli, name="reviews")
cli.add_typer(notices_cli, name="notices")
cli.add_typer(outcomes_cli, name="outcomes")
cli.add_typer(monitor_cli, name="monitor")
cli.add_typer(policy_cli, name="policy")
cli.command("backtest")(backtest)
cli.command("background")(background)
console = Console(stderr=True, soft_wrap=True)


def _wait_ready(url: str, proc: subprocess.Popen, timeout_s: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"simulators exited with code {proc.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"simulators not ready at {url} after {timeout_s:.0f}s")


@cli.command()
def serve(host: Annotated[str | None, typer.Option()] = None,
          port: Annotated[int | None, typer.Option()] = None,
          workers: Annotated[int, typer.Option(min=1)] = 1,
          background_process: Annotated[bool, typer.Option(
              help="run the background passes (review catch-up, monitoring refresh) in a "
                   "process of their own, niced, instead of in every worker")] = True
          ) -> None:
    """Run the API. With nothing configured: trains a first model if the registry has none and
    starts the bureau and open-banking simulators beside the API."""
    import uvicorn

    settings = Settings()
    settings.ensure_data_dir()
    if registry(settings).version_for(settings.model_alias) is None:
        console.print(f"no @{settings.model_alias} model in the registry: training one first")
        train(alias=settings.model_alias, trials=4, n_boot=50)
    if settings.insecure_no_auth:
        console.print("[bold red]INSECURE DEVELOPMENT MODE: authentication is off[/]")
    else:
        ensure_local_key(settings, console)
    sims = None
    if not settings.bureau_url or not settings.open_banking_url:
        base = f"http://{settings.simulator_host}:{settings.simulator_port}"
        sims = subprocess.Popen([sys.executable, "-m", "app.cli", "simulators",  # nosec B603
                                 "--host", settings.simulator_host,
                                 "--port", str(settings.simulator_port)],
                                preexec_fn=die_with_parent)  # noqa: PLW1509
        _wait_ready(f"{base}/healthz", sims)
        os.environ.setdefault("CREDIT_BUREAU_URL", f"{base}/bureau")
        os.environ.setdefault("CREDIT_OPEN_BANKING_URL", f"{base}/open-banking")
        console.print(f"simulators on {base}")
    if workers > 1:
        # Each worker has its own memory: metrics go through a shared directory (emptied here).
        metrics_dir = settings.data_dir.resolve() / "prometheus"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    os.environ["CREDIT_BACKGROUND_PASSES"] = "process" if background_process else "workers"
    passes = Launched().start() if background_process else None
    try:
        uvicorn.run("app.main:app_from_env", factory=True, host=host or settings.host,
                    port=port or settings.port, workers=workers, access_log=False,
                    # Start-up loads the model (a few seconds); uvicorn's default 5 s
                    # health-check timeout would restart a worker that is merely busy loading.
                    timeout_worker_healthcheck=60)
    finally:
        if passes is not None:
            passes.stop()
        if sims is not None:
            sims.terminate()
            sims.wait(timeout=10)


@cli.command()
def simulators(host: Annotated[str, typer.Option()] = "127.0.0.1",
               port: Annotated[int, typer.Option()] = 8100) -> None:
    """Serve the bureau (/bureau) and open-banking (/open-banking) simulators."""
    import uvicorn

    from app.simulators.server import create_simulator_app

    uvicorn.run(create_simulator_app(), host=host, port=port, access_log=False,
                log_level="warning")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()

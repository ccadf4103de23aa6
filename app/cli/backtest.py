"""`credit backtest --policy FILE|VERSION [--model VERSION] [--country] [--since] [--until]
[--json] [--scheduler tcp://HOST:PORT] [--history DIR]`: re-decide the recorded history under
a candidate policy (and model) on Dask and compare with what was decided."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from app.builder import Builder
from app.cli.common import built, console
from decision.application import COUNTRIES


@contextlib.contextmanager
def dask_client(scheduler: str | None, workers: int) -> Iterator[Any]:
    """An existing cluster by address, or a local one of `workers` processes (one thread
    each: LightGBM and the policy are CPU-bound, and processes sidestep the GIL)."""
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler, timeout="30s") as client:
            yield client
        return
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


def candidate_policy(b: Builder, policy: str) -> str:
    """A file's document, or a version of the policy history (a proposal, say)."""
    path = Path(policy)
    if path.is_file():
        return path.read_text()
    return b.policy_admin.get(policy).text


def backtest(
    policy: Annotated[str, typer.Option(help="candidate policy: a TOML file or a version "
                                             "of the policy history")],
    model: Annotated[str | None, typer.Option(
        help="candidate model version (default: each decision's recorded version)")] = None,
    country: Annotated[str | None, typer.Option(help="one country, e.g. ES")] = None,
    since: Annotated[str | None, typer.Option(help="first day, YYYY-MM-DD")] = None,
    until: Annotated[str | None, typer.Option(help="last day, YYYY-MM-DD (inclusive)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    scheduler: Annotated[str | None, typer.Option(
        help="an existing Dask scheduler, tcp://HOST:PORT (default: a local cluster)")] = None,
    workers: Annotated[int, typer.Option(min=1, help="local cluster's worker processes")] = 2,
    history: Annotated[Path | None, typer.Option(
        help="an extracted history (Parquet parts) instead of reading the audit log")] = None,
) -> None:
    """Re-decide recorded applications (their recorded raw inputs and velocity) under a
    candidate policy and/or model; recorded vs candidate rates, bad rates among approved
    where outcomes exist (95% intervals), swap sets, per country."""
    from strategy.errors import ModelVersionNotFound, PolicyNotFound
    from strategy.history import Window

    if country and country.upper() not in COUNTRIES:
        raise typer.BadParameter(f"country must be one of {', '.join(COUNTRIES)}")
    window = Window(since, until, country.upper() if country else None)
    with built() as b:
        try:
            text = candidate_policy(b, policy)
        except PolicyNotFound as exc:
            console.print(f"[red]{escape(str(exc))}[/] (and no such file)")
            raise typer.Exit(2) from None
        t = time.perf_counter()
        with dask_client(scheduler, workers) as client:
            cluster_s = round(time.perf_counter() - t, 3)
            try:
                out = b.backtester.run(text, model, window, client, history)
            except ModelVersionNotFound as exc:
                console.print(f"[red]{escape(str(exc))}[/]")
                raise typer.Exit(2) from None
    out["seconds"]["cluster_s"] = cluster_s
    if as_json:
        typer.echo(orjson.dumps(out, option=orjson.OPT_INDENT_2))
        return
    _print(out)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _bad(b: dict) -> str:
    if b["rate"] is None:
        return "no outcomes"
    return f"{100 * b['rate']:.2f}% [{100 * b['ci95'][0]:.2f}, {100 * b['ci95'][1]:.2f}] n={b['n']}"


def _print(out: dict) -> None:
    console.print(f"candidate policy {out['candidate_policy']}, model {out['candidate_model']}: "
                  f"{out['decisions']} decisions re-decided")
    table = Table("scope", "decisions", "recorded a/r/d", "candidate a/r/d",
                  "bad rate approved (recorded)", "bad rate approved (candidate)", "reproduced")
    for scope, s in out["scopes"].items():
        rr, cr = s["recorded"]["rates"], s["candidate"]["rates"]
        table.add_row(scope, str(s["decisions"]),
                      "/".join(_pct(rr[o]) for o in ("approve", "refer", "decline")),
                      "/".join(_pct(cr[o]) for o in ("approve", "refer", "decline")),
                      _bad(s["recorded"]["bad_rate_approved"]),
                      _bad(s["candidate"]["bad_rate_approved"]),
                      f"{s['reproduced']}/{s['model_decided']}")
    Console().print(table)
    swaps = Table("scope", "from", "to", "count", "observed bad rate")
    for scope, s in out["scopes"].items():
        for w in s["swaps"]:
            swaps.add_row(scope, w["from"], w["to"], str(w["count"]), _bad(w["bad_rate"]))
    Console().print(swaps)

"""What a run measures: configurations of the API (env overrides, plus any server they need)
and scenarios (how enrichment behaves). Each API result is one (configuration, scenario).

Adding a configuration is one entry in CONFIGURATIONS. Values may name a server started for
the run, e.g. "{redis_url}" (a redis-server on a free port, started when `needs` says so)
or "{postgres_url}" (a migrated PostgreSQL of its own).
A configuration or scenario whose settings this build does not have is skipped with the
reason in the report: a setting pydantic ignores would silently measure something else.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx


class Skip(Exception):  # noqa: N818 - a signal, not an error
    """This scenario cannot run on this build; the message says why."""


@dataclass(frozen=True)
class Configuration:
    name: str
    env: dict[str, str] = field(default_factory=dict)
    needs: tuple[str, ...] = ()              # servers to start: "redis", "postgres"
    requires_settings: tuple[str, ...] = ()  # Settings fields this build must have
    server: str = "uvicorn"                  # the ASGI server: "uvicorn" or "granian"
    passes: str = "process"                  # CREDIT_BACKGROUND_PASSES (ADR 0157)


CONFIGURATIONS = [
    Configuration("embedded"),
    Configuration("redis", {"CREDIT_FEATURE_STORE": "redis", "CREDIT_REDIS_URL": "{redis_url}"},
                  needs=("redis",), requires_settings=("feature_store", "redis_url")),
    # The same, with redis-py's pure-Python reply parser (hiredis hidden): ADR 0143's A/B.
    Configuration("redis-without-hiredis",
                  {"CREDIT_FEATURE_STORE": "redis", "CREDIT_REDIS_URL": "{redis_url}",
                   "PYTHONPATH": str(Path(__file__).with_name("without_hiredis"))},
                  needs=("redis",), requires_settings=("feature_store", "redis_url")),
    # The background process under SCHED_IDLE instead of niced: its A/B (ADR 0157).
    Configuration("embedded-sched-idle", {"CREDIT_BACKGROUND_SCHED_IDLE": "true"},
                  requires_settings=("background_sched_idle",)),
    # The background passes in every worker, paced (as before ADR 0157): its A/B.
    Configuration("embedded-passes-in-workers", passes="workers"),
    # The embedded defaults under granian (Rust HTTP) instead of uvicorn: its A/B.
    Configuration("granian", server="granian"),
    # The audit log, digests and customer keys on PostgreSQL (fsync on), the rest embedded.
    Configuration("postgres", {"CREDIT_AUDIT_STORE": "postgres",
                               "CREDIT_POSTGRES_URL": "{postgres_url}"},
                  needs=("postgres",), requires_settings=("audit_store", "postgres_url")),
]


def code_at(ref: str, base: Configuration) -> Configuration:
    """Configuration `base` running the code of commit `ref`: its tree exported (git
    archive) to a directory put first on the API's PYTHONPATH, ahead of the installed tree."""
    sha = subprocess.run(["git", "rev-parse", "--short", ref], capture_output=True, text=True,
                         check=True).stdout.strip()
    dest = Path(tempfile.gettempdir()) / f"credit-bench-code-{sha}"
    if not dest.exists():
        tmp = Path(tempfile.mkdtemp(prefix=f"credit-bench-code-{sha}-"))
        archive = subprocess.run(["git", "archive", sha], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
        tmp.rename(dest)
    path = os.pathsep.join(p for p in (str(dest), base.env.get("PYTHONPATH")) if p)
    # Code from before `credit background` runs its passes in the workers whatever it is told.
    passes = base.passes if (dest / "app" / "background.py").exists() else "workers"
    return Configuration(f"{base.name}-at-{sha}", {**base.env, "PYTHONPATH": path},
                         base.needs, base.requires_settings, base.server, passes)


@dataclass
class Context:
    """What a scenario's setup can use: the simulators, the API and the prepared bodies."""
    simulators_url: str
    api_url: str
    authorization: str
    bodies: list[bytes]  # complete decision bodies with unique ids, for priming


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    setup: Callable[[Context], dict[str, Any]]
    env: dict[str, str] = field(default_factory=dict)
    # Checked before the API starts: a reason to skip on this build, or None.
    precheck: Callable[[str], str | None] = lambda _sims: None


def missing_settings(names: tuple[str, ...]) -> list[str]:
    from app.settings import Settings

    return [n for n in names if n not in Settings.model_fields]


def set_faults(sims: str, **faults: Any) -> bool:
    """PUT the same faults on both simulated sources; False when this build's simulators have
    no fault injection (its /_faults routes come with the resilient-enrichment work)."""
    for source in ("bureau", "open_banking"):
        r = httpx.put(f"{sims}/_faults/{source}", json=faults, timeout=5)
        if r.status_code in (404, 405):
            return False
        r.raise_for_status()
    return True


def simulator_calls(sims: str) -> dict[str, int] | None:
    """Calls each source received so far, or None without fault routes."""
    out = {}
    for source in ("bureau", "open_banking"):
        r = httpx.get(f"{sims}/_faults/{source}", timeout=5)
        if r.status_code != 200:
            return None
        out[source] = int(r.json()["calls"])
    return out


def cache_hit_setup(ctx: Context) -> dict[str, Any]:
    """Healthy simulators; with a feature store in this build, every customer of the bodies is
    decided once first, so the measured decisions find their enrichment cached."""
    set_faults(ctx.simulators_url)
    if missing_settings(("bureau_cache_ttl_s", "open_banking_cache_ttl_s")):
        return {"cache": False, "note": "this build has no feature store: every decision calls "
                "both simulators (no added latency); not the cache-hit case of the targets"}
    headers = {"Authorization": ctx.authorization, "Content-Type": "application/json"}
    with httpx.Client(base_url=ctx.api_url, headers=headers, timeout=10) as client:
        primed = sum(client.post("/v1/decisions", content=b).status_code == 200
                     for b in ctx.bodies)
    return {"cache": True, "primed_customers": primed, "of": len(ctx.bodies)}


def faults_precheck(sims: str) -> str | None:
    if httpx.get(f"{sims}/_faults/bureau", timeout=5).status_code != 200:
        return ("the simulators of this build have no /_faults (latency injection comes with "
                "the resilient-enrichment work); the cold path needs 30 ms per source")
    return None


def cold_setup(ctx: Context) -> dict[str, Any]:
    """Both simulators answer 30 ms late and nothing is cached (TTL 0): the cold path."""
    if not set_faults(ctx.simulators_url, latency_ms=30):
        raise Skip(faults_precheck(ctx.simulators_url) or "fault injection refused")
    return {"added_latency_ms_per_source": 30}


SCENARIOS = [
    Scenario("cache_hit", "enrichment from the feature store (customers already seen)",
             cache_hit_setup),
    Scenario("cold", "both simulators called, 30 ms added latency each, nothing cached",
             cold_setup, env={"CREDIT_BUREAU_CACHE_TTL_S": "0",
                              "CREDIT_OPEN_BANKING_CACHE_TTL_S": "0"},
             precheck=faults_precheck),
]


def heal(sims: str) -> None:
    """Back to healthy simulators after a scenario (no-op without fault routes)."""
    r = httpx.delete(f"{sims}/_faults", timeout=5)
    if r.status_code not in (200, 204, 404, 405):
        r.raise_for_status()

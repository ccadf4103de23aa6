"""Policy versions over HTTP, all under `policy:admin`: the history, one version, a diff,
propose, approve (a second key: four eyes), and the version this worker serves. The actor
recorded is the API key's name and id; four eyes compares key ids, never a value the caller
chooses."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field

from app.api_keys import Principal
from app.auth import require
from app.deps import ServicesDep, unique_json_keys
from app.routes.monitoring import Day
from app.schemas import Country, ErrorOut
from core.blocking import call
from strategy.history import Window
from strategy.model import PolicyVersion

router = APIRouter(prefix="/v1/policies", tags=["policies"])
_ERR = {s: {"model": ErrorOut} for s in (401, 403, 404, 503)}
_CHANGE = {**_ERR, **{s: {"model": ErrorOut} for s in (400, 409, 413, 422)}}
Version = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[\w.\-]+$")]
ADMIN = Depends(require("policy:admin"))
STORE_TIMEOUT_S = 10.0  # a policy change is a few small rows; a stuck store answers 503


class PolicyOut(BaseModel):
    version: str
    state: str = Field(description="proposed | live | retired")
    sha256: str
    based_on: str | None = Field(description="the live version when it was proposed")
    proposed_by: str
    proposed_at: str
    proposal_reason: str
    approved_by: str | None
    approved_at: str | None
    approval_reason: str | None
    retired_at: str | None
    document: str = Field(description="the policy's TOML document")


class ServedOut(BaseModel):
    version: str = Field(description="the policy version this worker applies to new decisions")
    live: str = Field(description="the live version in the policy history")


class ParamChangeOut(BaseModel):
    scope: str
    key: str
    before: Any
    after: Any


class DiffOut(BaseModel):
    a: str
    b: str
    diff: str = Field(description="unified diff of the two documents")
    params: list[ParamChangeOut] = Field(description="effective values that differ")


class ProposeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    document: str = Field(min_length=1, max_length=32_000,
                          description="the policy's TOML document, with a new `version`")
    reason: str = Field(min_length=3, max_length=500)


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    reason: str = Field(min_length=3, max_length=500)
    expected_live: str | None = Field(
        default=None, max_length=64,
        description="the live version the proposal was reviewed against; refused (409) if "
                    "another approval came first")


def _out(v: PolicyVersion) -> PolicyOut:
    return PolicyOut(version=v.version, state=v.state, sha256=v.sha256, based_on=v.based_on,
                     proposed_by=v.proposed_by, proposed_at=v.proposed_at,
                     proposal_reason=v.proposal_reason, approved_by=v.approved_by,
                     approved_at=v.approved_at, approval_reason=v.approval_reason,
                     retired_at=v.retired_at, document=v.text)


def _actor(p: Principal) -> tuple[str, str]:
    return f"{p.name} (key {p.key_id})", f"key:{p.key_id}"


@router.get("", response_model=list[PolicyOut], responses=_ERR, dependencies=[ADMIN])
async def history(services: ServicesDep) -> list[PolicyOut]:
    """Every version, oldest first: the bundled one, then each proposal."""
    versions = await call(services.policy_admin.history, timeout_s=STORE_TIMEOUT_S)
    return [_out(v) for v in versions]


@router.get("/served", response_model=ServedOut, responses=_ERR, dependencies=[ADMIN])
async def served(services: ServicesDep) -> ServedOut:
    """What this worker applies now (its hot-reloaded policy) and the history's live one."""
    live = await call(services.policy_admin.live_version, timeout_s=STORE_TIMEOUT_S)
    return ServedOut(version=services.orchestrator.arms.model.policy.version, live=live)


@router.get("/{version}", response_model=PolicyOut, responses=_ERR, dependencies=[ADMIN])
async def show(version: Version, services: ServicesDep) -> PolicyOut:
    return _out(await call(services.policy_admin.get, version, timeout_s=STORE_TIMEOUT_S))


@router.get("/{a}/diff/{b}", response_model=DiffOut, responses=_ERR, dependencies=[ADMIN])
async def diff(a: Version, b: Version, services: ServicesDep) -> DiffOut:
    d = await call(services.policy_admin.diff, a, b, timeout_s=STORE_TIMEOUT_S)
    return DiffOut(a=d.a, b=d.b, diff=d.text,
                   params=[ParamChangeOut(**vars(c)) for c in d.params])


@router.get("/{version}/backtest", response_model=dict[str, Any], responses=_ERR,
            dependencies=[ADMIN])
async def backtest(version: Version, services: ServicesDep,
                   country: Annotated[Country | None, Query()] = None,
                   since: Day = None, until: Day = None,
                   model: Annotated[str | None, Query(max_length=20, pattern=r"^\d+$")] = None
                   ) -> dict[str, Any]:
    """That version re-deciding the recorded history (each decision's recorded model version,
    or `model`): recorded vs candidate rates, bad rates among approved with intervals, swap
    sets, per country; what `credit backtest --policy VERSION --json` prints."""
    window = Window(since.isoformat() if since else None,
                    until.isoformat() if until else None, country)
    return await call(run_backtest, services, version, model, window,
                      timeout_s=services.settings.backtest_timeout_s)


def run_backtest(services: Any, version: str, model: str | None, window: Window) -> dict:
    """In a worker thread: on the configured scheduler, else in this process's threads."""
    text = services.policy_admin.get(version).text
    scheduler = services.settings.backtest_scheduler
    if not scheduler:
        return services.builder.backtester.cached(text, model, window)
    from distributed import Client

    with Client(scheduler, timeout="10s") as client:
        return services.builder.backtester.cached(text, model, window, client)


@router.post("", response_model=PolicyOut, status_code=status.HTTP_201_CREATED,
             responses=_CHANGE, dependencies=[Depends(unique_json_keys)])
async def propose(body: ProposeIn, services: ServicesDep,
                  principal: Annotated[Principal, ADMIN]) -> PolicyOut:
    """Propose a version (audited); it is not served until another key approves it."""
    actor, actor_id = _actor(principal)

    def run() -> PolicyVersion:
        return services.policy_admin.propose(body.document, reason=body.reason, actor=actor,
                                             actor_id=actor_id)

    return _out(await call(run, timeout_s=STORE_TIMEOUT_S))


@router.post("/{version}/approve", response_model=PolicyOut, responses=_CHANGE,
             dependencies=[Depends(unique_json_keys)])
async def approve(version: Version, body: ApproveIn, services: ServicesDep,
                  principal: Annotated[Principal, ADMIN]) -> PolicyOut:
    """Approve a proposal: a key other than the proposer's (409 same_approver otherwise).
    It goes live here at once and on every other worker at its next poll."""
    actor, actor_id = _actor(principal)

    def run() -> PolicyVersion:
        out = services.policy_admin.approve(version, reason=body.reason, actor=actor,
                                            actor_id=actor_id, expected_live=body.expected_live)
        if services.policies is not None:
            services.policies.check_once()  # this worker at once
        return out

    return _out(await call(run, timeout_s=STORE_TIMEOUT_S))

"""The two decision arms, the case both see, and the shadow runner.

One arm of each kind serves every use: the live decision (`explain=True` for the model:
exact TreeSHAP contributions), the shadow run beside it (`explain=False`: ~30 µs), replay
and backtests. Every input of the policy (the velocity counts included) travels in the
`Case`, so the model arm reaches the same outcome wherever it runs.

An arm that declares itself `inline` (bounded CPU work, no I/O: both real arms take tens of
microseconds without an explanation) runs its shadow on the spot, its errors caught; any
other arm runs on a small thread pool, started before the live arm so that both usually
finish together. The live path waits for the shadow at most `budget_s` (counted from the
shadow's start); a shadow arm that fails, times out or finds every slot taken by earlier
hung runs is recorded with that status and never touches the answer.
"""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from audit.records import ArmResult
from decision.policy import Policy, PolicyHolder, PolicyResult
from models.scorer import Score, Scorer
from shadow.scorecard import Scorecard


@dataclass(frozen=True)
class Case:
    """What both arms see: one application's inputs, identical for both."""

    country: str
    x: np.ndarray
    raw: dict[str, Any]
    features: dict[str, float | None]
    degraded: list[str]
    velocity: dict[str, int] | None = None
    scorer: Scorer | None = None  # the model version pinned for this decision


@dataclass(frozen=True)
class ArmOutcome:
    arm: str  # model | legacy
    outcome: str  # approve | decline | refer
    version: str
    probability_of_default: float | None = None  # model: what it said (even if withheld)
    grade: str | None = None
    points: float | None = None  # legacy
    knock_outs: list[str] = field(default_factory=list)
    shortfalls: dict[str, float] | None = None  # legacy: points each attribute cost
    # Legacy: (feature, weight) behind the outcome, most important first (reason codes).
    reason_weights: list[tuple[str, float]] = field(default_factory=list)
    score: Score | None = None  # model
    policy: PolicyResult | None = None  # model

    def result(self) -> ArmResult:
        return ArmResult(arm=self.arm, outcome=self.outcome, version=self.version,
                         points=self.points, probability_of_default=self.probability_of_default,
                         grade=self.grade, knock_outs=list(self.knock_outs),
                         shortfalls=self.shortfalls)


class DecisionArm(Protocol):
    name: str
    # True: bounded CPU work without I/O, cheaper run on the spot than handed to a thread.
    inline: bool

    def evaluate(self, case: Case, explain: bool = False) -> ArmOutcome: ...


class LegacyArm:
    """The legacy scorecard. Missing data never approves: a degraded case is at least refer."""

    name = "legacy"
    inline = True  # the scorecard: a few operations on one row

    def __init__(self, scorecard: Scorecard) -> None:
        self.scorecard = scorecard

    def evaluate(self, case: Case, explain: bool = False) -> ArmOutcome:
        r = self.scorecard.decide(case.x)
        outcome = "refer" if case.degraded and r.outcome == "approve" else r.outcome
        return ArmOutcome("legacy", outcome, self.scorecard.version, points=r.points,
                          knock_outs=r.knock_outs, shortfalls=r.shortfalls,
                          reason_weights=self.scorecard.reason_weights(r.knock_outs,
                                                                       r.shortfalls))


class ModelArm:
    """The model version pinned in the case, then the policy on its probability: a fixed
    policy (replay, backtests) or the holder's live one, read once per decision."""

    name = "model"
    inline = True  # one single-threaded LightGBM prediction when not explaining

    def __init__(self, policy: Policy | PolicyHolder) -> None:
        self.holder = policy if isinstance(policy, PolicyHolder) else PolicyHolder(policy)

    @property
    def policy(self) -> Policy:
        return self.holder.current

    def evaluate(self, case: Case, explain: bool = False) -> ArmOutcome:
        if case.scorer is None:
            raise RuntimeError("no model pinned for this case")
        policy = self.holder.current  # once: a hot reload cannot split this decision
        score = case.scorer.score(case.x, explain)
        result = policy.decide(case.country, score.probability, case.raw, case.features,
                                    case.degraded, velocity=case.velocity)
        return ArmOutcome("model", result.outcome, case.scorer.version,
                          probability_of_default=score.probability, grade=result.grade,
                          score=score, policy=result)


@dataclass
class Pending:
    arm: str
    started: float
    # A thread future, not an asyncio one: it is done the moment the thread finishes, even
    # while the event loop is busy with the live arm. None: not started (no free slot).
    future: Future[ArmOutcome] | None


class ShadowRunner:
    def __init__(self, budget_s: float, slots: int = 4) -> None:
        self.budget_s = budget_s
        self._pool = ThreadPoolExecutor(slots, thread_name_prefix="shadow")
        # As many slots as threads: a submission never queues behind a hung run.
        self._slots = threading.BoundedSemaphore(slots)

    def start(self, arm: DecisionArm, case: Case) -> Pending:
        started = time.perf_counter()
        if getattr(arm, "inline", False):
            # A thread hop and a GIL hand-over cost more than these arms themselves.
            done: Future[ArmOutcome] = Future()
            try:
                done.set_result(arm.evaluate(case))
            except Exception as exc:  # recorded as the shadow's error, never surfaced
                done.set_exception(exc)
            return Pending(arm.name, started, done)
        if not self._slots.acquire(blocking=False):
            return Pending(arm.name, started, None)
        future = self._pool.submit(arm.evaluate, case)
        # Released when the run ends however it ends (result, error, or cancelled unstarted).
        future.add_done_callback(lambda _: self._slots.release())
        return Pending(arm.name, started, future)

    async def finish(self, pending: Pending) -> tuple[str, ArmOutcome | None, str | None]:
        """(status, outcome, error type): status ok | error | timeout | busy."""
        if pending.future is None:
            return "busy", None, None
        remaining = max(0.0, self.budget_s - (time.perf_counter() - pending.started))
        try:
            if pending.future.done():
                return "ok", pending.future.result(), None
            # On timeout wait_for cancels the run if it has not started yet (work saved);
            # the done callback above gives its slot back either way.
            out = await asyncio.wait_for(asyncio.wrap_future(pending.future), remaining)
            return "ok", out, None
        except TimeoutError:
            return "timeout", None, None
        except Exception as exc:
            return "error", None, type(exc).__name__

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

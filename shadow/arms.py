"""The two decision arms and the shadow runner.

Every decision runs both arms on the same feature row: the one chosen by the country's flag
decides; the other runs in shadow. An arm that declares itself `inline` (bounded CPU work, no
I/O: both real arms take tens of microseconds) runs on the spot, its errors caught; any
other arm runs on a small thread pool, started before the live arm so that both usually
finish together. The live path waits for the shadow at most `budget_s`
(counted from the shadow's start); a shadow arm that fails, times out or finds every slot
taken by earlier hung runs is recorded with that status and never touches the answer.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from app.policy import Policy
from models.scorer import Scorer
from shadow.scorecard import Scorecard


@dataclass(frozen=True)
class Case:
    """What both arms see: one application's features (identical for both)."""

    country: str
    x: np.ndarray
    raw: dict[str, Any]
    features: dict[str, float | None]
    degraded: list[str]
    scorer: Scorer | None = None  # the model version pinned for this decision


@dataclass(frozen=True)
class ArmOutcome:
    arm: str  # model | legacy
    outcome: str  # approve | decline | refer
    version: str
    points: float | None = None  # legacy
    probability_of_default: float | None = None  # model
    grade: str | None = None
    knock_outs: list[str] = field(default_factory=list)
    shortfalls: dict[str, float] | None = None  # legacy: points each attribute cost
    # Legacy: (feature, weight) behind the outcome, most important first (reason codes).
    reason_weights: list[tuple[str, float]] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        return {"arm": self.arm, "outcome": self.outcome, "version": self.version,
                "points": self.points, "probability_of_default": self.probability_of_default,
                "grade": self.grade, "knock_outs": list(self.knock_outs),
                "shortfalls": self.shortfalls}


class DecisionArm(Protocol):
    name: str
    # True: bounded CPU work without I/O, cheaper run on the spot than handed to a thread.
    inline: bool

    def evaluate(self, case: Case) -> ArmOutcome: ...


class LegacyArm:
    """The legacy scorecard. Missing data never approves: a degraded case is at least refer."""

    name = "legacy"
    inline = True  # the scorecard: a few numpy operations on one row

    def __init__(self, scorecard: Scorecard) -> None:
        self.scorecard = scorecard

    def evaluate(self, case: Case) -> ArmOutcome:
        r = self.scorecard.decide(case.x)
        outcome = "refer" if case.degraded and r.outcome == "approve" else r.outcome
        return ArmOutcome("legacy", outcome, self.scorecard.version, points=r.points,
                          knock_outs=r.knock_outs, shortfalls=r.shortfalls,
                          reason_weights=self.scorecard.reason_weights(r.knock_outs,
                                                                       r.shortfalls))


class ModelArm:
    """The model as a shadow: probability only (no explanation: ~30 µs), then the policy."""

    name = "model"
    inline = True  # one single-threaded LightGBM prediction, no explanation

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def evaluate(self, case: Case) -> ArmOutcome:
        scorer = case.scorer
        if scorer is None:
            raise RuntimeError("no model pinned for this case")
        raw_score = float(scorer.booster.predict(case.x, raw_score=True, num_threads=1)[0])
        p = 1.0 / (1.0 + math.exp(-(scorer.a * raw_score + scorer.b)))
        result = self.policy.decide(case.country, p, case.raw, case.features, case.degraded)
        return ArmOutcome("model", result.outcome, scorer.version, probability_of_default=p,
                          grade=result.grade)


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

"""Cut-offs chosen from evidence: the approval-rate / bad-rate trade-off of the new model on
its test split, beside the legacy scorecard's operating point, and the thresholds that meet a
stated objective, written as a policy draft (proposed, never live by itself: ADR 0131).

The model's approvals are those of the whole policy, not of the score alone: an applicant is
approved when no rule refers or declines them (knock-outs, unverified income, ...) and the
probability of default is below `approve_below`. So the curve is what the API would do.

Objectives:
  legacy-dominance (default)  approval rate no lower than legacy's, lowest bad rate among
                              approved
  bad-rate-ceiling            highest approval rate with a bad rate among approved at or
                              below a ceiling
Per country where the data has a `country` column and enough test rows of that country
(MIN_ROWS, MIN_BADS); otherwise one threshold for every country.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from decision.policy import Policy, dump_policy
from models.features import FEATURE_NAMES
from shadow.scorecard import Scorecard

Objective = Literal["legacy-dominance", "bad-rate-ceiling"]
MIN_ROWS, MIN_BADS = 300, 30
_COL = {name: i for i, name in enumerate(FEATURE_NAMES)}


@dataclass(frozen=True)
class Point:
    threshold: float | None  # None: the legacy scorecard
    approval_rate: float
    bad_rate: float          # among approved
    approved: int


@dataclass
class ScopeCutoff:
    scope: str               # "all" or a country
    rows: int
    legacy: Point
    chosen: Point | None     # None: no threshold meets the objective
    curve: list[Point] = field(default_factory=list)  # thinned for the card

    def to_json(self) -> dict[str, Any]:
        return {"scope": self.scope, "rows": self.rows, "legacy": vars(self.legacy),
                "chosen": vars(self.chosen) if self.chosen else None,
                "curve": [vars(p) for p in self.curve]}


def rules_pass(x: np.ndarray, policy: Policy, country: str) -> np.ndarray:
    """Rows no rule of `policy` refers or declines (the score aside): `decide_batch` with a
    probability of 0, which approves on the score."""
    raw = {k: x[:, _COL[k]] for k in ("amount", "price", "age", "time", "income")}
    severity = policy.decide_batch(country, np.zeros(len(x)), raw, x[:, _COL["payment_to_income"]],
                                   {}, {})
    return severity == 0


def curve(p: np.ndarray, y: np.ndarray, eligible: np.ndarray) -> tuple[np.ndarray, ...]:
    """Every distinct cut: (thresholds, approval rates, bad rates among approved, approved).
    A threshold t approves the eligible rows with p < t; each cut sits above one run of equal
    probabilities and at or below the next (a 6-decimal number where one fits, so the draft
    reads well)."""
    pe, ye = p[eligible], y[eligible]
    order = np.argsort(pe, kind="stable")
    ps, ys = pe[order], ye[order]
    last = np.r_[ps[1:] != ps[:-1], True]  # the last row of each run of equal probabilities
    k = np.flatnonzero(last) + 1           # rows approved when cutting after that run
    below = ps[k - 1]
    nxt = np.r_[ps[k[:-1]], ps[-1] + 1e-3] if len(ps) else np.array([])
    nice = np.floor(below * 1e6) / 1e6 + 1e-6
    nice = np.round(nice, 6)
    thresholds = np.where((nice > below) & (nice <= nxt), nice, (below + nxt) / 2)
    bads = np.cumsum(ys)[k - 1]
    return thresholds, k / len(p), bads / k, k


def _point(p: np.ndarray, y: np.ndarray, eligible: np.ndarray, t: float) -> Point:
    approved = eligible & (p < t)
    n = int(approved.sum())
    return Point(float(t), n / len(p), float(y[approved].mean()) if n else float("nan"), n)


def choose(p: np.ndarray, y: np.ndarray, eligible: np.ndarray, legacy: Point,
           objective: Objective, ceiling: float | None) -> Point | None:
    thresholds, rates, bad, _ = curve(p, y, eligible)
    if objective == "legacy-dominance":
        ok = rates >= legacy.approval_rate
        if not ok.any():
            return None
        best = np.flatnonzero(ok)[np.argmin(bad[ok])]
    else:
        if ceiling is None:
            raise ValueError("the bad-rate-ceiling objective needs a ceiling")
        ok = bad <= ceiling
        if not ok.any():
            return None
        best = np.flatnonzero(ok)[np.argmax(rates[ok])]
    # Recomputed at the rounded threshold: the reported point is exactly what it does.
    return _point(p, y, eligible, float(thresholds[best]))


def legacy_point(x: np.ndarray, y: np.ndarray, scorecard: Scorecard) -> Point:
    outcomes, _ = scorecard.outcomes(x)
    approved = outcomes == "approve"
    n = int(approved.sum())
    return Point(None, n / len(x), float(y[approved].mean()) if n else float("nan"), n)


def _thin(p: np.ndarray, y: np.ndarray, eligible: np.ndarray, points: int = 60) -> list[Point]:
    thresholds, rates, bad, k = curve(p, y, eligible)
    idx = np.unique(np.linspace(0, len(thresholds) - 1, min(points, len(thresholds))).astype(int))
    return [Point(float(thresholds[i]), float(rates[i]), float(bad[i]), int(k[i])) for i in idx]


def propose(x: np.ndarray, y: np.ndarray, p: np.ndarray, base: Policy, *,
            countries: np.ndarray | None = None, objective: Objective = "legacy-dominance",
            ceiling: float | None = None, version: str,
            scorecard: Scorecard | None = None) -> tuple[list[ScopeCutoff], str]:
    """Cut-offs per scope and the policy draft (TOML text) that applies them on top of
    `base` (the live policy): its rules stay, its approve thresholds are replaced."""
    card = scorecard or Scorecard.load()
    scopes: list[tuple[str, np.ndarray]] = []
    if countries is not None:
        for c in sorted(set(countries.tolist())):
            m = countries == c
            if m.sum() >= MIN_ROWS and y[m].sum() >= MIN_BADS:
                scopes.append((str(c), m))
    found: list[ScopeCutoff] = []
    whole = np.ones(len(y), bool)
    for scope, mask in [("all", whole), *scopes]:
        xs, ys, ps = x[mask], y[mask], p[mask]
        eligible = rules_pass(xs, base, "defaults" if scope == "all" else scope)
        legacy = legacy_point(xs, ys, card)
        found.append(ScopeCutoff(scope, int(mask.sum()), legacy,
                                 choose(ps, ys, eligible, legacy, objective, ceiling),
                                 _thin(ps, ys, eligible)))
    return found, draft(base, found, version, objective, ceiling)


def draft(base: Policy, found: list[ScopeCutoff], version: str, objective: Objective,
          ceiling: float | None) -> str:
    """The base policy with the chosen thresholds: `all` in [defaults] and in every country
    without a threshold of its own (a country override of the base would otherwise win);
    decline_at raised to the threshold where it was below it."""
    config = base.config()
    config["version"] = version
    chosen = {c.scope: c.chosen.threshold for c in found if c.chosen is not None}
    if "all" in chosen:
        config["defaults"]["approve_below"] = chosen["all"]
        config["defaults"]["decline_at"] = max(config["defaults"]["decline_at"], chosen["all"])
    for country, table in config.get("countries", {}).items():
        t = chosen.get(country, chosen.get("all"))
        if t is not None:
            table["approve_below"] = t
            if "decline_at" in table:
                table["decline_at"] = max(table["decline_at"], t)
    for country, t in chosen.items():
        if country != "all" and country not in config.get("countries", {}):
            config.setdefault("countries", {})[country] = {"approve_below": t}
    header = (f"Policy draft from `credit train`: objective {objective}"
              + (f" (bad-rate ceiling {ceiling})" if ceiling is not None else "")
              + f", based on policy {base.version}. A proposal only: publish it with\n"
              "`credit policy propose FILE --reason ...`; another person approves it.")
    text = dump_policy(config, header)
    Policy.from_text(text)  # the draft is a valid policy
    return text


def plot(found: list[ScopeCutoff], path: Path) -> None:
    """The trade-off curve per scope with legacy's point and the chosen point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for i, c in enumerate(found):
        color = f"C{i}"
        ax.plot([pt.approval_rate for pt in c.curve], [pt.bad_rate for pt in c.curve],
                color=color, label=f"model + policy rules ({c.scope})")
        ax.scatter([c.legacy.approval_rate], [c.legacy.bad_rate], marker="s", color=color,
                   edgecolor="black", zorder=3, label=f"legacy scorecard ({c.scope})")
        if c.chosen is not None:
            ax.scatter([c.chosen.approval_rate], [c.chosen.bad_rate], marker="*", s=160,
                       color=color, edgecolor="black", zorder=3,
                       label=f"proposed cut-off {c.chosen.threshold:g} ({c.scope})")
    ax.set_xlabel("approval rate")
    ax.set_ylabel("bad rate among approved")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)

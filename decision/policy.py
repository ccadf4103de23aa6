"""Policy rules: knock-outs and per-country thresholds -> approve | decline | refer, and a grade.

The rules live in a versioned TOML file (decision/policy_rules.toml by default); every decision
records the version and the rules that fired.

A missing source (degraded enrichment) is handled per country and source by `[degraded]`:
"score_and_refer" scores with that source's values missing and refers; "refer" refers
outright and withholds the score from the response (ADR 0012).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

_SEVERITY = {"approve": 0, "refer": 1, "decline": 2}
DEGRADED_MODES = ("score_and_refer", "refer")


@dataclass(frozen=True)
class Fired:
    rule: str
    effect: str  # "refer" | "decline"
    detail: str


@dataclass(frozen=True)
class PolicyResult:
    version: str
    outcome: str
    grade: str | None
    fired: list[Fired] = field(default_factory=list)
    # True when a degraded source's mode is "refer": the response carries no score, grade
    # or reasons (the audit record still keeps what the model said).
    withhold_score: bool = False


class Policy:
    def __init__(self, config: dict[str, Any]) -> None:
        self.version: str = config["version"]
        self._defaults: dict[str, Any] = config["defaults"]
        self._countries: dict[str, dict[str, Any]] = config.get("countries", {})
        for where, table in [("defaults", self._defaults), *self._countries.items()]:
            for source, mode in table.get("degraded", {}).items():
                if mode not in DEGRADED_MODES:
                    raise ValueError(f"policy {where}.degraded.{source}: unknown mode {mode!r} "
                                     f"(one of {', '.join(DEGRADED_MODES)})")

    @classmethod
    def load(cls, path: Path | None = None) -> Policy:
        text = (path.read_text() if path else
                resources.files("decision").joinpath("policy_rules.toml").read_text())
        return cls(tomllib.loads(text))

    def params(self, country: str) -> dict[str, Any]:
        country_params = self._countries.get(country, {})
        merged = {**self._defaults, **country_params}
        merged["degraded"] = {**self._defaults.get("degraded", {}),
                              **country_params.get("degraded", {})}
        return merged

    def degraded_mode(self, country: str, source: str) -> str:
        return self.params(country)["degraded"].get(source, "score_and_refer")

    def grade(self, probability: float, country: str) -> str:
        for name, upper in self.params(country)["grades"]:
            if probability < upper:
                return name
        return self.params(country)["grades"][-1][0]

    def decide(self, country: str, probability: float | None, raw: dict[str, Any],
               features: dict[str, float | None], degraded_sources: list[str],
               velocity: dict[str, int] | None = None) -> PolicyResult:
        p = self.params(country)
        fired: list[Fired] = []
        if raw["amount"] > raw["price"]:
            fired.append(Fired("loan_exceeds_price", "decline",
                               "requested amount is above the purchase price"))
        pti = features.get("payment_to_income")
        if pti is not None and pti > p["max_payment_to_income"]:
            fired.append(Fired("affordability", "decline",
                               f"monthly payment is {pti:.0%} of verified income "
                               f"(limit {p['max_payment_to_income']:.0%})"))
        age_end = raw["age"] + raw["time"] / 12
        if age_end > p["max_age_at_maturity"]:
            fired.append(Fired("age_at_maturity", "decline",
                               f"applicant would be {age_end:.0f} at maturity "
                               f"(limit {p['max_age_at_maturity']})"))
        withhold = False
        for source in degraded_sources:
            mode = self.degraded_mode(country, source)
            withhold = withhold or mode == "refer"
            fired.append(Fired(f"{source}_degraded", "refer",
                               f"{source} data unavailable ({mode})"))
        limit = p.get("max_applications_per_day")
        for subject in ("customer", "national_id"):
            n = (velocity or {}).get(f"{subject}_applications_24h", 0)
            if limit is not None and n > limit:
                fired.append(Fired(f"{subject}_velocity", "refer",
                                   f"{n} applications in 24 hours by this {subject.replace('_', ' ')}"
                                   f" (limit {limit})"))
        if raw.get("income") is None and "open_banking" not in degraded_sources:
            fired.append(Fired("income_unverified", "refer", "income could not be verified"))

        if withhold:
            fired.append(Fired("score_withheld", "refer",
                               "a degraded source's policy is to refer without a score"))
            score_outcome = "refer"
        elif probability is None:
            fired.append(Fired("not_scored", "refer", "no model score available"))
            score_outcome = "refer"
        elif probability < p["approve_below"]:
            score_outcome = "approve"
        elif probability >= p["decline_at"]:
            score_outcome = "decline"
            fired.append(Fired("score_decline", "decline",
                               f"probability of default at or above {p['decline_at']}"))
        else:
            score_outcome = "refer"
            fired.append(Fired("score_refer", "refer",
                               f"probability of default between {p['approve_below']} "
                               f"and {p['decline_at']}"))
        outcome = max([score_outcome, *(f.effect for f in fired)], key=_SEVERITY.__getitem__)
        grade = None if probability is None or withhold else self.grade(probability, country)
        return PolicyResult(self.version, outcome, grade, fired, withhold)

"""Policy rules: knock-outs and per-country thresholds -> approve | decline | refer, and a grade.

The rules live in a versioned TOML document: decision/policy_rules.toml is the bundled
first version; later versions are proposed and approved by two people and kept in the policy
history (strategy/, ADR 0130), from which every worker hot-reloads the live one into its
`PolicyHolder`. Every decision records the version and the rules that fired; replay loads that
version from the history.

A missing source (degraded enrichment) is handled per country and source by `[degraded]`:
"score_and_refer" scores with that source's values missing and refers; "refer" refers
outright and withholds the score from the response (ADR 0012).
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

_SEVERITY = {"approve": 0, "refer": 1, "decline": 2}
OUTCOMES = ("approve", "refer", "decline")  # index = severity (the vectorised path's codes)
DEGRADED_MODES = ("score_and_refer", "refer")
_REQUIRED = ("approve_below", "decline_at", "max_payment_to_income", "max_age_at_maturity",
             "grades")


class InvalidPolicy(ValueError):
    """A policy document that cannot be parsed or breaks a rule of its own shape."""


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
    def __init__(self, config: dict[str, Any], text: str | None = None) -> None:
        version = config.get("version")
        # A version names the policy in URLs, file names and the audit log: a plain token.
        if not isinstance(version, str) or not re.fullmatch(r"[\w.\-]{1,64}", version):
            raise InvalidPolicy("policy: `version` must be 1 to 64 letters, digits, '.', '_' "
                                "or '-'")
        self.version: str = version
        self.text = text  # the document it was parsed from, when it came from one
        if not isinstance(config.get("defaults"), dict):
            raise InvalidPolicy("policy: a [defaults] table is required")
        self._defaults: dict[str, Any] = config["defaults"]
        self._countries: dict[str, dict[str, Any]] = config.get("countries", {})
        for where, table in [("defaults", self._defaults), *self._countries.items()]:
            for source, mode in table.get("degraded", {}).items():
                if mode not in DEGRADED_MODES:
                    raise InvalidPolicy(f"policy {where}.degraded.{source}: unknown mode "
                                        f"{mode!r} (one of {', '.join(DEGRADED_MODES)})")
        for country in ["defaults", *self._countries]:
            self._check(country)

    def _check(self, country: str) -> None:
        p = self.params(country)
        missing = [k for k in _REQUIRED if k not in p]
        if missing:
            raise InvalidPolicy(f"policy {country}: missing {', '.join(missing)}")
        for key in ("approve_below", "decline_at", "max_payment_to_income"):
            value = p[key]
            if not isinstance(value, int | float) or isinstance(value, bool) \
                    or not math.isfinite(value) or value < 0:
                raise InvalidPolicy(f"policy {country}.{key}: a number >= 0 is required")
        if not 0 <= p["approve_below"] <= p["decline_at"] <= 1:
            raise InvalidPolicy(f"policy {country}: 0 <= approve_below <= decline_at <= 1 "
                                f"does not hold ({p['approve_below']}, {p['decline_at']})")

    @classmethod
    def from_text(cls, text: str) -> Policy:
        try:
            config = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InvalidPolicy(f"policy: not valid TOML ({exc})") from None
        return cls(config, text)

    @classmethod
    def load(cls, path: Path | None = None) -> Policy:
        return cls.from_text(path.read_text() if path else bundled_text())

    def config(self) -> dict[str, Any]:
        """A deep copy of the document's content (to derive a new version from)."""
        import copy

        return copy.deepcopy({"version": self.version, "defaults": self._defaults,
                              "countries": self._countries})

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


    def decide_batch(self, country: str, probability: np.ndarray, raw: dict[str, np.ndarray],
                     payment_to_income: np.ndarray, degraded: dict[str, np.ndarray],
                     velocity: dict[str, np.ndarray]) -> np.ndarray:
        """`decide` over many applications of one country at once: the outcome's severity
        index into OUTCOMES per row (no grade, no fired-rule texts). The same rules as
        `decide`, vectorised for backtests; tests pin that both agree row by row.
        Missing values are NaN (probability NaN: not scored); `degraded` maps a source to a
        boolean mask of the rows where it was degraded (a source left out: never)."""
        p = self.params(country)
        n = len(probability)
        sev = np.zeros(n, dtype=np.int8)

        def at_least(mask: np.ndarray, outcome: str) -> None:
            np.maximum(sev, np.where(mask, np.int8(_SEVERITY[outcome]), np.int8(0)), out=sev)

        at_least(raw["amount"] > raw["price"], "decline")
        pti = payment_to_income
        at_least(~np.isnan(pti) & (pti > p["max_payment_to_income"]), "decline")
        at_least(raw["age"] + raw["time"] / 12 > p["max_age_at_maturity"], "decline")
        withhold = np.zeros(n, dtype=bool)
        for source, mask in degraded.items():
            at_least(mask, "refer")
            if self.degraded_mode(country, source) == "refer":
                withhold |= mask
        ob_degraded = degraded.get("open_banking", np.zeros(n, dtype=bool))
        limit = p.get("max_applications_per_day")
        if limit is not None:
            for subject in ("customer", "national_id"):
                counts = velocity.get(f"{subject}_applications_24h")
                if counts is not None:
                    at_least(counts > limit, "refer")
        at_least(np.isnan(raw["income"]) & ~ob_degraded, "refer")
        prob = probability
        unscored = withhold | np.isnan(prob)
        score = np.where(prob < p["approve_below"], _SEVERITY["approve"],
                         np.where(prob >= p["decline_at"], _SEVERITY["decline"],
                                  _SEVERITY["refer"])).astype(np.int8)
        score = np.where(unscored, np.int8(_SEVERITY["refer"]), score)
        return np.maximum(sev, score)


def dump_policy(config: dict[str, Any], header: str = "") -> str:
    """A policy's content as a TOML document (the shape Policy reads: scalars, lists of
    lists, nested tables), for drafts derived from another version."""
    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, list):
            return "[" + ", ".join(value(i) for i in v) + "]"
        return repr(v)

    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    lines.append(f"version = {value(config['version'])}")

    def table(name: str, t: dict[str, Any]) -> None:
        lines.extend(["", f"[{name}]"])
        lines.extend(f"{k} = {value(v)}" for k, v in t.items() if not isinstance(v, dict))
        for k, v in t.items():
            if isinstance(v, dict):
                table(f"{name}.{k}", v)

    table("defaults", config["defaults"])
    for country, t in config.get("countries", {}).items():
        table(f"countries.{country}", t)
    return "\n".join(lines) + "\n"


def bundled_text() -> str:
    """The policy shipped with the code: the first version of every history."""
    return resources.files("decision").joinpath("policy_rules.toml").read_text()


class PolicyHolder:
    """The policy new decisions use. A decision reads `current` once (ModelArm.evaluate), so
    a swap by the reloader's thread (one attribute assignment, atomic in Python) cannot mix
    two versions in one decision."""

    def __init__(self, policy: Policy) -> None:
        self.current = policy

    @property
    def version(self) -> str:
        return self.current.version

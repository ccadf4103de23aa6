"""Reviewer reason codes: a versioned list (review/reason_codes.toml), English and Spanish."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from review.errors import InvalidReview


@dataclass(frozen=True)
class ReasonCode:
    code: str
    outcomes: tuple[str, ...]
    en: str
    es: str

    def text(self, language: str) -> str:
        return self.es if language == "es" else self.en


class ReasonCodes:
    def __init__(self, version: str, codes: dict[str, ReasonCode]) -> None:
        self.version = version
        self.codes = codes

    @classmethod
    def load(cls, path: Path | None = None) -> ReasonCodes:
        text = (path.read_text() if path else
                resources.files("review").joinpath("reason_codes.toml").read_text())
        doc = tomllib.loads(text)
        codes = {code: ReasonCode(code, tuple(c["outcomes"]), c["en"], c["es"])
                 for code, c in doc["codes"].items()}
        for c in codes.values():
            if not set(c.outcomes) <= {"approve", "decline"} or not c.outcomes:
                raise ValueError(f"reason code {c.code}: outcomes must be approve and/or decline")
        return cls(doc["version"], codes)

    def check(self, code: str, outcome: str) -> ReasonCode:
        """The code, if it may justify `outcome`; InvalidReview names the valid ones."""
        found = self.codes.get(code)
        if found is None or outcome not in found.outcomes:
            valid = ", ".join(c.code for c in self.codes.values() if outcome in c.outcomes)
            raise InvalidReview(f"reason_code {code!r} is not a reason to {outcome} "
                                f"(reason codes {self.version}: {valid})")
        return found

    def for_outcome(self, outcome: str) -> list[ReasonCode]:
        return [c for c in self.codes.values() if outcome in c.outcomes]

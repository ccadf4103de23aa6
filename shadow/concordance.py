"""Concordance of the legacy scorecard and the model, from the audit log.

Every decision record with a successful shadow run holds both arms' outcomes and scores
(`shadow.comparison`). From those pairs: agreement rate with a Wilson interval (scipy), the
3x3 cross-table and its swap sets (who would change outcome), Cohen's kappa (scikit-learn),
Spearman's rank correlation of legacy points and model PD (scipy; expected negative: more
points = lower risk), overall, per country and per day; disagreements listed for review.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from audit.record import Entry
from audit.records import DecisionRecord, parse_record

OUTCOMES = ("approve", "refer", "decline")
_SEVERITY = {o: i for i, o in enumerate(OUTCOMES)}


@dataclass(frozen=True)
class Pair:
    decision_id: str
    country: str
    day: str  # YYYY-MM-DD (UTC)
    decided_by: str
    legacy_outcome: str
    model_outcome: str
    legacy_points: float | None
    model_probability: float | None


def pairs_from_entries(entries: Iterable[Entry], country: str | None = None,
                       since: date | None = None) -> tuple[list[Pair], dict[str, int]]:
    """Comparable pairs, and how many shadow runs ended in each status (ok, timeout, ...)."""
    pairs: list[Pair] = []
    statuses: Counter[str] = Counter()
    for entry in entries:
        if b'"type":"decision"' not in entry.body:  # canonical JSON: no spaces
            continue
        rec = parse_record(entry.body)
        if not isinstance(rec, DecisionRecord) or rec.shadow is None:
            continue
        day = rec.decided_at[:10]
        if (country and rec.country != country) or (since and day < since.isoformat()):
            continue
        statuses[rec.shadow.status] += 1
        cmp = rec.shadow.comparison
        if cmp is None:
            continue
        pairs.append(Pair(rec.decision_id, rec.country, day, rec.flags.decided_by,
                          cmp.legacy_outcome, cmp.model_outcome, cmp.legacy_points,
                          cmp.model_probability))
    return pairs, dict(statuses)


def cross_table(pairs: list[Pair]) -> list[list[int]]:
    table = [[0] * len(OUTCOMES) for _ in OUTCOMES]
    for p in pairs:
        table[_SEVERITY[p.legacy_outcome]][_SEVERITY[p.model_outcome]] += 1
    return table


def kappa_from_table(table: list[list[int]]) -> float:
    """Cohen's kappa of a square count table (rows: rater 1). 0.0 when undefined."""
    n = sum(map(sum, table))
    if n == 0:
        return 0.0
    k = len(table)
    observed = sum(table[i][i] for i in range(k)) / n
    expected = sum(sum(table[i]) * sum(row[i] for row in table) for i in range(k)) / n**2
    return 0.0 if expected == 1 else (observed - expected) / (1 - expected)


def _finite(x: float) -> float | None:
    return None if x is None or math.isnan(x) else float(x)


def summarize(pairs: list[Pair], confidence: float = 0.95) -> dict[str, Any]:
    from scipy.stats import binomtest, spearmanr
    from sklearn.metrics import cohen_kappa_score

    n = len(pairs)
    if n == 0:
        return {"n": 0}
    agree = sum(p.legacy_outcome == p.model_outcome for p in pairs)
    ci = binomtest(agree, n).proportion_ci(confidence_level=confidence, method="wilson")
    legacy = [p.legacy_outcome for p in pairs]
    model = [p.model_outcome for p in pairs]
    if len(set(legacy) | set(model)) > 1:
        kappa = _finite(cohen_kappa_score(legacy, model, labels=list(OUTCOMES)))
    else:
        kappa = None  # one label only: kappa is undefined
    scored = [(p.legacy_points, p.model_probability) for p in pairs
              if p.legacy_points is not None and p.model_probability is not None]
    rho = None
    if len(scored) >= 3 and len({a for a, _ in scored}) > 1 and len({b for _, b in scored}) > 1:
        rho = _finite(spearmanr([a for a, _ in scored], [b for _, b in scored]).statistic)
    table = cross_table(pairs)
    swaps = {f"{a}->{b}": table[i][j] for i, a in enumerate(OUTCOMES)
             for j, b in enumerate(OUTCOMES) if i != j and table[i][j]}
    return {"n": n, "agree": agree, "agreement": agree / n,
            "wilson": [float(ci.low), float(ci.high)], "kappa": kappa, "spearman": rho,
            "table": {"rows": "legacy", "cols": "model", "labels": list(OUTCOMES),
                      "counts": table},
            "swaps": swaps}


def discrepancies(pairs: list[Pair], limit: int) -> list[dict[str, Any]]:
    """Disagreements, the widest first (approve vs decline before a refer either side)."""
    diff = [p for p in pairs if p.legacy_outcome != p.model_outcome]
    diff.sort(key=lambda p: (-abs(_SEVERITY[p.legacy_outcome] - _SEVERITY[p.model_outcome]),
                             p.day), reverse=False)
    return [{"decision_id": p.decision_id, "country": p.country, "day": p.day,
             "decided_by": p.decided_by, "legacy": p.legacy_outcome, "model": p.model_outcome,
             "legacy_points": p.legacy_points, "model_probability": p.model_probability}
            for p in diff[:limit]]


def report(entries: Iterable[Entry], country: str | None = None, since: date | None = None,
           limit: int = 20) -> dict[str, Any]:
    pairs, statuses = pairs_from_entries(entries, country, since)
    by_country: dict[str, list[Pair]] = {}
    by_day: dict[str, list[Pair]] = {}
    for p in pairs:
        by_country.setdefault(p.country, []).append(p)
        by_day.setdefault(p.day, []).append(p)
    return {"filters": {"country": country, "since": since.isoformat() if since else None},
            "shadow_runs": statuses,
            "overall": summarize(pairs),
            "by_country": {c: summarize(ps) for c, ps in sorted(by_country.items())},
            "by_day": {d: summarize(ps) for d, ps in sorted(by_day.items())},
            "discrepancies": discrepancies(pairs, limit)}

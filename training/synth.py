"""Synthetic applications with outcomes, from a generator fitted on credit_data.

Per-class smoothed bootstrap: the class (good/bad) is drawn with credit_data's bad rate, then a
real row of that class is drawn and perturbed: each numeric field gets Gaussian noise scaled to
the class's own spread (`bandwidth` x std), is clipped to the observed range and rounded like
the source; each category is replaced, with probability `swap`, by a draw from the class's own
distribution of that category. Missing values stay where the source row has them, so missing
patterns (e.g. no income reported) keep their link with the outcome. Same seed, same rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from models.features import CATEGORIES, NUMERIC_FIELDS
from training.data import LABEL, load_credit_data

INTEGER_FIELDS = ("age", "seniority", "time", "amount", "price", "debt", "income", "expenses",
                  "assets")


@dataclass(frozen=True)
class Generator:
    source: pd.DataFrame
    bad_rate: float
    bandwidth: float = 0.08
    swap: float = 0.05

    @classmethod
    def fit(cls, df: pd.DataFrame | None = None, **kw) -> Generator:
        from training.validate import validate

        src = df if df is not None else load_credit_data()
        src = src[~validate(src).bad_mask].reset_index(drop=True)  # learn from valid rows only
        return cls(src, float(src[LABEL].mean()), **kw)

    def _class_rows(self, bad: int, n: int, rng: np.random.Generator) -> pd.DataFrame:
        pool = self.source[self.source[LABEL] == bad].reset_index(drop=True)
        out = pool.iloc[rng.integers(0, len(pool), n)].reset_index(drop=True)
        for field in NUMERIC_FIELDS:
            if field == "records":
                continue  # a yes/no flag: kept as drawn
            col = pool[field].astype(float)
            lo, hi, sd = col.min(), col.max(), col.std()
            values = out[field].astype(float).to_numpy()
            noisy = np.clip(values + rng.normal(0.0, self.bandwidth * sd, n), lo, hi)
            out[field] = np.round(noisy) if field in INTEGER_FIELDS else noisy
        for field in CATEGORIES:
            freq = pool[field].dropna().value_counts(normalize=True)
            swap = rng.random(n) < self.swap
            out.loc[swap, field] = rng.choice(freq.index.to_numpy(), int(swap.sum()), p=freq.to_numpy())
        out[LABEL] = np.int8(bad)
        return out

    def sample(self, rows: int, seed: int = 7, chunk: int = 250_000) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        parts = []
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            bad = rng.random(n) < self.bad_rate
            part = pd.concat([self._class_rows(1, int(bad.sum()), rng),
                              self._class_rows(0, int((~bad).sum()), rng)], ignore_index=True)
            parts.append(part.iloc[rng.permutation(len(part))])
        out = pd.concat(parts, ignore_index=True)
        out.index = pd.RangeIndex(1, len(out) + 1, name="row")
        return out


def write(df: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        df.to_csv(path, index=False)
    else:
        df.to_parquet(path, index=False)
    return path

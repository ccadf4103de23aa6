"""Server-side SVG waterfall of a decision's per-feature contributions, from the base value
to the score on the calibrated log-odds scale (base + sum of bars = logit(PD)). The values
are in data attributes so tests can check the arithmetic."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    label: str
    value: float    # contribution (log-odds); for base/score rows, the level itself
    start: float    # running total before this bar
    end: float
    kind: str       # base | up | down | score
    y: float = 0
    x: float = 0
    width: float = 0


def bars(base_value: float, contributions: dict[str, float], top: int = 12) -> list[Bar]:
    """Base, the `top` largest contributions by size, the rest summed into one bar, score."""
    items = sorted(contributions.items(), key=lambda kv: -abs(kv[1]))
    shown, rest = items[:top], items[top:]
    if rest:
        shown.append((f"{len(rest)} other features", sum(v for _, v in rest)))
    out = [Bar("base value", base_value, 0.0, base_value, "base")]
    total = base_value
    for label, value in shown:
        out.append(Bar(label, value, total, total + value, "up" if value >= 0 else "down"))
        total += value
    out.append(Bar("score (log-odds)", total, 0.0, total, "score"))
    return out


def layout(rows: list[Bar], width: int = 640, label_w: int = 190, row_h: int = 22
           ) -> tuple[list[Bar], dict[str, float]]:
    """Pixel positions: x from min..max of every level the chart touches (and zero)."""
    levels = [0.0] + [b.start for b in rows] + [b.end for b in rows]
    lo, hi = min(levels), max(levels)
    span = (hi - lo) or 1.0
    plot_w = width - label_w - 70

    def px(v: float) -> float:
        return label_w + (v - lo) / span * plot_w

    placed = []
    for i, b in enumerate(rows):
        a, z = sorted((b.start, b.end))
        placed.append(Bar(b.label, b.value, b.start, b.end, b.kind, y=8 + i * row_h, x=px(a),
                          width=max(px(z) - px(a), 1.0)))
    return placed, {"width": width, "height": 16 + len(rows) * row_h, "zero": px(0.0),
                    "label_w": label_w, "row_h": row_h}

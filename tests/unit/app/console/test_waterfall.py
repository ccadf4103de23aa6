"""The waterfall's bars run from the base value to the score with nothing lost."""

import math
import random

from app.console.waterfall import bars, layout


def test_bars_add_up_with_the_rest_grouped():
    """Base + every bar (the small ones grouped) = the score; each bar starts where the last
    ended; the biggest contributions come first."""
    rng = random.Random(3)
    contrib = {f"f{i}": rng.uniform(-1, 1) for i in range(20)}
    rows = bars(-1.5, contrib, top=5)
    assert [r.kind for r in rows][0] == "base" and rows[-1].kind == "score"
    assert len(rows) == 1 + 5 + 1 + 1 and rows[6].label == "15 other features"
    assert math.isclose(rows[-1].value, -1.5 + sum(contrib.values()), abs_tol=1e-12)
    for prev, cur in zip(rows[1:-1], rows[2:-1], strict=False):
        assert math.isclose(cur.start, prev.end)
    assert abs(rows[1].value) == max(abs(v) for v in contrib.values())


def test_layout_keeps_bars_inside_the_box():
    """Every bar lies within the plot area and has a visible width."""
    placed, box = layout(bars(0.3, {"a": 2.0, "b": -4.0, "c": 0.0}))
    for b in placed:
        assert box["label_w"] <= b.x and b.x + b.width <= box["width"] and b.width >= 1

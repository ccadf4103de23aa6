"""Server-side SVG charts for the console's Monitoring page and the HTML report: bad rate
per arm over time with intervals, calibration, drift per feature. Plain SVG with
presentation attributes (no scripts, no inline styles: the console's CSP allows neither);
the plotted numbers are in data attributes so tests can read them back. Each chart is
`Markup`: it goes into a Jinja page as it is."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

from markupsafe import Markup

COLORS = ("#1f5fbf", "#b3261e", "#1d7a46", "#9a6700", "#6a3fb5", "#00798c", "#5b6475")
STATUS_COLORS = {"ok": "#1d7a46", "warn": "#9a6700", "alert": "#b3261e",
                 "insufficient": "#8a93a3"}
INK, GRID = "#1d2433", "#d9dee7"


def _f(x: float) -> str:
    return f"{x:.2f}"


AXIS_TOPS = (0.04, 0.08, 0.12, 0.2, 0.4, 0.6, 0.8, 1.0)  # quarters are whole percents


def _nice_max(x: float) -> float:
    """The smallest round top of a rate axis above x (and a little room)."""
    return next((t for t in AXIS_TOPS if t >= x * 1.05), AXIS_TOPS[-1])


def _svg(test_id: str, width: int, height: int, body: list[str], title: str) -> Markup:
    # Markup: safe to put in a page as it is. Every text in it went through escape(); the
    # rest is numbers and our own attribute names.
    return Markup(  # noqa: S704  # nosec B704
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-testid="{test_id}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>{"".join(body)}</svg>')


def _rate_axis(body: list[str], x0: float, x1: float, y: Any, top: float) -> None:
    """Horizontal grid lines labelled in percent."""
    for i in range(5):
        v = top * i / 4
        body.append(f'<line x1="{_f(x0)}" x2="{_f(x1)}" y1="{_f(y(v))}" y2="{_f(y(v))}" '
                    f'stroke="{GRID}"/><text x="{_f(x0 - 6)}" y="{_f(y(v) + 4)}" font-size="11" '
                    f'text-anchor="end" fill="{INK}">{v:.0%}</text>')


def bad_rate_chart(series: dict[str, Sequence[dict[str, Any]]], width: int = 640,
                   height: int = 260) -> Markup:
    """Realized bad rate per cohort for each series (an arm), with its 95% interval as an
    error bar, and the expected rate (mean PD of the approved) as an open circle."""
    cohorts = sorted({c["cohort"] for rows in series.values() for c in rows})
    values = [v for rows in series.values() for c in rows
              for v in ([*(c["realized_bad_rate_ci"] or [])] + [c["expected_bad_rate"] or 0])]
    top = _nice_max(max(values, default=0.1))
    left, right, bottom, legend = 48, 16, 34, 20 * len(series)
    plot_w, plot_h = width - left - right, height - bottom - 12 - legend
    n = max(len(cohorts), 1)

    def x(i: int, s: int) -> float:
        return left + plot_w * (i + 0.5) / n + (s - (len(series) - 1) / 2) * 10

    def y(v: float) -> float:
        return 12 + plot_h * (1 - v / top)

    body: list[str] = []
    _rate_axis(body, left, width - right, y, top)
    for i, c in enumerate(cohorts):
        body.append(f'<text x="{_f(left + plot_w * (i + 0.5) / n)}" y="{_f(height - legend - 14)}" '
                    f'font-size="11" text-anchor="middle" fill="{INK}">{escape(c)}</text>')
    for s, (name, rows) in enumerate(series.items()):
        color = COLORS[s % len(COLORS)]
        for c in rows:
            i = cohorts.index(c["cohort"])
            attrs = (f'data-series="{escape(name)}" data-cohort="{escape(c["cohort"])}" '
                     f'data-loans="{c["approved_with_outcome"]}"')
            if c["expected_bad_rate"] is not None:
                body.append(f'<circle class="expected" {attrs} data-value="{c["expected_bad_rate"]}" '
                            f'cx="{_f(x(i, s))}" cy="{_f(y(c["expected_bad_rate"]))}" r="5" '
                            f'fill="none" stroke="{color}" stroke-dasharray="2 2"/>')
            if c["realized_bad_rate"] is None:
                continue
            lo, hi = c["realized_bad_rate_ci"]
            body.append(f'<g class="realized" {attrs} data-value="{c["realized_bad_rate"]}" '
                        f'data-low="{lo}" data-high="{hi}"><line x1="{_f(x(i, s))}" '
                        f'x2="{_f(x(i, s))}" y1="{_f(y(lo))}" y2="{_f(y(hi))}" stroke="{color}" '
                        f'stroke-width="2"/><circle cx="{_f(x(i, s))}" '
                        f'cy="{_f(y(c["realized_bad_rate"]))}" r="4" fill="{color}"/></g>')
        ly = height - legend + 4 + 20 * s
        body.append(f'<rect x="{left}" y="{ly}" width="12" height="12" fill="{color}"/>'
                    f'<text x="{left + 18}" y="{ly + 10}" font-size="12" fill="{INK}">'
                    f'{escape(name)}: realized (dot, 95% interval), expected (circle)</text>')
    return _svg("bad-rate-chart", width, height, body,
                "Bad rate of approved loans per cohort, realized and expected")


def calibration_chart(bands: Sequence[dict[str, Any]], title: str, size: int = 310) -> Markup:
    """Observed default rate (with its interval) against mean predicted PD per band; the
    diagonal is perfect calibration."""
    top = _nice_max(max([b["mean_pd"] for b in bands] + [b["observed_ci"][1] for b in bands],
                        default=0.1))
    pad, span = 44, size - 64

    def sx(v: float) -> float:
        return pad + span * v / top

    def sy(v: float) -> float:
        return 10 + span * (1 - v / top)

    body: list[str] = [f'<line x1="{_f(sx(0))}" y1="{_f(sy(0))}" x2="{_f(sx(top))}" '
                       f'y2="{_f(sy(top))}" stroke="{GRID}" stroke-width="2"/>']
    for i in range(5):
        v = top * i / 4
        body.append(f'<text x="{_f(pad - 6)}" y="{_f(sy(v) + 4)}" font-size="10" '
                    f'text-anchor="end" fill="{INK}">{v:.0%}</text><text x="{_f(sx(v))}" '
                    f'y="{_f(sy(0) + 14)}" font-size="10" text-anchor="middle" '
                    f'fill="{INK}">{v:.0%}</text>')
    body.append(f'<text x="{_f(size / 2)}" y="{size - 4}" font-size="11" text-anchor="middle" '
                f'fill="{INK}">mean predicted PD</text><text transform="rotate(-90)" '
                f'x="{_f(-sy(top / 2))}" y="11" font-size="11" text-anchor="middle" '
                f'fill="{INK}">observed default rate</text>')
    for b in bands:
        lo, hi = b["observed_ci"]
        body.append(f'<g class="band" data-mean-pd="{b["mean_pd"]}" data-observed="{b["observed"]}" '
                    f'data-loans="{b["loans"]}"><line x1="{_f(sx(b["mean_pd"]))}" '
                    f'x2="{_f(sx(b["mean_pd"]))}" y1="{_f(sy(lo))}" y2="{_f(sy(hi))}" '
                    f'stroke="{COLORS[0]}"/><circle cx="{_f(sx(b["mean_pd"]))}" '
                    f'cy="{_f(sy(b["observed"]))}" r="{_f(3 + min(4, math.log10(1 + b["loans"])))}" '
                    f'fill="{COLORS[0]}"/></g>')
    return _svg("calibration-chart", size, size, body, title)


def drift_chart(features: Sequence[dict[str, Any]], warn: float, alert: float,
                width: int = 640, row_h: int = 20) -> Markup:
    """PSI per feature (and the score) as bars coloured by status, with the thresholds."""
    rows = [f for f in features if f["psi"] is not None]
    top = 1.05 * max([f["psi"] for f in rows] + [alert * 1.2])
    label_w, height = 150, 24 + row_h * len(rows)

    def x(v: float) -> float:
        return label_w + (width - label_w - 60) * v / top

    body: list[str] = []
    for i, f in enumerate(rows):
        yy = 8 + i * row_h
        body.append(f'<g class="feature" data-name="{escape(f["name"])}" data-psi="{f["psi"]}" '
                    f'data-status="{f["status"]}"><text x="{label_w - 6}" y="{yy + 13}" '
                    f'font-size="11" text-anchor="end" fill="{INK}">{escape(f["name"])}</text>'
                    f'<rect x="{label_w}" y="{yy + 3}" width="{_f(max(x(f["psi"]) - label_w, 1))}" '
                    f'height="{row_h - 6}" fill="{STATUS_COLORS.get(f["status"], INK)}"/>'
                    f'<text x="{_f(x(f["psi"]) + 4)}" y="{yy + 13}" font-size="10" '
                    f'fill="{INK}">{f["psi"]:.3f}</text></g>')
    # Labels on either side of their lines, so close thresholds do not overprint.
    for name, v, anchor, dx in (("warn", warn, "end", -3), ("alert", alert, "start", 3)):
        body.append(f'<line class="threshold" data-threshold="{name}" x1="{_f(x(v))}" '
                    f'x2="{_f(x(v))}" y1="4" y2="{height - 16}" stroke="{STATUS_COLORS[name]}" '
                    f'stroke-dasharray="4 3"/><text x="{_f(x(v) + dx)}" y="{height - 4}" '
                    f'font-size="10" text-anchor="{anchor}" fill="{INK}">{name} {v:g}</text>')
    return _svg("drift-chart", width, height, body, "PSI per feature against the training reference")

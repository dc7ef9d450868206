"""Server-rendered inline SVG: the pain trajectory and the differential over time.

No JavaScript and no image files: each plot is an ``<svg role="img">`` with a title and a
description (screen readers read those; the page also shows the numbers as a table). Every
text is escaped; coordinates are numbers formatted here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 640, 280
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 44
PALETTE = ["#1f5fa8", "#b3261e", "#1e7d32", "#7b3fa0", "#8a5a00", "#00696b"]
"""Distinct colours with at least 4.5:1 contrast on white (lines also differ by marker)."""
MARKERS = ["circle", "square", "diamond", "triangle", "circle", "square"]


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str


def _fmt(v: float) -> str:
    return f"{v:.1f}"


def _ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    span = max(hi - lo, 1.0)
    raw = span / max(count - 1, 1)
    step = next(
        s for s in (1, 2, 5, 7, 10, 14, 20, 28, 30, 50, 60, 90, 100, 180, 365, 730, 1000, 10**9) if s >= raw
    )
    start = int(lo // step) * step
    ticks, t = [], float(start)
    while t <= hi + 1e-9:
        if t >= lo - 1e-9:
            ticks.append(t)
        t += step
    return ticks


def _marker(kind: str, x: float, y: float, colour: str, title: str) -> str:
    t = f"<title>{escape(title)}</title>"
    if kind == "square":
        return f'<rect x="{_fmt(x - 4)}" y="{_fmt(y - 4)}" width="8" height="8" fill="{colour}">{t}</rect>'
    if kind == "diamond":
        pts = (
            f"{_fmt(x)},{_fmt(y - 5)} {_fmt(x + 5)},{_fmt(y)} {_fmt(x)},{_fmt(y + 5)} {_fmt(x - 5)},{_fmt(y)}"
        )
        return f'<polygon points="{pts}" fill="{colour}">{t}</polygon>'
    if kind == "triangle":
        pts = f"{_fmt(x)},{_fmt(y - 5)} {_fmt(x + 5)},{_fmt(y + 4)} {_fmt(x - 5)},{_fmt(y + 4)}"
        return f'<polygon points="{pts}" fill="{colour}">{t}</polygon>'
    return f'<circle cx="{_fmt(x)}" cy="{_fmt(y)}" r="4.5" fill="{colour}">{t}</circle>'


def _frame(plot_id: str, title: str, desc: str, body: list[str], height: int = HEIGHT) -> Markup:
    svg = (
        f'<svg class="plot" id="{escape(plot_id)}" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{escape(plot_id)}-title {escape(plot_id)}-desc" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{escape(plot_id)}-title">{escape(title)}</title>'
        f'<desc id="{escape(plot_id)}-desc">{escape(desc)}</desc>' + "".join(body) + "</svg>"
    )
    return Markup(svg)


def trajectory_svg(points: Sequence[tuple[int, float]], *, course: str | None = None) -> Markup:
    """Leg-pain NRS (0-10) against days after surgery, with the day of surgery marked."""
    pts = sorted(points)
    title = "Leg pain score over time"
    if not pts:
        return _frame(
            "plot-trajectory",
            title,
            "No pain scores recorded yet.",
            [
                f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" class="plot-empty">'
                "No pain scores yet</text>"
            ],
        )
    xs = [d for d, _ in pts]
    pad = max(2.0, (max(max(xs), 7) - min(min(xs), 0)) * 0.04)
    lo, hi = float(min(min(xs), 0)) - pad, float(max(max(xs), 7)) + pad
    w, h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def sx(d: float) -> float:
        return LEFT + (d - lo) / (hi - lo) * w

    def sy(v: float) -> float:
        return TOP + (10 - v) / 10 * h

    body = ['<g class="grid">']
    for v in range(0, 11, 2):
        body.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_fmt(sy(v))}" y2="{_fmt(sy(v))}"/>')
        body.append(f'<text x="{LEFT - 8}" y="{_fmt(sy(v) + 4)}" text-anchor="end">{v}</text>')
    for t in _ticks(lo, hi):
        body.append(
            f'<text x="{_fmt(sx(t))}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle">{int(t)}</text>'
        )
    body.append("</g>")
    body.append(
        f'<line class="surgery" x1="{_fmt(sx(0))}" x2="{_fmt(sx(0))}" y1="{TOP}" y2="{TOP + h}"/>'
        f'<text class="surgery-label" x="{_fmt(sx(0) + 4)}" y="{TOP + 12}">surgery</text>'
    )
    body.append(
        f'<text class="axis-label" x="{LEFT + w / 2}" y="{HEIGHT - 6}" text-anchor="middle">'
        "days after surgery</text>"
        f'<text class="axis-label" x="12" y="{TOP + h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 12 {TOP + h / 2})">leg pain (0-10)</text>'
    )
    line = " ".join(f"{_fmt(sx(d))},{_fmt(sy(v))}" for d, v in pts)
    body.append(
        f'<polyline class="series" points="{line}" fill="none" stroke="{PALETTE[0]}" stroke-width="2.5"/>'
    )
    body.append('<g class="points">')
    for day, nrs in pts:
        body.append(_marker("circle", sx(day), sy(nrs), PALETTE[0], f"day {day}: {nrs:g}/10"))
    body.append("</g>")
    desc = "; ".join(f"day {d}: {v:g}" for d, v in pts)
    if course:
        desc = f"Course: {course}. " + desc
    return _frame("plot-trajectory", title, desc, body)


def differential_svg(labels: Sequence[str], series: Sequence[tuple[str, Sequence[float]]]) -> Markup:
    """Probability of each named cause (lines) across stored assessments (x, in order)."""
    title = "How the differential changed over time"
    if not labels:
        return _frame(
            "plot-differential-history",
            title,
            "No stored assessments yet.",
            [
                f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" class="plot-empty">'
                "No assessments yet</text>"
            ],
        )
    legend_rows = (len(series) + 1) // 2
    height = HEIGHT + 20 * legend_rows
    w, h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = len(labels)

    inset = 44.0  # room for the first and last date labels

    def sx(i: int) -> float:
        return LEFT + (w / 2 if n == 1 else inset + i / (n - 1) * (w - 2 * inset))

    def sy(p: float) -> float:
        return TOP + (1 - p) * h

    body = ['<g class="grid">']
    for v in (0, 25, 50, 75, 100):
        body.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{_fmt(sy(v / 100))}" y2="{_fmt(sy(v / 100))}"/>'
        )
        body.append(f'<text x="{LEFT - 8}" y="{_fmt(sy(v / 100) + 4)}" text-anchor="end">{v}%</text>')
    for i, label in enumerate(labels):
        body.append(
            f'<text x="{_fmt(sx(i))}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle">{escape(label)}</text>'
        )
    body.append("</g>")
    desc_parts = []
    for k, (name, values) in enumerate(series):
        colour, marker = PALETTE[k % len(PALETTE)], MARKERS[k % len(MARKERS)]
        line = " ".join(f"{_fmt(sx(i))},{_fmt(sy(p))}" for i, p in enumerate(values))
        body.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2.5"/>')
        for i, p in enumerate(values):
            body.append(_marker(marker, sx(i), sy(p), colour, f"{name}, {labels[i]}: {100 * p:.0f}%"))
        lx = LEFT + (k % 2) * (w / 2)
        ly = HEIGHT + 20 * (k // 2)
        body.append(_marker(marker, lx + 6, ly - 4, colour, name))
        body.append(f'<text class="legend" x="{_fmt(lx + 16)}" y="{ly}">{escape(name)}</text>')
        desc_parts.append(f"{name}: " + ", ".join(f"{100 * p:.0f}%" for p in values))
    return _frame("plot-differential-history", title, "; ".join(desc_parts), body, height)

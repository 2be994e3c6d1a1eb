"""The compliance trend as an SVG line chart, computed on the server (the page has no scripts).

`trend_chart` turns daily points (day, services, compliant) into coordinates and labels that the
template draws: a polyline of the compliant share per day over a fixed window, a dot per day
carrying a `<title>` (the browser's own tooltip), and the axis labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

WIDTH, HEIGHT = 720, 200
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 28  # margins for the axis labels
WINDOW_DAYS = 90


@dataclass(frozen=True)
class TrendPoint:
    day: str  # YYYY-MM-DD
    services: int
    compliant: int

    @property
    def share(self) -> float:
        return self.compliant / self.services if self.services else 0.0


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    polyline: str  # "x,y x,y ..." for <polyline points>
    dots: tuple[Dot, ...]
    grid: tuple[tuple[float, str], ...]  # (y, "50%")
    first_day: str
    last_day: str
    left: int
    right: float
    bottom: float
    summary: str  # the chart in words, for screen readers and the <title>


def trend_chart(points: Sequence[TrendPoint], today: date, days: int = WINDOW_DAYS) -> Chart:
    """The chart of the last `days` days up to `today` (points outside are left out)."""
    start = today - timedelta(days=days - 1)
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    dots = []
    for point in sorted(points, key=lambda p: p.day):
        try:
            offset = (date.fromisoformat(point.day) - start).days
        except ValueError:
            continue
        if not 0 <= offset < days or not point.services:
            continue
        x = LEFT + inner_w * offset / max(1, days - 1)
        y = TOP + inner_h * (1 - point.share)
        label = f"{point.day}: {point.compliant} of {point.services} compliant ({point.share:.0%})"
        dots.append(Dot(round(x, 1), round(y, 1), label))
    grid = tuple((round(TOP + inner_h * (1 - p), 1), f"{p:.0%}") for p in (0.0, 0.5, 1.0))
    if len(dots) > 1:
        first, last = dots[0].label.split(":")[0], dots[-1].label.split(":")[0]
        summary = f"Compliant services per day from {first} to {last}; latest {dots[-1].label}."
    elif dots:
        summary = f"{dots[0].label}. A point is added each day."
    else:
        summary = "No compliance snapshots yet."
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        polyline=" ".join(f"{d.x},{d.y}" for d in dots),
        dots=tuple(dots),
        grid=grid,
        first_day=start.isoformat(),
        last_day=today.isoformat(),
        left=LEFT,
        right=WIDTH - RIGHT,
        bottom=HEIGHT - BOTTOM,
        summary=summary,
    )

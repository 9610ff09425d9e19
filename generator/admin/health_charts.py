"""Server-rendered charts of the last day for the admin's "Site health" page: inline SVG, no JS.

Every number is formatted here and every label HTML-escaped, so the result is safe to embed as-is
(the page marks it safe). Time runs left to right over the day's hour buckets.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from html import escape

PALETTE = ("#417690", "#c0392b", "#e1a33b", "#5b8c5a", "#8e6bb8", "#888888", "#2aa198", "#b35c1e")
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 28, 30
TICKS = 5  # a nice axis top (1, 2, 2.5 or 5 x 10^k) in fifths gives round labels


class _Frame:
    """A plot area of `width` x `height` over [start, end) in time and [0, top] in value."""

    def __init__(self, width: int, height: int, start: datetime, end: datetime, top: float):
        self.width, self.height = width, height
        self.start, self.end = start, end
        self.top = _nice_ceiling(top)

    def x(self, when: datetime) -> float:
        share = (when - self.start) / (self.end - self.start)
        return LEFT + share * (self.width - LEFT - RIGHT)

    def y(self, value: float) -> float:
        return TOP + (1 - value / self.top) * (self.height - TOP - BOTTOM)

    def svg_open(self, label: str) -> list[str]:
        return [
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.width} {self.height}" '
            f'width="{self.width}" height="{self.height}" role="img" '
            f'aria-label="{escape(label)}" class="health-chart"><title>{escape(label)}</title>'
        ]

    def axes(self, hour_starts: Sequence[datetime], unit: str) -> list[str]:
        bottom, right = self.height - BOTTOM, self.width - RIGHT
        parts = []
        for index in range(TICKS + 1):
            value = self.top * index / TICKS
            y = self.y(value)
            parts.append(
                f'<line x1="{LEFT}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#e4e4e4"/>'
                f'<text x="{LEFT - 5}" y="{y + 4:.1f}" font-size="10" text-anchor="end" '
                f'fill="#555">{_number(value)}</text>'
            )
        for index, hour in enumerate(hour_starts):
            if index % 4 == 0:
                parts.append(
                    f'<text x="{self.x(hour):.1f}" y="{bottom + 14}" font-size="10" '
                    f'fill="#555">{hour:%H:%M}</text>'
                )
        parts.append(
            f'<line x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#777"/>'
            f'<text x="4" y="{TOP - 10}" font-size="10" fill="#555">{escape(unit)}</text>'
        )
        return parts


def stacked_bars(
    label: str,
    hour_starts: Sequence[datetime],
    end: datetime,
    series: dict[str, list[int]],
    unit: str,
    width: int = 560,
    height: int = 200,
) -> str:
    """One bar per hour, each series stacked on the ones before it, with a legend on top."""
    totals = [sum(values[index] for values in series.values()) for index in range(len(hour_starts))]
    frame = _Frame(width, height, hour_starts[0], end, max(totals, default=0))
    parts = frame.svg_open(label) + frame.axes(hour_starts, unit)
    slot = (frame.width - LEFT - RIGHT) / len(hour_starts)
    for index, hour in enumerate(hour_starts):
        base = 0.0
        for number, (name, values) in enumerate(series.items()):
            value = values[index]
            if value <= 0:
                continue
            y_top, y_base = frame.y(base + value), frame.y(base)
            parts.append(
                f'<rect x="{frame.x(hour) + 1:.1f}" y="{y_top:.1f}" width="{slot - 2:.1f}" '
                f'height="{y_base - y_top:.1f}" fill="{_colour(number)}">'
                f"<title>{escape(f'{hour:%H:%M} {name}: {value}')}</title></rect>"
            )
            base += value
    parts += _legend(list(series), frame)
    parts.append("</svg>")
    return "".join(parts)


def lines(
    label: str,
    hour_starts: Sequence[datetime],
    end: datetime,
    series: dict[str, Sequence[tuple[datetime, float | None]]],
    unit: str,
    reference: tuple[str, float] | None = None,
    width: int = 560,
    height: int = 200,
) -> str:
    """A line per series over the day (None leaves a gap); `reference` draws a dashed level."""
    values = [v for points in series.values() for _, v in points if v is not None]
    top = max(values + ([reference[1]] if reference else []), default=0)
    frame = _Frame(width, height, hour_starts[0], end, top)
    parts = frame.svg_open(label) + frame.axes(hour_starts, unit)
    if reference is not None:
        y = frame.y(reference[1])
        parts.append(
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{frame.width - RIGHT}" y2="{y:.1f}" '
            f'stroke="#c0392b" stroke-dasharray="5 4"><title>{escape(reference[0])}: '
            f"{_number(reference[1])}</title></line>"
        )
    for number, points in enumerate(series.values()):
        for run in _runs(points):
            coordinates = " ".join(f"{frame.x(t):.1f},{frame.y(value):.1f}" for t, value in run)
            parts.append(
                f'<polyline points="{coordinates}" fill="none" stroke="{_colour(number)}" '
                'stroke-width="2" stroke-linejoin="round"/>'
                if len(run) > 1
                else f'<circle cx="{frame.x(run[0][0]):.1f}" cy="{frame.y(run[0][1]):.1f}" '
                f'r="2.5" fill="{_colour(number)}"/>'
            )
    parts += _legend(list(series), frame)
    parts.append("</svg>")
    return "".join(parts)


def _runs(points: Sequence[tuple[datetime, float | None]]) -> list[list[tuple[datetime, float]]]:
    """Stretches of consecutive points with a value."""
    runs: list[list[tuple[datetime, float]]] = [[]]
    for when, value in points:
        if value is None or not math.isfinite(value):
            runs.append([])
        else:
            runs[-1].append((when, value))
    return [run for run in runs if run]


def _legend(names: list[str], frame: _Frame) -> list[str]:
    parts, x = [], LEFT + 4
    for number, name in enumerate(names):
        if x > frame.width - 60:
            break  # the rest are named in each mark's tooltip
        parts.append(
            f'<rect x="{x}" y="6" width="10" height="10" fill="{_colour(number)}"/>'
            f'<text x="{x + 14}" y="15" font-size="10" fill="#222">{escape(name)}</text>'
        )
        x += 24 + 6 * len(name)
    return parts


def _colour(number: int) -> str:
    return PALETTE[number % len(PALETTE)]


def _nice_ceiling(value: float) -> float:
    """The axis top: 1, 2, 2.5 or 5 times a power of ten, at or above `value` (1 for nothing)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _number(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"

"""A server-rendered loss chart: inline SVG from a run's curves. Plain Python, no Django, no JS.

Every number is formatted by this module and every text is HTML-escaped, so the result is safe to
embed as-is in a page (the admin marks it safe).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT = 640, 280
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 52, 16, 30, 44
LEGEND_Y = 12  # above the plot area, so no curve runs under it
TRAIN_COLOUR, EVAL_COLOUR, BASE_COLOUR = "#79aec8", "#c0392b", "#888888"
Y_TICKS = 5

Point = Sequence[float]


def loss_chart_svg(
    train: Sequence[Point], evaluation: Sequence[Point], base_eval_loss: float | None
) -> str:
    """An SVG line chart of train and eval loss by step, with the base model's eval loss dashed."""
    train_points = _finite(train)
    eval_points = _finite(evaluation)
    base = base_eval_loss if base_eval_loss is not None and math.isfinite(base_eval_loss) else None
    if not train_points and not eval_points:
        return ""
    steps = [step for step, _ in train_points + eval_points]
    losses = [loss for _, loss in train_points + eval_points] + ([base] if base is not None else [])
    scale = _Scale(min(steps), max(steps), min(losses), max(losses))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="Loss by training step" '
        'class="loss-chart">',
        "<title>Loss by training step</title>",
        *_axes(scale),
        _polyline(train_points, scale, TRAIN_COLOUR, 1.5),
        _polyline(eval_points, scale, EVAL_COLOUR, 2.5),
        *(_markers(eval_points, scale, EVAL_COLOUR)),
    ]
    if base is not None:
        y = scale.y(base)
        parts.append(
            f'<line x1="{MARGIN_LEFT}" y1="{y:.1f}" x2="{WIDTH - MARGIN_RIGHT}" y2="{y:.1f}" '
            f'stroke="{BASE_COLOUR}" stroke-dasharray="6 4" stroke-width="1.5"/>'
        )
    parts.extend(_legend(base is not None))
    parts.append("</svg>")
    return "".join(parts)


def _finite(points: Sequence[Point]) -> list[tuple[float, float]]:
    clean = []
    for point in points:
        if len(point) >= 2:
            step, loss = float(point[0]), float(point[1])
            if math.isfinite(step) and math.isfinite(loss):
                clean.append((step, loss))
    return clean


class _Scale:
    def __init__(self, step_min: float, step_max: float, loss_min: float, loss_max: float) -> None:
        padding = (loss_max - loss_min) * 0.05 or 0.5
        self.step_min, self.step_max = step_min, max(step_max, step_min + 1)
        self.loss_min, self.loss_max = max(0.0, loss_min - padding), loss_max + padding

    def x(self, step: float) -> float:
        span = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
        return MARGIN_LEFT + (step - self.step_min) / (self.step_max - self.step_min) * span

    def y(self, loss: float) -> float:
        span = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
        return MARGIN_TOP + (self.loss_max - loss) / (self.loss_max - self.loss_min) * span


def _axes(scale: _Scale) -> list[str]:
    bottom, right = HEIGHT - MARGIN_BOTTOM, WIDTH - MARGIN_RIGHT
    parts = [
        f'<line x1="{MARGIN_LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#666"/>',
        f'<line x1="{MARGIN_LEFT}" y1="{MARGIN_TOP}" x2="{MARGIN_LEFT}" y2="{bottom}" '
        'stroke="#666"/>',
    ]
    for index in range(Y_TICKS + 1):
        loss = scale.loss_min + (scale.loss_max - scale.loss_min) * index / Y_TICKS
        y = scale.y(loss)
        parts.append(
            f'<line x1="{MARGIN_LEFT}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#444">{loss:.2f}</text>'
        )
    for step in (scale.step_min, (scale.step_min + scale.step_max) / 2, scale.step_max):
        parts.append(
            f'<text x="{scale.x(step):.1f}" y="{bottom + 16}" font-size="11" '
            f'text-anchor="middle" fill="#444">{step:.0f}</text>'
        )
    parts.append(
        f'<text x="{(MARGIN_LEFT + right) / 2:.1f}" y="{HEIGHT - 4}" font-size="11" '
        f'text-anchor="middle" fill="#444">{escape("step")}</text>'
    )
    return parts


def _polyline(points: list[tuple[float, float]], scale: _Scale, colour: str, width: float) -> str:
    if not points:
        return ""
    coordinates = " ".join(f"{scale.x(step):.1f},{scale.y(loss):.1f}" for step, loss in points)
    return (
        f'<polyline points="{coordinates}" fill="none" stroke="{colour}" '
        f'stroke-width="{width}" stroke-linejoin="round"/>'
    )


def _markers(points: list[tuple[float, float]], scale: _Scale, colour: str) -> list[str]:
    return [
        f'<circle cx="{scale.x(step):.1f}" cy="{scale.y(loss):.1f}" r="3" fill="{colour}">'
        f"<title>{escape(f'step {step:.0f}: eval loss {loss:.4f}')}</title></circle>"
        for step, loss in points
    ]


def _legend(with_base: bool) -> list[str]:
    entries = [("train loss", TRAIN_COLOUR, ""), ("eval loss", EVAL_COLOUR, "")]
    if with_base:
        entries.append(("base model eval loss", BASE_COLOUR, ' stroke-dasharray="6 4"'))
    parts = []
    x = MARGIN_LEFT + 10
    for label, colour, dash in entries:
        y = LEGEND_Y
        parts.append(
            f'<line x1="{x}" y1="{y}" x2="{x + 18}" y2="{y}" stroke="{colour}" '
            f'stroke-width="2.5"{dash}/>'
            f'<text x="{x + 23}" y="{y + 4}" font-size="11" fill="#222">{escape(label)}</text>'
        )
        x += 40 + 7 * len(label)
    return parts

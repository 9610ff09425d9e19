"""The poster colour of a description: one rule for the page's CSS poster and its share card."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

POSTER_COLOURS = 12


@dataclass(frozen=True)
class Palette:
    """The colours of static/css/site.css's .poster-N: gradient top and bottom, and the glow."""

    top: tuple[int, int, int]
    bottom: tuple[int, int, int]
    glow: tuple[int, int, int]
    glow_at: tuple[float, float]  # the glow's centre, as fractions of width and height


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    value = int(hex_colour.lstrip("#"), 16)
    return (value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF


# Kept in step with .poster-0 ... .poster-11 in static/css/site.css.
PALETTES: tuple[Palette, ...] = tuple(
    Palette(_rgb(top), _rgb(bottom), _rgb(glow), at)
    for top, bottom, glow, at in (
        ("#b3261e", "#3b0a0a", "#ff7a59", (0.20, 0.15)),
        ("#00607a", "#04121f", "#4dd0e1", (0.80, 0.20)),
        ("#c77700", "#2a1400", "#ffd54f", (0.25, 0.20)),
        ("#4a2a9b", "#120826", "#b388ff", (0.70, 0.15)),
        ("#1b6b46", "#04170e", "#69f0ae", (0.30, 0.10)),
        ("#a3165a", "#260614", "#ff80ab", (0.75, 0.25)),
        ("#1e4fb0", "#060f2b", "#82b1ff", (0.20, 0.25)),
        ("#8d3b12", "#1f0b04", "#ffab40", (0.80, 0.10)),
        ("#2e7d74", "#071a18", "#a7ffeb", (0.30, 0.20)),
        ("#6a1b9a", "#1a0524", "#ea80fc", (0.70, 0.20)),
        ("#5f6b12", "#151803", "#e6ee9c", (0.25, 0.15)),
        ("#37474f", "#0b0f12", "#90a4ae", (0.75, 0.15)),
    )
)


def poster_colour(seed: str) -> int:
    # crc32, not hash(): the same genre gets the same colour in every process and every release.
    return zlib.crc32(seed.encode()) % POSTER_COLOURS


def poster_seed(kind: str, genre_slugs: list[str]) -> str:
    """What the colour is drawn from: the first genre, or the kind for a text without one."""
    return genre_slugs[0] if genre_slugs else kind

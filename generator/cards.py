"""Share cards: a 1200x630 PNG poster of a description, for og:image and twitter:image.

Drawn with Pillow by a worker (generator.tasks.draw_cards) when a text goes public, and kept
under SHARE_CARD_DIR as `<id>-<version>.png`: a request only ever serves a file (web.share). The
version hashes everything drawn (title, kind, text, genres) and the renderer's own version, so an
edit gives a new file and a new `?v=` URL, and the old URL can be cached forever (`immutable`).
Beat's sweep (`sweep_cards`) draws what is missing and deletes the cards of texts no longer
public, so the folder holds at most one file per public text.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from io import BytesIO
from pathlib import Path

from django.conf import settings
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from generator.models import GeneratedDescription
from generator.posters import PALETTES, Palette, poster_colour, poster_seed
from titles.models import Genre, Kind

WIDTH, HEIGHT = 1200, 630
RENDER_VERSION = "1"  # bump when the drawing changes: every card gets a new URL
STRIPE_WIDTH = 14  # the solid genre colour down the left edge
_MARGIN = 80
_TEXT_WIDTH = WIDTH - 2 * _MARGIN
_TITLE_SIZES = (92, 80, 70, 62, 54, 48)
_WHITE = (255, 255, 255)
_MUTED = (226, 228, 234)
_ACCENT = (200, 16, 46)
_FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/share/fonts/TTF"),
    Path("/usr/local/share/fonts"),
)
_KIND_LABELS: dict[str, str] = {Kind.MOVIE: "Movie", Kind.TV_SHOW: "TV Show"}

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class CardFacts:
    """What a card shows: read once from the database, then hashed and drawn."""

    pk: int
    title: str
    kind: str
    text: str
    genres: tuple[str, ...]  # names, in the order the page shows them
    colour: int
    pitched: bool = False  # a visitor's title: the card says so

    @classmethod
    def of(cls, description: GeneratedDescription, genres: Sequence[Genre]) -> CardFacts:
        seed = poster_seed(description.kind, [genre.slug for genre in genres])
        return cls(
            pk=description.pk,
            title=description.title,
            kind=description.kind,
            text=description.text,
            genres=tuple(genre.name for genre in genres),
            colour=poster_colour(seed),
            pitched=description.pitched,
        )

    @property
    def version(self) -> str:
        parts = [RENDER_VERSION, self.title, self.kind, self.text, *self.genres]
        if self.pitched:  # only then: every other card keeps its URL
            parts.append("pitched")
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def card_path(facts: CardFacts) -> Path:
    return Path(settings.SHARE_CARD_DIR) / f"{facts.pk}-{facts.version}.png"


def draw(facts: CardFacts) -> Path:
    """The card's file, drawn now if this version is not on disk yet; older versions go."""
    path = card_path(facts)
    if path.exists():
        return path
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    # Written aside then renamed: a concurrent reader sees the whole file or none.
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{facts.pk}-", suffix=".png")
    with os.fdopen(handle, "wb") as file:
        file.write(render_card(facts))
    os.replace(temporary, path)
    for stale in directory.glob(f"{facts.pk}-*.png"):
        if stale != path:
            stale.unlink(missing_ok=True)
    return path


def draw_public(ids: Iterable[int]) -> int:
    """Draw the missing cards of those of `ids` that are public; returns how many were drawn."""
    drawn = 0
    public = GeneratedDescription.objects.servable().filter(pk__in=list(ids))
    for description in public.prefetch_related("genres"):
        facts = CardFacts.of(description, list(description.genres.all()))
        if not card_path(facts).exists():
            draw(facts)
            drawn += 1
    return drawn


def sweep(limit: int) -> tuple[int, int]:
    """Draw up to `limit` missing cards of public texts, and delete every card file of a text
    that is no longer public or of an older version; returns (drawn, deleted)."""
    directory = Path(settings.SHARE_CARD_DIR)
    on_disk: dict[int, set[str]] = {}
    if directory.is_dir():
        for path in directory.glob("*.png"):
            number, _, version = path.stem.partition("-")
            if number.isdecimal():
                on_disk.setdefault(int(number), set()).add(version)
    drawn = 0
    current: dict[int, str] = {}
    public = GeneratedDescription.objects.servable().prefetch_related("genres").order_by("pk")
    for description in public.iterator(chunk_size=500):
        facts = CardFacts.of(description, list(description.genres.all()))
        current[facts.pk] = facts.version
        if facts.version not in on_disk.get(facts.pk, set()) and drawn < limit:
            draw(facts)
            drawn += 1
    deleted = 0
    for pk, versions in on_disk.items():
        for version in versions - {current.get(pk, "")}:
            (directory / f"{pk}-{version}.png").unlink(missing_ok=True)
            deleted += 1
    return drawn, deleted


def render_card(facts: CardFacts) -> bytes:
    """The PNG: the page poster's gradient and glow, its kind, title, genres, a line of text."""
    palette = PALETTES[facts.colour]
    image = _background(palette)
    draw = ImageDraw.Draw(image)

    kind_font = _font("DejaVuSans-Bold.ttf", 22)
    kind = _KIND_LABELS.get(facts.kind, facts.kind).upper()
    kind_box = draw.textbbox((0, 0), kind, font=kind_font)
    box = (_MARGIN, 60, _MARGIN + kind_box[2] + 28, 60 + kind_box[3] + 18)
    draw.rounded_rectangle(box, radius=5, outline=(255, 255, 255), width=2)
    draw.text((_MARGIN + 14, 60 + 9), kind, font=kind_font, fill=_WHITE)

    footer_top = HEIGHT - 96
    text_font = _font("DejaVuSans.ttf", 28)
    text_lines = wrap(_one_line(facts.text), text_font, _TEXT_WIDTH, max_lines=2)
    genre_font = _font("DejaVuSans-Bold.ttf", 22)
    genre_line = wrap(
        " · ".join(facts.genres).upper() or "COMING NEVER", genre_font, _TEXT_WIDTH, 1
    )
    title_font, title_lines = _fit_title(facts.title.upper())

    title_step = _line_height(title_font, 1.04)
    text_step = _line_height(text_font, 1.45)
    genre_step = _line_height(genre_font, 1.3)
    bottom = footer_top - 36
    text_top = bottom - text_step * len(text_lines)
    genre_top = text_top - 14 - genre_step
    title_top = genre_top - 18 - title_step * len(title_lines)

    _draw_shadowed(image, title_lines, title_font, title_top, title_step)
    draw = ImageDraw.Draw(image)
    draw.text((_MARGIN, genre_top), genre_line[0], font=genre_font, fill=_MUTED)
    for number, line in enumerate(text_lines):
        draw.text((_MARGIN, text_top + number * text_step), line, font=text_font, fill=_MUTED)

    draw.line((_MARGIN, footer_top, WIDTH - _MARGIN, footer_top), fill=(255, 255, 255), width=1)
    mark_top = footer_top + 30
    draw.rounded_rectangle((_MARGIN, mark_top, _MARGIN + 16, mark_top + 26), 3, fill=_ACCENT)
    brand_font = _font("DejaVuSans-Bold.ttf", 24)
    draw.text((_MARGIN + 30, mark_top), settings.SITE_NAME.upper(), font=brand_font, fill=_WHITE)
    note_font = _font("DejaVuSans.ttf", 22)
    note = "A film that was never made" if facts.kind != Kind.TV_SHOW else "A show never made"
    if facts.pitched:
        note = "Pitched by a visitor"
    draw.text((WIDTH - _MARGIN, mark_top + 2), note, font=note_font, fill=_MUTED, anchor="ra")

    # Drawn last and solid: the genre's colour, exactly, whatever the gradient does.
    draw.rectangle((0, 0, STRIPE_WIDTH - 1, HEIGHT - 1), fill=palette.top)
    out = BytesIO()
    image.save(out, format="PNG", compress_level=6)
    return out.getvalue()


def _background(palette: Palette) -> Image.Image:
    """site.css's poster: linear-gradient(160deg, top, bottom), a glow, a darker foot."""
    # 160deg on a 1200x630 box: t rises 410/1002 of the way across and 592/1002 down.
    across = Image.linear_gradient("L").rotate(90).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    across = across.resize((WIDTH, HEIGHT)).point(lambda value: value * 410 // 1002)
    down = Image.linear_gradient("L").resize((WIDTH, HEIGHT)).point(lambda v: v * 592 // 1002)
    image = Image.composite(
        Image.new("RGB", (WIDTH, HEIGHT), palette.bottom),
        Image.new("RGB", (WIDTH, HEIGHT), palette.top),
        ImageChops.add(across, down),
    )
    # radial-gradient(circle at x y, glow at half opacity, transparent 55% of the farthest corner)
    centre_x, centre_y = palette.glow_at[0] * WIDTH, palette.glow_at[1] * HEIGHT
    farthest = max(
        ((corner_x - centre_x) ** 2 + (corner_y - centre_y) ** 2) ** 0.5
        for corner_x in (0, WIDTH)
        for corner_y in (0, HEIGHT)
    )
    radius = int(farthest * 0.55)
    falloff = Image.radial_gradient("L").resize((2 * radius, 2 * radius))
    # radial_gradient's value is the distance in pixels from its centre: 128 at the circle's edge.
    glow_alpha = falloff.point(lambda value: max(0, 255 - 2 * value) // 2)
    mask = Image.new("L", (WIDTH, HEIGHT), 0)
    mask.paste(glow_alpha, (int(centre_x) - radius, int(centre_y) - radius))
    image = Image.composite(Image.new("RGB", (WIDTH, HEIGHT), palette.glow), image, mask)
    # The poster's foot: 5% black down to 35% of the height, then to 72% at the bottom.
    foot = Image.linear_gradient("L").resize((WIDTH, HEIGHT)).point(_foot_alpha)
    return Image.composite(Image.new("RGB", (WIDTH, HEIGHT), (0, 0, 0)), image, foot)


def _foot_alpha(value: int) -> int:
    position = value / 255
    if position <= 0.35:
        return round(0.05 * 255)
    return round((0.05 + (0.72 - 0.05) * (position - 0.35) / 0.65) * 255)


def _draw_shadowed(image: Image.Image, lines: list[str], font: Font, top: int, step: int) -> None:
    """The title in white over a soft dark shadow, as the page's text-shadow does."""
    # Blurred over the title's band only: a full-card blur was most of the render time.
    band_top = max(0, top - 40)
    band = (0, band_top, WIDTH, min(HEIGHT, top + step * len(lines) + 40))
    shadow = Image.new("L", (band[2] - band[0], band[3] - band[1]), 0)
    shadow_draw = ImageDraw.Draw(shadow)
    for number, line in enumerate(lines):
        position = (_MARGIN, top - band_top + number * step + 3)
        shadow_draw.text(position, line, font=font, fill=150)
    shadow = shadow.filter(ImageFilter.GaussianBlur(10))
    image.paste((0, 0, 0), band, shadow)
    draw = ImageDraw.Draw(image)
    for number, line in enumerate(lines):
        draw.text((_MARGIN, top + number * step), line, font=font, fill=_WHITE)


def _fit_title(title: str) -> tuple[Font, list[str]]:
    """The largest size at which the title takes two lines; else three lines at the smallest."""
    title = _one_line(title) or "UNTITLED"
    for size in _TITLE_SIZES:
        font = _font("DejaVuSansCondensed-Bold.ttf", size)
        lines = wrap(title, font, _TEXT_WIDTH, max_lines=3)
        if len(lines) <= 2 and not lines[-1].endswith("…"):
            return font, lines
    return font, lines


def wrap(text: str, font: Font, width: int, max_lines: int) -> list[str]:
    """Greedy word wrap to `width` pixels; words longer than a line (or unspaced scripts) break
    anywhere; past `max_lines` the last line ends in an ellipsis that fits."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if font.getlength(candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = ""
        for character in word:
            if font.getlength(line + character) > width and line:
                lines.append(line)
                line = ""
            line += character
    if line:
        lines.append(line)
    if len(lines) <= max_lines:
        return lines or [""]
    kept = lines[:max_lines]
    last = kept[-1]
    while last and font.getlength(last.rstrip() + "…") > width:
        last = last[:-1]
    kept[-1] = last.rstrip() + "…"
    return kept


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _line_height(font: Font, leading: float) -> int:
    size = getattr(font, "size", 11)
    return int(size * leading)


@cache
def _font(name: str, size: int) -> Font:
    """DejaVu where installed (wide Unicode coverage), else Pillow's own font: never an error."""
    for directory in _FONT_DIRS:
        path = directory / name
        if path.is_file():
            try:
                return ImageFont.truetype(str(path), size)
            except OSError:
                continue
    return ImageFont.load_default(size=size)

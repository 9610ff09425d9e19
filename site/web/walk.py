"""The serving walk: each visitor goes round the pool in serve_key order, from a start of their own.

Each servable description has a random, permanent `serve_key`. A visitor's cursor for a filter is
(start, last, lap, wrapped): the next description is the first with a key after `last`, up to the
end of the key space, then (wrapped) from the bottom up to `start`. Keys only ever increase within
a lap, so nothing repeats until the walk comes back round to `start`: lap complete, everything in
the filter has been seen. Descriptions added mid-lap with a key ahead of the cursor are seen in
this lap; those behind it in the next one. Each step is one range seek on a (status, serve_key)
index. A new lap starts at a random never-served description (a partial index holds only those),
which is how new texts reach visitors first; once all have been served, at the least served of
the few keys after a random point (keys are random, so that is a random sample).

A visitor holds one cursor per filter, at most MAX_CURSORS of them, in a signed cookie of a few
hundred bytes whatever the pool size or the number of pages they have viewed.
"""

from __future__ import annotations

import re
import secrets
from collections import OrderedDict
from dataclasses import dataclass, replace
from urllib.parse import urlencode

from django.db.models import Exists, OuterRef, QuerySet

from generator.models import SERVE_KEY_BITS, GeneratedDescription
from titles.models import Kind

MAX_CURSORS = 12
MAX_LAP = 9999
LAP_START_SAMPLE = 8
_KEY_LIMIT = 1 << SERVE_KEY_BITS
# Keys (up to _KEY_LIMIT) at full width: a cookie's length never depends on which keys it holds.
_KEY_DIGITS = SERVE_KEY_BITS // 4 + 1
_COOKIE_VERSION = "1"
_FILTER_PART = re.compile(r"^[a-z]*~[a-z0-9_-]*$")
_KIND_PLURALS: dict[str, str] = {Kind.MOVIE: "movies", Kind.TV_SHOW: "TV shows"}


@dataclass(frozen=True)
class GenreChoice:
    pk: int
    slug: str
    name: str


@dataclass(frozen=True)
class PoolFilter:
    """The part of the pool a visitor asked for: a kind, a genre, both or neither."""

    kind: str = ""
    genre: GenreChoice | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}~{self.genre.slug if self.genre else ''}"

    @property
    def is_filtered(self) -> bool:
        return bool(self.kind or self.genre)

    @property
    def query(self) -> str:
        """ "?kind=tv&genre=tv-horror", or "" for the whole pool."""
        params = {"kind": self.kind, "genre": self.genre.slug if self.genre else ""}
        params = {name: value for name, value in params.items() if value}
        return f"?{urlencode(params)}" if params else ""

    @property
    def phrase(self) -> str:
        """How the page names the filtered pool: "TV shows in Horror", "descriptions"."""
        noun = _KIND_PLURALS.get(self.kind, "descriptions")
        return f"{noun} in {self.genre.name}" if self.genre else noun

    def apply(self, descriptions: QuerySet[GeneratedDescription]) -> QuerySet[GeneratedDescription]:
        if self.kind:
            descriptions = descriptions.filter(kind=self.kind)
        if self.genre:
            # EXISTS, not a join: the database walks the serve_key index and probes the genre.
            tagged = GeneratedDescription.genres.through.objects.filter(
                generateddescription_id=OuterRef("pk"), genre_id=self.genre.pk
            )
            descriptions = descriptions.filter(Exists(tagged))
        return descriptions

    def has_any(self, servable: QuerySet[GeneratedDescription]) -> bool:
        """Whether the filter matches anything: driven from the genre's rows, because walking the
        serve_key index for a genre with nothing in it would probe every description."""
        if self.genre is None:
            return True
        matching = servable.filter(pk=OuterRef("generateddescription_id"))
        if self.kind:
            matching = matching.filter(kind=self.kind)
        tagged = GeneratedDescription.genres.through.objects.filter(genre_id=self.genre.pk)
        return tagged.filter(Exists(matching)).exists()


@dataclass(frozen=True)
class Cursor:
    start: int  # serve_key this lap began at: the lap ends when the walk comes back to it
    last: int  # serve_key shown last; -1 just after wrapping round to the bottom of the key space
    lap: int = 0
    wrapped: bool = False


@dataclass(frozen=True)
class Step:
    description: GeneratedDescription | None
    cursor: Cursor | None
    lap_complete: bool = False


def next_in_filter(pool_filter: PoolFilter, cursor: Cursor | None) -> Step:
    """The next step of a visitor's walk through the servable descriptions a filter matches."""
    servable = GeneratedDescription.objects.servable()
    if not pool_filter.has_any(servable):
        return Step(None, cursor)
    return next_step(pool_filter.apply(servable), cursor)


def next_step(pool: QuerySet[GeneratedDescription], cursor: Cursor | None) -> Step:
    """The next description of `pool` this cursor has not passed, and the cursor moved onto it."""
    if cursor is None:
        return _start_lap(pool, lap=0, previous=None)
    if not cursor.wrapped:
        found = _first(pool.filter(serve_key__gt=cursor.last))
        if found is not None:
            return Step(found, replace(cursor, last=found.serve_key))
        cursor = replace(cursor, last=-1, wrapped=True)
    found = _first(pool.filter(serve_key__gt=cursor.last, serve_key__lt=cursor.start))
    if found is not None:
        return Step(found, replace(cursor, last=found.serve_key))
    return _start_lap(pool, lap=min(cursor.lap + 1, MAX_LAP), previous=cursor)


def _start_lap(pool: QuerySet[GeneratedDescription], lap: int, previous: Cursor | None) -> Step:
    """Begin where the least-served texts are: never-served ones first, so the pool drains."""
    pivot = secrets.randbits(SERVE_KEY_BITS)
    unserved = pool.filter(first_served_at__isnull=True)
    found = _first(unserved.filter(serve_key__gte=pivot)) or _first(unserved)
    if found is None:
        sample = _sample(pool.filter(serve_key__gte=pivot)) or _sample(pool)
        found = min(sample, key=lambda description: description.times_served, default=None)
    if found is None:
        # Nothing to show: keep the old cursor so texts arriving ahead of it continue the lap.
        return Step(None, previous)
    cursor = Cursor(start=found.serve_key, last=found.serve_key, lap=lap)
    return Step(found, cursor, lap_complete=previous is not None)


def _first(descriptions: QuerySet[GeneratedDescription]) -> GeneratedDescription | None:
    return descriptions.select_related("model_run").order_by("serve_key").first()


def _sample(descriptions: QuerySet[GeneratedDescription]) -> list[GeneratedDescription]:
    return list(descriptions.select_related("model_run").order_by("serve_key")[:LAP_START_SAMPLE])


class Walk:
    """All of one visitor's cursors, most recently used last; round-trips through a cookie."""

    def __init__(self, cursors: OrderedDict[str, Cursor] | None = None) -> None:
        self.cursors: OrderedDict[str, Cursor] = cursors or OrderedDict()

    def get(self, filter_key: str) -> Cursor | None:
        return self.cursors.get(filter_key)

    def with_cursor(self, filter_key: str, cursor: Cursor | None) -> Walk:
        cursors = OrderedDict(self.cursors)
        cursors.pop(filter_key, None)
        if cursor is not None:
            cursors[filter_key] = cursor
        while len(cursors) > MAX_CURSORS:
            cursors.popitem(last=False)
        return Walk(cursors)

    def encode(self) -> str:
        entries = [
            f"{key}.{c.start:0{_KEY_DIGITS}x}.{c.last + 1:0{_KEY_DIGITS}x}.{c.lap}.{int(c.wrapped)}"
            for key, c in self.cursors.items()
        ]
        return "/".join([_COOKIE_VERSION, *entries])

    @classmethod
    def decode(cls, value: str | None) -> Walk:
        """The walk a cookie holds; anything malformed counts as a fresh visitor, never an error."""
        if not value:
            return cls()
        version, *entries = value.split("/")
        if version != _COOKIE_VERSION:
            return cls()
        cursors: OrderedDict[str, Cursor] = OrderedDict()
        for entry in entries[-MAX_CURSORS:]:
            cursor = _decode_entry(entry)
            if cursor is not None:
                cursors[cursor[0]] = cursor[1]
        return cls(cursors)


def _decode_entry(entry: str) -> tuple[str, Cursor] | None:
    parts = entry.split(".")
    if len(parts) != 5 or not _FILTER_PART.match(parts[0]):
        return None
    key, start, last_plus_one, lap, wrapped = parts
    try:
        cursor = Cursor(int(start, 16), int(last_plus_one, 16) - 1, int(lap), wrapped == "1")
    except ValueError:
        return None
    in_range = 0 <= cursor.start < _KEY_LIMIT and -1 <= cursor.last < _KEY_LIMIT
    if not in_range or not 0 <= cursor.lap <= MAX_LAP or wrapped not in ("0", "1"):
        return None
    return key, cursor

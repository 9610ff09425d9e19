"""The one record format used for training and for prompting at generation time.

A record is

    <|film|>[TV Show] [TV Comedies, Teen TV Shows] Title: Pickle Street | Four retirees ...<|/film|>

START_TOKEN and END_TOKEN are registered as special tokens, so each is a single token and
generation stops at END_TOKEN instead of text being cut afterwards. A request for "a TV horror
show" is a prefix of a record: `prompt_prefix("tv", ["TV Horror"])`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from generator.ml.dataset import KIND_BY_LABEL, KIND_LABELS, TitleRecord
from generator.ml.text import normalise_space

START_TOKEN = "<|film|>"
END_TOKEN = "<|/film|>"
SPECIAL_TOKENS = (START_TOKEN, END_TOKEN)
TITLE_MARK = "Title:"
SEPARATOR = " | "

_HEADER = re.compile(
    r"^\[(?P<kind>[^\[\]]+)\] \[(?P<genres>[^\[\]]*)\] "
    + re.escape(TITLE_MARK)
    + r" (?P<rest>.*)$",
    re.DOTALL,
)


class FormatError(ValueError):
    """Generated text that does not follow the record format."""


@dataclass(frozen=True)
class Record:
    kind: str  # "movie" or "tv"
    genres: tuple[str, ...]
    title: str
    description: str


@dataclass(frozen=True)
class Sample:
    """One sampled record, before it is parsed and screened."""

    text: str  # the whole record, prompt included, markers removed
    reached_end: bool
    new_tokens: int
    row: int
    steered: bool = False  # kept from closing a real title it was likeliest to close (title_guard)
    # The model's surprise (nats, at temperature 1) at each new token, the end marker left out.
    surprises: tuple[float, ...] = ()


def _clean(text: str) -> str:
    # Markers and brackets inside a field would make the record ambiguous.
    for token in SPECIAL_TOKENS:
        text = text.replace(token, " ")
    return normalise_space(text.replace("|", "/"))


def header(kind: str, genres: Sequence[str] = ()) -> str:
    genre_list = ", ".join(_clean(g).replace("[", "(").replace("]", ")") for g in genres)
    return f"[{KIND_LABELS[kind]}] [{genre_list}] {TITLE_MARK}"


def format_record(kind: str, genres: Sequence[str], title: str, description: str) -> str:
    """One training record, start and end markers included."""
    body = f"{header(kind, genres)} {_clean(title)}{SEPARATOR}{_clean(description)}"
    return f"{START_TOKEN}{body}{END_TOKEN}"


def format_title_record(record: TitleRecord) -> str:
    if not record.kind:
        # Plain-text imports carry no kind or title: learn the description alone.
        return f"{START_TOKEN}{_clean(record.description)}{END_TOKEN}"
    return format_record(record.kind, record.genres, record.title, record.description)


def prompt_prefix(kind: str | None = None, genres: Sequence[str] = ()) -> str:
    """The start of a record for the requested kind and genres; the model writes the rest."""
    if kind is None:
        return START_TOKEN
    if not genres:
        return f"{START_TOKEN}[{KIND_LABELS[kind]}] ["
    return f"{START_TOKEN}{header(kind, genres)} "


def pitch_prompt(kind: str, genres: Sequence[str], title: str) -> str:
    """A record up to its description, for a title a visitor pitched; the model writes the rest.

    It stops at "|" without the separator's trailing space: in training the description's first
    word carries its leading space, so the model writes " A ..." as it learned to.
    """
    return f"{START_TOKEN}{header(kind, genres)} {_clean(title)}{SEPARATOR.rstrip()}"


def parse_record(text: str) -> Record:
    """Parse a generated record (with or without its markers) or raise FormatError."""
    body = text.strip()
    if body.startswith(START_TOKEN):
        body = body[len(START_TOKEN) :]
    if body.endswith(END_TOKEN):
        body = body[: -len(END_TOKEN)]
    if START_TOKEN in body or END_TOKEN in body:
        raise FormatError("a marker appears inside the record")
    match = _HEADER.match(body.strip())
    if match is None:
        raise FormatError("the header is not '[Kind] [Genres] Title: ...'")
    kind = KIND_BY_LABEL.get(match["kind"].strip().lower())
    if kind is None:
        raise FormatError(f"unknown kind {match['kind']!r}")
    genres = tuple(g for g in (normalise_space(part) for part in match["genres"].split(",")) if g)
    title, separator, description = match["rest"].partition(SEPARATOR.strip())
    if not separator:
        raise FormatError("no ' | ' between the title and the description")
    title, description = normalise_space(title), normalise_space(description)
    if not title:
        raise FormatError("the title is empty")
    if not description:
        raise FormatError("the description is empty")
    return Record(kind=kind, genres=genres, title=title, description=description)

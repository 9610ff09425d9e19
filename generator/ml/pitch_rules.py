"""Rules for a title a visitor pitches, and the blocklist its title and text are held to.

Plain Python: no Django, no torch (the web form and the worker both use it). Words are compared
in the project's one folded form (generator.ml.text: case, accents and apostrophes ignored).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from generator.ml.text import normalise_space, tokens

MAX_TITLE_CHARS = 80
SHIPPED_BLOCKLIST = Path(__file__).resolve().parent / "data" / "pitch_blocklist.txt"
# Punctuation a film title plausibly uses; brackets and "|" would break the record format.
_PUNCTUATION = set(" '’\".,:;!?&()-–—/#+%*@$")
_URL = re.compile(
    r"(?i)(?:[a-z][a-z0-9+.-]*://|\bwww\.|\b[a-z0-9-]+\.(?:com|net|org|info|biz|io|ly|gg|xyz|"
    r"ru|cn|de|uk|co|me|app|dev|site|online|link|top|click)\b)"
)


class TitleError(ValueError):
    """A pitched title the site will not use; the message is for the visitor."""


@dataclass(frozen=True)
class Blocklist:
    """Folded terms, each a tuple of words; a text matches when it holds one in a row."""

    terms: frozenset[tuple[str, ...]]

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> Blocklist:
        terms = set()
        for line in lines:
            line = line.strip()
            if line and not line.startswith("#"):
                words = tokens(line).words
                if words:
                    terms.add(words)
        return cls(frozenset(terms))

    @classmethod
    def from_files(cls, paths: Iterable[Path | str]) -> Blocklist:
        """The terms of every file; a missing or unreadable file is an error, never skipped."""
        lines: list[str] = []
        for path in paths:
            try:
                lines += Path(path).read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as error:
                raise ValueError(f"blocklist {path}: {error}") from error
        return cls.from_lines(lines)

    def match(self, text: str) -> str | None:
        """The first blocklisted term in `text` (folded, as listed), or None."""
        words = tokens(text).words
        for start in range(len(words)):
            for term in self.terms:
                end = start + len(term)
                if end <= len(words) and _same(words[start:end], term):
                    return " ".join(term)
        return None


def _same(words: tuple[str, ...], term: tuple[str, ...]) -> bool:
    # The last word may carry a plural ending: "slurs" is as blocked as "slur".
    *head, last = words
    *term_head, term_last = term
    plurals = (term_last, term_last + "s", term_last + "es")
    return tuple(head) == tuple(term_head) and last in plurals


def clean_title(raw: str, blocklist: Blocklist) -> str:
    """The title as the model will see it, or TitleError saying what is wrong with it."""
    title = normalise_space(unicodedata.normalize("NFC", raw))
    if not title:
        raise TitleError("Give the film or show a title.")
    if len(title) > MAX_TITLE_CHARS:
        raise TitleError(
            f"Keep the title to {MAX_TITLE_CHARS} characters (this one has {len(title)})."
        )
    if _URL.search(title):
        raise TitleError("A title cannot be a web address.")
    odd = sorted({char for char in title if not _allowed(char)})
    if odd:
        shown = " ".join(repr(char) for char in odd[:5])
        raise TitleError(f"Use letters, digits and ordinary punctuation only (not {shown}).")
    if not any(unicodedata.category(char)[0] in "LN" for char in title):
        raise TitleError("A title needs at least one letter or digit.")
    if blocklist.match(title) is not None:
        raise TitleError("That title uses a word this site does not print. Try another.")
    return title


def _allowed(char: str) -> bool:
    return unicodedata.category(char)[0] in "LNM" or char in _PUNCTUATION

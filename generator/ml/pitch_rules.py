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
        """The first blocklisted term in `text` (folded, as listed), or None; disguises count
        (see `disguises`)."""
        for form in disguises(text):
            words = tokens(form).words
            for start in range(len(words)):
                for term in self.terms:
                    end = start + len(term)
                    if end <= len(words) and _same(words[start:end], term):
                        return " ".join(term)
        return None


# Letters of other scripts drawn like Latin ones (Unicode's confusables, the lowercase that a
# title can hold; case is folded later).
_LOOKALIKES = str.maketrans(
    "аеорсухіјѕԁһӏԛԝвкмнтАВЕКМНОРСТХІЈЅαβεικνορτυχΑΒΕΗΙΚΜΝΟΡΤΥΧΖ",
    "aeopcyxijsdhlqwbkmhtABEKMHOPCTXIJSabeikvoptuxABEHIKMNOPTYXZ",
)
# Digits and signs written for letters inside a word ("sl0r"); a word of digits alone is a number.
_LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"}
_LEET_ONE_AS_L = {**_LEET, "1": "l", "!": "l"}
_WORDLIKE = re.compile(r"[\w@$!]+")


def disguises(text: str) -> list[str]:
    """`text` as written, and as read once disguises are undone: compatibility forms (NFKC),
    combining marks such as a strike-through (U+0336), lookalike letters of other scripts, and
    digits or signs for letters inside a word (1 read as i, then as l)."""
    composed = unicodedata.normalize("NFKC", text)
    stripped = "".join(
        char
        for char in unicodedata.normalize("NFD", composed)
        if unicodedata.category(char) != "Mn"
    )
    latin = unicodedata.normalize("NFC", stripped.translate(_LOOKALIKES))
    forms = [text, latin, _unleet(latin, _LEET), _unleet(latin, _LEET_ONE_AS_L)]
    return list(dict.fromkeys(forms))


def _unleet(text: str, table: dict[str, str]) -> str:
    def one(word: str) -> str:
        if not any(char.isalpha() for char in word):
            return word
        return "".join(table.get(char, char) for char in word)

    return _WORDLIKE.sub(lambda match: one(match.group()), text)


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

"""The one normaliser of text and titles, shared by parsing, filters and overfit detection.

Plain Python: no Django, no torch.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_APOSTROPHES = str.maketrans("", "", "'’")


# Control characters a byte-level tokenizer can decode (NUL among them, which PostgreSQL refuses).
_CONTROLS = dict.fromkeys(range(32), " ") | {127: " "}


def printable(text: str) -> str:
    """`text` with its control characters (tab and newline included) turned into spaces."""
    return text.translate(_CONTROLS)


def normalise_space(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def text_hash(text: str) -> str:
    """Hash of the normalised text: the uniqueness rule against storing a text twice."""
    return hashlib.sha256(normalise_space(text).lower().encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Tokens:
    words: tuple[str, ...]
    offsets: tuple[tuple[int, int], ...]  # (start, end) of each word in the NFC text
    text: str  # the NFC text the offsets point into

    @property
    def normal(self) -> str:
        return " ".join(self.words)

    def slice(self, start: int, end: int) -> str:
        """The original text of words start..end (end exclusive)."""
        return self.text[self.offsets[start][0] : self.offsets[end - 1][1]]


def tokens(text: str) -> Tokens:
    """Words folded for comparison (case, accents, apostrophes), with their original offsets."""
    text = unicodedata.normalize("NFC", text)
    words: list[str] = []
    offsets: list[tuple[int, int]] = []
    for match in _TOKEN.finditer(text):
        word = fold(match.group())
        if word:
            words.append(word)
            offsets.append(match.span())
    return Tokens(tuple(words), tuple(offsets), text)


def normalise(text: str) -> str:
    """The comparison form of a text: folded words joined by single spaces."""
    return tokens(text).normal


def fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.casefold().translate(_APOSTROPHES))
    return "".join(char for char in decomposed if not unicodedata.combining(char))

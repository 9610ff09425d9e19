"""Stable signatures of a text for the database index of generated texts (models.TextShingle).

Plain Python, no Django, so models, migrations and the overfit check share one definition. The
words are those the detector compares (generator.ml.text.tokens: case, accents and apostrophes
folded), and the hashes are 63-bit so they fit a signed BigIntegerField on every database. They
never change between processes or releases (unlike Python's salted `hash()`); changing them means
re-indexing every stored text in a migration.
"""

from __future__ import annotations

import hashlib

from generator.ml.overfit import SHINGLE_WORDS
from generator.ml.text import tokens

SIGNATURE_BITS = 63
_SEPARATOR = "\x1f"  # no folded word contains it, so ("ab", "c") and ("a", "bc") differ


def stable_hash(value: str) -> int:
    """A 63-bit hash of `value`, the same in every process."""
    digest = hashlib.blake2b(value.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> (64 - SIGNATURE_BITS)


def word_shingles(words: tuple[str, ...]) -> set[int]:
    """The hashes of every run of SHINGLE_WORDS consecutive words, each once."""
    return {
        stable_hash(_SEPARATOR.join(words[start : start + SHINGLE_WORDS]))
        for start in range(len(words) - SHINGLE_WORDS + 1)
    }


def shingles(text: str) -> set[int]:
    """The word-trigram hashes of a text (none for a text under three words)."""
    return word_shingles(tokens(text).words)


def normal_hash(text: str) -> int | None:
    """The folded text's hash, for exact copies of any length; None for a text without words."""
    normal = tokens(text).normal
    return stable_hash(normal) if normal else None

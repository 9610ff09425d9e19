"""Quality filters for generated records. Plain Python: no Django.

`screen` turns a batch of samples into accepted records and a count per rejection reason. The
overfit check against the training data (copied texts and real titles) runs after this, in the
Django pipeline.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from generator.ml.format import FormatError, Record, Sample, parse_record
from generator.ml.text import text_hash, tokens

MIN_GENERATED_DESCRIPTION_CHARS = 40
MAX_GENERATED_DESCRIPTION_CHARS = 400
MAX_GENERATED_TITLE_CHARS = 120

NO_END = "no_end"
MALFORMED = "malformed_header"
TOO_SHORT = "too_short"
TOO_LONG = "too_long"
REPETITIVE = "repetitive"
DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Accepted:
    record: Record
    sample: Sample


@dataclass
class Screening:
    accepted: list[Accepted] = field(default_factory=list)
    rejections: Counter[str] = field(default_factory=Counter)


def is_repetitive(text: str) -> bool:
    """Degenerate loops: a word trigram three times, or too few distinct words for the length."""
    words = tokens(text).words
    if len(words) < 6:
        return False
    trigrams = Counter(zip(words, words[1:], words[2:], strict=False))
    if trigrams and trigrams.most_common(1)[0][1] >= 3:
        return True
    return len(words) >= 12 and len(set(words)) / len(words) < 0.45


def rejection_reason(
    sample: Sample,
    *,
    kind: str | None,
    genres: Sequence[str],
    known_genres: set[str] | None,
) -> tuple[str | None, Record | None]:
    """(reason, None) for a rejected sample, (None, record) for one that passes."""
    if not sample.reached_end:
        return NO_END, None
    try:
        record = parse_record(sample.text)
    except FormatError:
        return MALFORMED, None
    if kind is not None and record.kind != kind:
        return MALFORMED, None
    if genres and not set(genres) <= set(record.genres):
        return MALFORMED, None
    if not record.genres or (known_genres is not None and not set(record.genres) <= known_genres):
        return MALFORMED, None
    if len(record.title) > MAX_GENERATED_TITLE_CHARS:
        return MALFORMED, None
    if len(record.description) < MIN_GENERATED_DESCRIPTION_CHARS:
        return TOO_SHORT, None
    if len(record.description) > MAX_GENERATED_DESCRIPTION_CHARS:
        return TOO_LONG, None
    if is_repetitive(record.description) or is_repetitive(record.title):
        return REPETITIVE, None
    return None, record


def screen(
    samples: Iterable[Sample],
    *,
    kind: str | None = None,
    genres: Sequence[str] = (),
    known_genres: set[str] | None = None,
    existing_hashes: set[str] | None = None,
) -> Screening:
    """Accept or reject every sample; duplicates are judged within the batch and the pool."""
    result = Screening()
    seen = set(existing_hashes or ())
    for sample in samples:
        reason, record = rejection_reason(
            sample,
            kind=kind,
            genres=genres,
            known_genres=known_genres,
        )
        if record is not None:
            digest = text_hash(record.description)
            if digest in seen:
                reason = DUPLICATE
            seen.add(digest)
        if reason is None and record is not None:
            result.accepted.append(Accepted(record, sample))
        else:
            result.rejections[reason or MALFORMED] += 1
    return result

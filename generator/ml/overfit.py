"""Catch generated texts that copy the training data. Plain Python, no Django.

A `Detector` is built once from the training titles and descriptions, then `check` scores a text:

1. exact: the normalised text (case, accents, punctuation and spacing folded) is a training text;
2. candidates: training texts sharing the most word trigrams, found in an inverted index (trigrams
   in more than MAX_POSTINGS texts are stock phrases and skipped, so "in this documentary" finds
   nothing on its own);
3. precise score on the candidates, the highest of
   - similarity: rapidfuzz's normalised Indel similarity of the two word sequences (edited copies),
   - coverage: the share of the text's words inside verbatim runs of at least `min_run_words`
     words, per candidate and over all candidates together (truncated and spliced copies),
   - run: the longest verbatim run over `long_run_words`, capped at 1 (a long copied passage
     inside an otherwise new text);
4. title: a title equal to a training title (normalised) scores 1 on its own.

A text is overfit when its score reaches `threshold`. Thresholds are plain values here; the Django
side reads them from settings (OVERFIT_*), and the CLI takes --threshold:

    python -m generator.ml.overfit --training netflix_titles.csv < texts.txt > verdicts.jsonl

reads one text per line (a plain description, or a formatted record whose title is checked too)
and writes one JSON object per line: {"overfit", "score", "nearest_show_id", "nearest", "span"}.
"""

from __future__ import annotations

import argparse
import heapq
import json
import sys
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz.distance import Indel, LCSseq

from generator.ml.dataset import DatasetError, TitleRecord, read_titles
from generator.ml.format import START_TOKEN, FormatError, parse_record
from generator.ml.text import Tokens, normalise, tokens

THRESHOLD = 0.75
MIN_RUN_WORDS = 4
LONG_RUN_WORDS = 13
CHECK_TITLES = True

SHINGLE_WORDS = 3
MAX_POSTINGS = 256
CANDIDATES = 8
# Coverage of a text shorter than this is counted over this many words: short texts are stock
# phrases more often than copies, and exact copies of them are caught by the hash anyway.
MIN_WORDS = 12

EXACT = "exact"
EDITED = "edited"
PARTIAL = "partial"
SPLICED = "spliced"
TITLE = "title"
REASONS = (EXACT, EDITED, PARTIAL, SPLICED, TITLE)


@dataclass(frozen=True)
class Document:
    """One indexed text: a training title (key = show id) or a generated text (key = its id)."""

    key: str
    title: str
    text: str


@dataclass(frozen=True)
class Thresholds:
    threshold: float = THRESHOLD
    min_run_words: int = MIN_RUN_WORDS
    long_run_words: int = LONG_RUN_WORDS
    check_titles: bool = CHECK_TITLES

    def __post_init__(self) -> None:
        if not 0 < self.threshold <= 1:
            raise ValueError(f"threshold must be in (0, 1], not {self.threshold}")
        if self.min_run_words < 2:
            raise ValueError(f"min_run_words must be at least 2, not {self.min_run_words}")
        if self.long_run_words < self.min_run_words:
            raise ValueError("long_run_words must be at least min_run_words")


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Verdict:
    overfit: bool
    score: float
    reason: str  # one of REASONS when overfit, else ""
    nearest: Document | None
    span: str  # the copied part of the checked text (or its title), as written there
    sources: tuple[str, ...] = ()  # keys of every document a copied run came from

    def as_json(self) -> dict[str, object]:
        """The CLI's one-line contract."""
        return {
            "overfit": self.overfit,
            "score": round(self.score, 4),
            "nearest_show_id": self.nearest.key if self.nearest else "",
            "nearest": self.nearest.text if self.nearest else "",
            "span": self.span,
        }


@dataclass(frozen=True)
class _Match:
    doc: int
    similarity: float
    runs: tuple[tuple[int, int], ...]  # (start, end) word ranges of the checked text

    def coverage(self, words: int) -> float:
        return sum(end - start for start, end in self.runs) / max(words, MIN_WORDS)

    def longest(self) -> int:
        return max((end - start for start, end in self.runs), default=0)

    def score(self, words: int, thresholds: Thresholds) -> float:
        run = self.longest() / thresholds.long_run_words
        return min(1.0, max(self.similarity, self.coverage(words), run))


def copied_runs(
    text: str, source: str, min_run_words: int = MIN_RUN_WORDS
) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Character ranges ((in text), (in source)) of the verbatim word runs the two share."""
    ours, theirs = tokens(text), tokens(source)
    return [
        (
            (ours.offsets[start][0], ours.offsets[end - 1][1]),
            (theirs.offsets[their_start][0], theirs.offsets[their_end - 1][1]),
        )
        for start, end, their_start, their_end in _aligned_runs(
            ours.words, theirs.words, min_run_words
        )
    ]


def _aligned_runs(
    ours: Sequence[Hashable], theirs: Sequence[Hashable], min_run_words: int
) -> list[tuple[int, int, int, int]]:
    """Verbatim runs (start, end in ours, start, end in theirs) of at least min_run_words.

    The LCS alignment can split a run where a word also matches elsewhere ("a radio host" whose
    "a" aligned earlier), so each aligned block is grown both ways while the words still agree.
    """
    runs = []
    for op in LCSseq.opcodes(ours, theirs):
        if op.tag != "equal":
            continue
        start, end, their_start, their_end = op.src_start, op.src_end, op.dest_start, op.dest_end
        while start and their_start and ours[start - 1] == theirs[their_start - 1]:
            start, their_start = start - 1, their_start - 1
        while end < len(ours) and their_end < len(theirs) and ours[end] == theirs[their_end]:
            end, their_end = end + 1, their_end + 1
        if end - start >= min_run_words:
            runs.append((start, end, their_start, their_end))
    return runs


class Detector:
    """An index of documents that scores how much a text copies from them."""

    def __init__(self, documents: Iterable[Document] = ()) -> None:
        self._documents: list[Document] = []
        self._words: list[list[int]] = []
        self._vocabulary: dict[str, int] = {}
        self._exact: dict[str, int] = {}
        self._titles: dict[str, int] = {}
        self._postings: dict[tuple[int, ...], list[int]] = {}
        for document in documents:
            self.add(document)

    @classmethod
    def from_records(cls, records: Iterable[TitleRecord]) -> Detector:
        return cls(Document(r.show_id, r.title, r.description) for r in records)

    def __len__(self) -> int:
        return len(self._documents)

    def has_title(self, title: str) -> bool:
        """Whether `title` is an indexed document's title, folded as `check` folds titles."""
        return self._title_index(title) is not None

    def _title_index(self, title: str) -> int | None:
        return self._titles.get(normalise(title)) if title else None

    def add(self, document: Document) -> None:
        index = len(self._documents)
        found = tokens(document.text)
        ids = [self._vocabulary.setdefault(word, len(self._vocabulary)) for word in found.words]
        self._documents.append(document)
        self._words.append(ids)
        self._exact.setdefault(found.normal, index)
        title = normalise(document.title)
        if title:
            self._titles.setdefault(title, index)
        for shingle in set(_shingles(ids)):
            self._postings.setdefault(shingle, []).append(index)

    def check(
        self,
        text: str,
        title: str = "",
        thresholds: Thresholds = DEFAULT_THRESHOLDS,
        allow: Callable[[Document], bool] | None = None,
    ) -> Verdict:
        """Score `text` (and `title`) against the index; `allow` leaves documents out."""
        found = tokens(text)
        verdict = self._check_text(found, thresholds, allow)
        if verdict.overfit or not thresholds.check_titles or not title:
            return verdict
        index = self._title_index(title)
        if index is None or (allow is not None and not allow(self._documents[index])):
            return verdict
        document = self._documents[index]
        return Verdict(True, 1.0, TITLE, document, title.strip(), (document.key,))

    def _check_text(
        self, found: Tokens, thresholds: Thresholds, allow: Callable[[Document], bool] | None
    ) -> Verdict:
        exact = self._exact.get(found.normal) if found.words else None
        if exact is not None and (allow is None or allow(self._documents[exact])):
            document = self._documents[exact]
            return Verdict(True, 1.0, EXACT, document, found.text.strip(), (document.key,))
        # Words the index has never seen get -1: they match nothing, not even each other.
        ids = [self._vocabulary.get(word, -1) for word in found.words]
        candidates = self._candidates(ids, allow)
        matches = [self._match(ids, doc, thresholds) for doc in candidates]
        if not matches:
            return Verdict(False, 0.0, "", None, "")
        count = len(found.words)
        best = max(matches, key=lambda m: (m.score(count, thresholds), m.similarity))
        score = best.score(count, thresholds)
        sources, covered = _contributions(sorted(matches, key=lambda m: -m.coverage(count)))
        spread = min(1.0, sum(end - start for start, end in covered) / max(count, MIN_WORDS))
        if len(sources) > 1 and best.coverage(count) < thresholds.threshold <= spread:
            # No one source explains the text, several together do: a splice.
            keys = tuple(self._documents[doc].key for doc in sources)
            nearest = self._documents[sources[0]]
            return Verdict(True, max(score, spread), SPLICED, nearest, _span(found, covered), keys)
        overfit = score >= thresholds.threshold
        reason = ""
        if overfit:
            reason = EDITED if best.similarity >= score else PARTIAL
        document = self._documents[best.doc]
        keys = (document.key,) if best.runs else ()
        return Verdict(overfit, score, reason, document, _span(found, best.runs), keys)

    def _candidates(
        self, ids: Sequence[int], allow: Callable[[Document], bool] | None
    ) -> list[int]:
        counts: dict[int, int] = {}
        for shingle in set(_shingles(ids)):
            posting = self._postings.get(shingle)
            if posting is None or len(posting) > MAX_POSTINGS:
                continue
            for doc in posting:
                counts[doc] = counts.get(doc, 0) + 1
        if allow is not None:
            counts = {doc: n for doc, n in counts.items() if allow(self._documents[doc])}
        return [doc for doc, _n in heapq.nlargest(CANDIDATES, counts.items(), key=_second)]

    def _match(self, ids: Sequence[int], doc: int, thresholds: Thresholds) -> _Match:
        words = self._words[doc]
        aligned = _aligned_runs(ids, words, thresholds.min_run_words)
        runs = tuple(_merged((start, end) for start, end, _, _ in aligned))
        # Word-level: shared letters between different words would flatter unrelated texts.
        return _Match(doc, Indel.normalized_similarity(ids, words), runs)


def _shingles(ids: Sequence[int]) -> Iterator[tuple[int, ...]]:
    for start in range(len(ids) - SHINGLE_WORDS + 1):
        yield tuple(ids[start : start + SHINGLE_WORDS])


def _second(item: tuple[int, int]) -> int:
    return item[1]


def _contributions(matches: Sequence[_Match]) -> tuple[list[int], list[tuple[int, int]]]:
    """The documents whose runs cover words no earlier one did, and the union of all runs."""
    sources: list[int] = []
    words: set[int] = set()
    for match in matches:
        new = {word for start, end in match.runs for word in range(start, end)} - words
        if new:
            sources.append(match.doc)
            words |= new
    return sources, _ranges(sorted(words))


def _merged(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _ranges(words: Sequence[int]) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for word in words:
        if ranges and ranges[-1][1] == word:
            ranges[-1] = (ranges[-1][0], word + 1)
        else:
            ranges.append((word, word + 1))
    return ranges


def _span(found: Tokens, runs: Sequence[tuple[int, int]]) -> str:
    """From the first copied word to the last: the edited region of the text."""
    if not runs:
        return ""
    return found.slice(min(start for start, _ in runs), max(end for _, end in runs))


# The command line: audit any batch of texts against a training file.


class _InputError(Exception):
    """Bad standard input: the message says which line and why."""


def _read_texts(stream: Iterable[bytes]) -> list[tuple[str, str]]:
    """(text, title) for every line; a formatted record contributes its title too."""
    texts: list[tuple[str, str]] = []
    for number, raw in enumerate(stream, start=1):
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8").strip()
        except UnicodeDecodeError:
            raise _InputError(f"standard input, line {number}: not valid UTF-8") from None
        if not line:
            raise _InputError(
                f"standard input, line {number}: the line is empty (give one text per line)"
            )
        texts.append(_text_and_title(line))
    if not texts:
        raise _InputError("standard input: no texts to check (give one text per line)")
    return texts


def _text_and_title(line: str) -> tuple[str, str]:
    if line.startswith((START_TOKEN, "[")):
        try:
            record = parse_record(line)
        except FormatError:
            return line, ""
        return record.description, record.title
    return line, ""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m generator.ml.overfit",
        description=(
            "Check texts from standard input (one per line: a description, or a formatted record "
            "whose title is checked too) against a training file; write one JSON verdict per line."
        ),
    )
    parser.add_argument(
        "--training",
        required=True,
        type=Path,
        help="the Netflix CSV, a one-column CSV or a text file with one description per line",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=THRESHOLD,
        help=f"score at which a text is overfit (default {THRESHOLD})",
    )
    parser.add_argument(
        "--no-titles", action="store_true", help="do not flag titles equal to a training title"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        thresholds = Thresholds(threshold=args.threshold, check_titles=not args.no_titles)
    except ValueError as exc:
        return _fail(str(exc))
    try:
        records = read_titles(args.training)
    except DatasetError as exc:
        return _fail(str(exc))
    if not records:
        return _fail(f"{args.training}: no training titles in the file")
    try:
        texts = _read_texts(sys.stdin.buffer)
    except _InputError as exc:
        return _fail(str(exc))
    detector = Detector.from_records(records)
    try:
        for text, title in texts:
            verdict = detector.check(text, title, thresholds)
            sys.stdout.write(json.dumps(verdict.as_json()) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, as Unix tools do.
        sys.stderr.close()
        return 1
    return 0


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)

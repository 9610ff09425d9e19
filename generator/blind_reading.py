"""A blind reading: served texts shuffled with real ones never trained on, judged by a reader.

`prepare` draws served texts of a run and real held-out descriptions that no earlier reading used,
shuffles them into a numbered list for the reader and a key kept apart. The reader (a person, or a
session that sees nothing but the list) answers, for each item, the probability that a machine
wrote it and its writing quality from 1 (unreadable) to 5 (a professional catalogue blurb).
`score` reads the answers against the key: the share of served texts flagged, the ROC AUC of the
reader's probabilities, and the mean quality of served and of real texts.

The key holds the served texts (ours) and only the show ids of the real ones (never their text),
so a reading's folder can be kept in the repository and its judgement checked.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from generator.ml.dataset import KIND_LABELS
from generator.ml.text import text_hash
from generator.models import GeneratedDescription, ModelRun
from generator.run_evaluation import held_out
from titles.models import TrainingTitle

KEY_FILE = "key.json"
ANSWERS_FILE = "answers.csv"
SCORE_FILE = "score.json"
SERVED = "served"
REAL = "real"
FLAGGED_AT = 0.5  # a probability of machine writing at least this flags an item
INSTRUCTIONS = """\
Below are {count} short descriptions of films and TV shows, numbered 1 to {count}. Some were
written by people for a streaming catalogue; some were written by a machine. Read each one as a
careful catalogue editor would. For every item give:
- p: the probability, from 0 to 1, that a machine wrote it;
- q: its writing quality, from 1 (unreadable) to 5 (a professional catalogue blurb).
Answer with one line per item, as CSV with the header "item,p,q" (for example "1,0.2,4").
"""


class ReadingError(ValueError):
    """Too few texts for a reading, or answers that do not fit its key."""


@dataclass(frozen=True)
class Item:
    number: int
    source: str  # SERVED or REAL
    kind: str
    title: str  # the served text's; "" for a real one, whose title and text stay in the catalogue
    text: str
    description_id: int | None = None  # the served text's GeneratedDescription id
    show_id: str = ""  # the real description's show id


@dataclass(frozen=True)
class Answer:
    number: int
    probability: float
    quality: float


@dataclass(frozen=True)
class Score:
    served: int
    real: int
    served_flagged: float  # share of served texts given p >= FLAGGED_AT
    real_flagged: float
    auc: float  # of p, served texts the positive class: 0.5 cannot tell, 1.0 always can
    served_quality: float
    real_quality: float


def used_before(readings: Path) -> tuple[set[str], set[str]]:
    """The hashes of the served texts and the real show ids that earlier readings under
    `readings` used. A served text counts by its words, not its id: the readings kept in the
    repository come from many databases, whose ids say nothing about each other."""
    served: set[str] = set()
    real: set[str] = set()
    for key in readings.glob(f"*/{KEY_FILE}"):
        for item in json.loads(key.read_text())["items"]:
            if item["source"] == SERVED:
                served.add(text_hash(item["text"]))
            else:
                real.add(item["show_id"])
    return served, real


def prepare(
    run: ModelRun, served: int, real: int, seed: int, readings: Path, pitched: bool = False
) -> tuple[list[Item], list[tuple[str, str]]]:
    """Fresh items for a reading of `run` (shuffled, numbered) and what the reader sees of each,
    (title, text) in item order: a real item's title and text go to the reader's list only,
    never into the key. With `pitched`, the texts it wrote for visitors' titles (all but those
    a moderator rejected) stand in for the pool's served ones.
    """
    used_served, used_real = used_before(readings)
    rng = random.Random(seed)
    texts = GeneratedDescription.objects.filter(model_run=run, pitched=pitched)
    if pitched:
        texts = texts.exclude(status=GeneratedDescription.Status.REJECTED)
    else:
        texts = texts.filter(status=GeneratedDescription.Status.APPROVED)
    pool = list(texts.exclude(text_hash__in=used_served).order_by("pk"))
    if len(pool) < served:
        which = "pitched" if pitched else "served"
        raise ReadingError(
            f"run #{run.pk} has {len(pool)} {which} texts no reading used, not {served}"
        )
    descriptions = set(held_out(run).descriptions)
    titles = [
        title
        for title in TrainingTitle.objects.exclude(show_id__in=used_real).order_by("show_id")
        if title.description in descriptions
    ]
    if len(titles) < real:
        raise ReadingError(f"{len(titles)} held-out real texts no reading used, not {real}")
    entries: list[tuple[Item, tuple[str, str]]] = [
        (
            Item(0, SERVED, text.kind, text.title, text.text, description_id=text.pk),
            (text.title, text.text),
        )
        for text in rng.sample(pool, served)
    ] + [
        (Item(0, REAL, title.kind, "", "", show_id=title.show_id), (title.title, title.description))
        for title in rng.sample(titles, real)
    ]
    rng.shuffle(entries)
    items = [replace(item, number=number) for number, (item, _text) in enumerate(entries, 1)]
    return items, [shown for _item, shown in entries]


def reader_list(items: Sequence[Item], shown: Sequence[tuple[str, str]]) -> str:
    """What the reader sees: the instructions and the numbered items, nothing else."""
    lines = [INSTRUCTIONS.format(count=len(items))]
    for item, (title, text) in zip(items, shown, strict=True):
        lines.append(f"{item.number}. [{KIND_LABELS[item.kind]}] {title}: {text}")
    return "\n".join(lines) + "\n"


def write_key(
    folder: Path, run: ModelRun, seed: int, items: Sequence[Item], pitched: bool = False
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / KEY_FILE
    if path.exists():
        raise ReadingError(f"{path} exists: a reading's key is never replaced")
    key = {"run": run.pk, "seed": seed, "pitched": pitched, "items": [asdict(i) for i in items]}
    path.write_text(json.dumps(key, indent=1, ensure_ascii=False) + "\n")
    return path


def read_key(folder: Path) -> list[Item]:
    path = folder / KEY_FILE
    try:
        return [Item(**item) for item in json.loads(path.read_text())["items"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ReadingError(f"{path}: not a reading's key ({exc})") from None


def parse_answers(lines: Iterable[str], items: Sequence[Item]) -> list[Answer]:
    """The reader's CSV ("item,p,q" per line), checked against the key: one answer per item."""
    answers: dict[int, Answer] = {}
    numbers = {item.number for item in items}
    rows = csv.reader(line for line in lines if line.strip())
    for line_number, row in enumerate(rows, start=1):
        if [cell.strip().lower() for cell in row] == ["item", "p", "q"]:
            continue
        try:
            number, probability, quality = int(row[0]), float(row[1]), float(row[2])
        except (IndexError, ValueError):
            raise ReadingError(f"line {line_number}: expected item,p,q, got {row}") from None
        if number not in numbers:
            raise ReadingError(f"line {line_number}: there is no item {number}")
        if number in answers:
            raise ReadingError(f"line {line_number}: item {number} is answered twice")
        if not 0 <= probability <= 1:
            raise ReadingError(f"line {line_number}: p must be between 0 and 1, not {probability}")
        if not 1 <= quality <= 5:
            raise ReadingError(f"line {line_number}: q must be between 1 and 5, not {quality}")
        answers[number] = Answer(number, probability, quality)
    if missing := sorted(numbers - set(answers)):
        raise ReadingError(f"no answer for item(s) {', '.join(map(str, missing))}")
    return [answers[item.number] for item in items]


def score(items: Sequence[Item], answers: Sequence[Answer]) -> Score:
    by_source: dict[str, list[Answer]] = {SERVED: [], REAL: []}
    for item, answer in zip(items, answers, strict=True):
        by_source[item.source].append(answer)
    served, real = by_source[SERVED], by_source[REAL]
    if not served or not real:
        raise ReadingError("a reading needs served and real items")
    # AUC as the probability that a served item gets a higher p than a real one (ties half).
    wins = sum(
        (s.probability > r.probability) + 0.5 * (s.probability == r.probability)
        for s in served
        for r in real
    )
    return Score(
        served=len(served),
        real=len(real),
        served_flagged=_flagged(served),
        real_flagged=_flagged(real),
        auc=wins / (len(served) * len(real)),
        served_quality=sum(answer.quality for answer in served) / len(served),
        real_quality=sum(answer.quality for answer in real) / len(real),
    )


def _flagged(answers: Sequence[Answer]) -> float:
    return sum(answer.probability >= FLAGGED_AT for answer in answers) / len(answers)

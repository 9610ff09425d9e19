"""Benchmark the overfit detector: speed against the full training set, and precision/recall on
planted copies versus held-back real descriptions.

    .venv/bin/python bench/overfit.py [--csv PATH] [--seed 7] [--cli] [--pool]

Speed: the detector is built on every row of the CSV, then single checks are timed (checks/s,
p50/p99 ms) next to a brute-force baseline that scores each text with rapidfuzz against every
training description, measured in the same run.

Quality: the detector is built on 90% of the rows. Negatives are the other 10%: real descriptions
it has never seen (those whose normalised description or title also occurs in the indexed 90% are
left out, being copies by definition). Positives are copies of indexed rows, one kind at a time:
verbatim, case/punctuation/spacing changed, a few words swapped/dropped/inserted, a long
truncated run, two halves of two descriptions spliced, and an original text under a real title.
--cli runs the same held-out set through `python -m generator.ml.overfit` with files under /tmp.

--pool runs the same cases against the pool of generated texts, the way the Django side checks it:
the indexed 90% is stored as generated texts (in a throwaway SQLite database under /tmp, with
their TextShingle signatures), then every case is checked by the SQL candidate retrieval plus a
small Detector (generator.overfit_check.pool_check), next to the former in-memory index (one
Detector over every stored text), timing both and counting the verdicts on which they differ.
Titles are not checked against the pool (generated texts may share one), so "title" scores 0 there.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz, process

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator.ml.dataset import NETFLIX_COLUMNS, TitleRecord, read_titles  # noqa: E402
from generator.ml.overfit import Detector, Thresholds, Verdict  # noqa: E402
from generator.ml.text import normalise  # noqa: E402

DEFAULT_CSV = ROOT.parent / "shared" / "data" / "netflix_titles.csv"
KINDS = ("verbatim", "case-punctuation", "edited", "truncated", "spliced", "title")
PER_KIND = 150
NAMES = ("Mirela", "Tobias", "Okonkwo", "Sunniva", "Rafferty", "Ilse", "Dario", "Yusra", "Kenji")
ADJECTIVES = ("reluctant", "grizzled", "charming", "stubborn", "mysterious", "troubled", "daring")
FILLERS = ("suddenly", "secretly", "finally", "really", "quietly", "soon")


@dataclass(frozen=True)
class Case:
    text: str
    title: str
    positive: bool
    kind: str


def _words(text: str) -> list[str]:
    return text.split()


def _case_punctuation(text: str, rng: random.Random) -> str:
    text = rng.choice((str.upper, str.lower, str.title))(text)
    text = re.sub(r"[,.;:!?\"“”]", lambda m: rng.choice(("", " ", m.group(), " - ")), text)
    return re.sub(r" ", lambda _m: rng.choice((" ", "  ", "\t", " \n ")), text)


def _edited(text: str, rng: random.Random) -> str:
    """Two to four edits: a name changed, a word dropped, an adjective or adverb inserted."""
    words = _words(text)
    for _ in range(rng.randint(2, 4)):
        position = rng.randrange(1, len(words))
        operation = rng.choice(("name", "drop", "insert", "swap"))
        if operation == "name":
            capitalised = [i for i, w in enumerate(words[1:], 1) if w[:1].isupper()]
            words[rng.choice(capitalised) if capitalised else position] = rng.choice(NAMES)
        elif operation == "drop" and len(words) > 8:
            del words[position]
        elif operation == "insert":
            words.insert(position, rng.choice(ADJECTIVES + FILLERS))
        else:
            words[position - 1], words[position] = words[position], words[position - 1]
    return " ".join(words)


def _truncated(text: str, rng: random.Random) -> str:
    words = _words(text)
    length = max(10, round(len(words) * rng.uniform(0.55, 0.75)))
    start = rng.choice((0, rng.randrange(0, max(1, len(words) - length + 1))))
    return " ".join(words[start : start + length])


def _spliced(first: str, second: str) -> str:
    a, b = _words(first), _words(second)
    return " ".join(a[: len(a) // 2] + b[len(b) // 2 :])


def build_cases(indexed: list[TitleRecord], held_out: list[TitleRecord], seed: int) -> list[Case]:
    rng = random.Random(seed)
    known_texts = {normalise(r.description) for r in indexed}
    known_titles = {normalise(r.title) for r in indexed}
    negatives = [
        Case(r.description, r.title, False, "negative")
        for r in held_out
        if normalise(r.description) not in known_texts and normalise(r.title) not in known_titles
    ]
    long_enough = [r for r in indexed if len(_words(r.description)) >= 14]
    makers: dict[str, Callable[[], tuple[str, str]]] = {
        "verbatim": lambda: (rng.choice(indexed).description, ""),
        "case-punctuation": lambda: (_case_punctuation(rng.choice(indexed).description, rng), ""),
        "edited": lambda: (_edited(rng.choice(long_enough).description, rng), ""),
        "truncated": lambda: (_truncated(rng.choice(long_enough).description, rng), ""),
        "spliced": lambda: (
            _spliced(rng.choice(long_enough).description, rng.choice(long_enough).description),
            "",
        ),
        # An original text (a held-back description) under a real, indexed title.
        "title": lambda: (rng.choice(negatives).text, rng.choice(indexed).title),
    }
    cases = list(negatives)
    for kind in KINDS:
        cases += [Case(*makers[kind](), True, kind) for _ in range(PER_KIND)]
    return cases


@dataclass(frozen=True)
class Quality:
    precision: float
    recall: float
    false_positives: int
    negatives: int
    recall_by_kind: dict[str, float]


def quality(cases: list[Case], flagged: list[bool]) -> Quality:
    tp = sum(c.positive and f for c, f in zip(cases, flagged, strict=True))
    fp = sum(not c.positive and f for c, f in zip(cases, flagged, strict=True))
    positives = sum(c.positive for c in cases)
    by_kind = {
        kind: statistics.mean(f for c, f in zip(cases, flagged, strict=True) if c.kind == kind)
        for kind in KINDS
    }
    return Quality(
        precision=tp / (tp + fp) if tp + fp else 1.0,
        recall=tp / positives,
        false_positives=fp,
        negatives=len(cases) - positives,
        recall_by_kind=by_kind,
    )


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _timed(check: Callable[[Case], object], cases: list[Case]) -> tuple[list[float], float]:
    latencies = []
    started = time.perf_counter()
    for case in cases:
        begin = time.perf_counter()
        check(case)
        latencies.append((time.perf_counter() - begin) * 1000)
    return latencies, time.perf_counter() - started


def _third_replaced(text: str, rng: random.Random) -> str:
    return " ".join(rng.choice(NAMES) if i % 3 == 1 else w for i, w in enumerate(text.split()))


def speed(records: list[TitleRecord], cases: list[Case]) -> None:
    started = time.perf_counter()
    detector = Detector.from_records(records)
    print(f"index: {len(detector)} titles built in {time.perf_counter() - started:.2f} s")
    for case in cases[:50]:  # warm-up
        detector.check(case.text, case.title)
    latencies, elapsed = _timed(lambda c: detector.check(c.text, c.title), cases)
    # Every row is indexed here, so held-back texts hit the exact hash: also time texts with a
    # third of their words replaced, which take the slow path (every candidate scored).
    rng = random.Random(3)
    edited = [Case(_third_replaced(c.text, rng), "", False, "slow") for c in cases]
    slow, _ = _timed(lambda c: detector.check(c.text), edited)
    normals = [normalise(r.description) for r in records]
    sample = cases[:: max(1, len(cases) // 300)]
    base_latencies, base_elapsed = _timed(
        lambda c: process.extractOne(normalise(c.text), normals, scorer=fuzz.ratio), sample
    )
    ours, theirs = len(cases) / elapsed, len(sample) / base_elapsed
    print(
        f"detector: {ours:,.0f} checks/s, p50 {_percentile(latencies, 0.5):.3f} ms, "
        f"p99 {_percentile(latencies, 0.99):.3f} ms, max {max(latencies):.3f} ms "
        f"({len(cases)} checks)"
    )
    print(
        f"  slow path (a third of the words replaced): p50 {_percentile(slow, 0.5):.3f} ms, "
        f"p99 {_percentile(slow, 0.99):.3f} ms ({len(slow)} checks)"
    )
    print(
        f"baseline (brute-force rapidfuzz ratio over {len(normals)} descriptions): "
        f"{theirs:,.0f} checks/s, p50 {_percentile(base_latencies, 0.5):.3f} ms, "
        f"p99 {_percentile(base_latencies, 0.99):.3f} ms ({len(sample)} checks)"
    )
    print(f"speed-up over the baseline: {ours / theirs:.1f}x")


def _print_quality(label: str, result: Quality) -> None:
    kinds = ", ".join(f"{kind} {share:.3f}" for kind, share in result.recall_by_kind.items())
    print(
        f"{label}: precision {result.precision:.4f}, recall {result.recall:.4f} "
        f"({result.false_positives} false positives of {result.negatives} negatives)"
    )
    print(f"  recall by kind: {kinds}")


def held_out_quality(records: list[TitleRecord], seed: int, cli: bool) -> list[Case]:
    rng = random.Random(seed)
    shuffled = records[:]
    rng.shuffle(shuffled)
    cut = round(len(shuffled) * 0.9)
    indexed, held_out = shuffled[:cut], shuffled[cut:]
    cases = build_cases(indexed, held_out, seed)
    detector = Detector.from_records(indexed)
    thresholds = Thresholds()
    verdicts = [detector.check(c.text, c.title, thresholds) for c in cases]
    _print_quality("detector (held-out)", quality(cases, [v.overfit for v in verdicts]))
    normals = [normalise(r.description) for r in indexed]
    base_scores = [
        process.extractOne(normalise(c.text), normals, scorer=fuzz.ratio)[1] / 100 for c in cases
    ]
    _print_quality(
        f"baseline (rapidfuzz ratio >= {thresholds.threshold})",
        quality(cases, [s >= thresholds.threshold for s in base_scores]),
    )
    if cli:
        _print_quality("CLI (held-out)", quality(cases, _cli_flags(indexed, cases)))
    return cases


def _cli_flags(indexed: list[TitleRecord], cases: list[Case]) -> list[bool]:
    """Run the held-out set through the CLI; the files live in a /tmp folder, never the repo."""
    with tempfile.TemporaryDirectory(prefix="overfit-bench-", dir="/tmp") as folder:
        training = Path(folder) / "training.csv"
        with training.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(NETFLIX_COLUMNS)
            writer.writerows(_row(r) for r in indexed)
        # One text per line: the CLI's input format (line breaks inside a text become spaces).
        lines = [
            f"<|film|>[Movie] [Dramas] Title: {c.title} | {' '.join(c.text.split())}<|/film|>"
            if c.title
            else " ".join(c.text.split())
            for c in cases
        ]
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "generator.ml.overfit", "--training", str(training)],
            input="\n".join(lines) + "\n",
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        )
        elapsed = time.perf_counter() - started
    verdicts = [json.loads(line) for line in result.stdout.splitlines()]
    print(f"CLI: {len(verdicts)} verdicts in {elapsed:.1f} s (start-up and index build included)")
    return [v["overfit"] for v in verdicts]


def _row(record: TitleRecord) -> list[str]:
    kind = "Movie" if record.kind == "movie" else "TV Show"
    return [
        record.show_id,
        kind,
        record.title,
        record.director,
        record.cast,
        record.country,
        record.date_added.isoformat() if record.date_added else "",
        str(record.release_year or ""),
        record.rating,
        record.duration,
        ", ".join(record.genres),
        record.description,
    ]


def _setup_django(folder: str) -> None:
    """Django on a fresh SQLite database in `folder`, migrated (the bench never touches data/)."""
    import os

    import django
    from django.core.management import call_command

    sys.path.insert(0, str(ROOT / "site"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["DATA_DIR"] = folder
    os.environ["DATABASE_URL"] = f"sqlite:///{folder}/bench.sqlite3"
    django.setup()
    call_command("migrate", verbosity=0)


def _pool_report(label: str, cases: list[Case], flags: list[bool], latencies: list[float]) -> None:
    _print_quality(label, quality(cases, flags))
    print(
        f"  {len(latencies) / (sum(latencies) / 1000):,.0f} checks/s, "
        f"p50 {_percentile(latencies, 0.5):.3f} ms, p99 {_percentile(latencies, 0.99):.3f} ms"
    )


def pool_index(records: list[TitleRecord], seed: int) -> None:
    """The held-out cases against the pool: the database index versus the in-memory one."""
    with tempfile.TemporaryDirectory(prefix="overfit-bench-", dir="/tmp") as folder:
        _setup_django(folder)
        from generator import overfit_check
        from generator.ml.overfit import Document
        from generator.models import GeneratedDescription

        rng = random.Random(seed)
        shuffled = records[:]
        rng.shuffle(shuffled)
        cut = round(len(shuffled) * 0.9)
        indexed, held_out = shuffled[:cut], shuffled[cut:]
        cases = build_cases(indexed, held_out, seed)
        started = time.perf_counter()
        GeneratedDescription.objects.store(
            [GeneratedDescription(title=r.title, kind=r.kind, text=r.description) for r in indexed],
            ignore_conflicts=True,  # the catalogue repeats a few descriptions
        )
        stored = GeneratedDescription.objects.order_by("pk").values_list("pk", "title", "text")
        print(
            f"pool: {len(stored)} generated texts stored and indexed in SQL in "
            f"{time.perf_counter() - started:.2f} s"
        )
        started = time.perf_counter()
        memory = Detector(Document(str(pk), title, text) for pk, title, text in stored)
        print(f"  in-memory index (before) built in {time.perf_counter() - started:.2f} s")
        limits = overfit_check._without_titles(Thresholds())
        before: list[object] = []
        after: list[object] = []
        memory_ms, _ = _timed(lambda c: before.append(memory.check(c.text, "", limits)), cases)
        sql_ms, _ = _timed(lambda c: after.append(overfit_check.pool_check(c.text, limits)), cases)
        old = [v for v in before if isinstance(v, Verdict)]
        new = [c.verdict for c in after if isinstance(c, overfit_check.Check)]
        _pool_report("pool, in-memory index (before)", cases, [v.overfit for v in old], memory_ms)
        _pool_report("pool, SQL index (after)", cases, [v.overfit for v in new], sql_ms)
        differ = sum(
            (a.overfit, round(a.score, 9), a.reason) != (b.overfit, round(b.score, 9), b.reason)
            for a, b in zip(old, new, strict=True)
        )
        nearest = sum(
            (a.nearest and a.nearest.key) != (b.nearest and b.nearest.key)
            for a, b in zip(old, new, strict=True)
        )
        flags = sum(a.overfit != b.overfit for a, b in zip(old, new, strict=True))
        drift = max(abs(a.score - b.score) for a, b in zip(old, new, strict=True))
        print(
            f"  differing: overfit flag {flags}, (overfit, score, reason) {differ}, "
            f"nearest text {nearest}, of {len(cases)}; largest score difference {drift:.3f} "
            "(ties for the last candidate place fall differently)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cli", action="store_true", help="also evaluate through the CLI")
    parser.add_argument(
        "--pool", action="store_true", help="also compare the SQL pool index with the in-memory one"
    )
    args = parser.parse_args()
    records = read_titles(args.csv)
    print(f"{args.csv}: {len(records)} titles")
    cases = held_out_quality(records, args.seed, args.cli)
    speed(records, cases)
    if args.pool:
        pool_index(records, args.seed)


if __name__ == "__main__":
    main()

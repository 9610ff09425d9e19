"""`manage.py blind_reading prepare|score`: a blind reading of what a run serves."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from generator.blind_reading import (
    ANSWERS_FILE,
    SCORE_FILE,
    ReadingError,
    parse_answers,
    prepare,
    read_key,
    reader_list,
    score,
    write_key,
)
from generator.models import ModelRun

READINGS = settings.ROOT_DIR / "docs" / "readings"
MAX_ITEMS = 500


class Command(BaseCommand):
    help = (
        "Blind reading: 'prepare' writes a shuffled, numbered list of served and real held-out "
        "texts for a reader and keeps the key apart; 'score' scores the reader's answers."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        steps = parser.add_subparsers(dest="step", required=True)
        make = steps.add_parser("prepare", help="draw fresh items and write the reader's list")
        make.add_argument("name", help="the reading's folder under --readings")
        make.add_argument("--run", type=int, help="ModelRun id (default: the active run)")
        make.add_argument("--served", type=int, default=30, help="served texts (default 30)")
        make.add_argument("--real", type=int, default=30, help="real texts (default 30)")
        make.add_argument("--seed", type=int, default=0)
        make.add_argument(
            "--pitched",
            action="store_true",
            help="read the texts the run wrote for visitors' pitched titles instead of the pool's",
        )
        make.add_argument(
            "--list",
            type=Path,
            help="where the reader's list goes (default: DATA_DIR/readings/NAME.txt); it holds "
            "real catalogue texts, so it is kept out of the repository",
        )
        make.add_argument("--readings", type=Path, default=READINGS)
        judge = steps.add_parser("score", help="score a reader's answers against the key")
        judge.add_argument("name", help="the reading's folder under --readings")
        judge.add_argument("answers", help="the reader's CSV (item,p,q), or - for stdin")
        judge.add_argument("--readings", type=Path, default=READINGS)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["step"] == "prepare":
                self._prepare(options)
            else:
                self._score(options)
        except ReadingError as exc:
            raise CommandError(str(exc)) from None

    def _prepare(self, options: dict[str, Any]) -> None:
        served, real, seed = options["served"], options["real"], options["seed"]
        if not (1 <= served <= MAX_ITEMS and 1 <= real <= MAX_ITEMS):
            raise CommandError(f"--served and --real must be between 1 and {MAX_ITEMS}")
        run = ModelRun.objects.given_or_active(options["run"])
        if run is None:
            raise CommandError("no such run (and without --run, no active run)")
        readings: Path = options["readings"]
        folder = readings / options["name"]
        items, texts = prepare(run, served, real, seed, readings, options["pitched"])
        key = write_key(folder, run, seed, items, options["pitched"])
        listing = options["list"] or settings.DATA_DIR / "readings" / f"{options['name']}.txt"
        listing.parent.mkdir(parents=True, exist_ok=True)
        listing.write_text(reader_list(items, texts))
        self.stdout.write(f"Reader's list ({len(items)} items): {listing}")
        self.stdout.write(f"Key (keep it from the reader): {key}")

    def _score(self, options: dict[str, Any]) -> None:
        folder: Path = options["readings"] / options["name"]
        items = read_key(folder)
        source = options["answers"]
        try:
            text = sys.stdin.read() if source == "-" else Path(source).read_text()
        except OSError as exc:
            raise CommandError(f"{source}: {exc}") from None
        answers = parse_answers(text.splitlines(), items)
        result = score(items, answers)
        (folder / ANSWERS_FILE).write_text(
            "item,p,q\n" + "".join(f"{a.number},{a.probability},{a.quality}\n" for a in answers)
        )
        stored = {"scored_on": date.today().isoformat(), **asdict(result)}
        (folder / SCORE_FILE).write_text(json.dumps(stored, indent=1) + "\n")
        self.stdout.write(
            f"Served flagged as machine-written: {result.served_flagged:.0%} of {result.served}; "
            f"real flagged: {result.real_flagged:.0%} of {result.real}\n"
            f"Reader's AUC: {result.auc:.3f} (0.5: cannot tell served from real)\n"
            f"Mean quality: served {result.served_quality:.2f}, real {result.real_quality:.2f} "
            "(1 unreadable, 5 a catalogue blurb)"
        )

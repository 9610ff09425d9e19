import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from tqdm import tqdm

from generator.ml.dataset import DatasetError, TitleRecord, read_titles
from titles.models import Genre, TrainingTitle

BATCH_SIZE = 1000


class Command(BaseCommand):
    help = (
        "Import training titles from the Kaggle Netflix CSV, a single-column CSV or a plain text "
        "file with one description per line. Idempotent by show_id; --replace reloads everything."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument(
            "--replace",
            action="store_true",
            help="delete every training title first, then load this file (one transaction)",
        )

    def handle(self, *args: Any, path: Path, replace: bool, **options: Any) -> None:
        try:
            records = read_titles(path)
        except DatasetError as exc:
            raise CommandError(f"{exc}. Nothing was imported.") from None
        if not records:
            raise CommandError(f"{path}: no titles found. Nothing was imported.")
        source = TrainingTitle.Source.NETFLIX_CSV if records[0].kind else TrainingTitle.Source.TEXT
        show_progress = options["verbosity"] > 0
        with transaction.atomic():
            removed = _delete_all() if replace else 0
            created = _insert_new(records, source, show_progress)
        self._report(path, len(records), created, removed, replace)

    def _report(self, path: Path, total: int, created: int, removed: int, replace: bool) -> None:
        if replace:
            self.stdout.write(
                self.style.SUCCESS(f"Replaced {removed} titles with {created} from {path}.")
            )
        elif created == 0:
            self.stdout.write(f"Nothing new: all {total} titles in {path} are already imported.")
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Imported {created} new titles from {path} "
                    f"({total - created} already present)."
                )
            )


def _delete_all() -> int:
    return TrainingTitle.objects.all().delete()[1].get("titles.TrainingTitle", 0)


def _insert_new(records: list[TitleRecord], source: str, show_progress: bool) -> int:
    existing = set(TrainingTitle.objects.values_list("show_id", flat=True))
    new_records = [record for record in records if record.show_id not in existing]
    new_records = list({record.show_id: record for record in new_records}.values())
    genres = Genre.objects.get_or_create_many({g for r in new_records for g in r.genres})
    created = 0
    with tqdm(
        total=len(new_records),
        unit="title",
        disable=not show_progress or len(new_records) <= BATCH_SIZE,
        file=sys.stderr,
    ) as progress:
        for start in range(0, len(new_records), BATCH_SIZE):
            batch = new_records[start : start + BATCH_SIZE]
            titles = TrainingTitle.objects.bulk_create(
                [_training_title(record, source) for record in batch]
            )
            links = [
                TrainingTitle.genres.through(trainingtitle_id=title.pk, genre_id=genres[name].pk)
                for title, record in zip(titles, batch, strict=True)
                for name in record.genres
            ]
            TrainingTitle.genres.through.objects.bulk_create(links)
            created += len(titles)
            progress.update(len(batch))
    return created


def _training_title(record: TitleRecord, source: str) -> TrainingTitle:
    return TrainingTitle(
        show_id=record.show_id,
        kind=record.kind,
        title=record.title,
        title_key=TrainingTitle.key_for(record.title),
        description=record.description,
        release_year=record.release_year,
        rating=record.rating,
        director=record.director,
        cast=record.cast,
        country=record.country,
        date_added=record.date_added,
        duration=record.duration,
        source=source,
    )

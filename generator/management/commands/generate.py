from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from generator.ml.config import SamplingSettings
from generator.models import GenerationBatch, ModelRun
from generator.pipeline import batch_size, run_batch
from generator.pools import pool_key
from titles.models import Genre, Kind

MAX_COUNT = 100_000


class Command(BaseCommand):
    help = "Generate descriptions in-process (no worker needed) with the active or a given run."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, required=True, help="texts to sample")
        parser.add_argument("--kind", choices=Kind.values, help="movie or tv")
        parser.add_argument("--genre", help="genre name or slug, e.g. 'tv-horror'")
        parser.add_argument("--temperature", type=float, help="default: drawn per batch")
        parser.add_argument("--seed", type=int, help="seed of the first batch (reproducible)")
        parser.add_argument("--batch-size", type=int, help="default: picked for the device")
        parser.add_argument("--run", type=int, help="ModelRun id (default: the active run)")

    def handle(self, *args: Any, **options: Any) -> None:
        # Every argument is checked before a model run is looked up or a device is probed.
        count, temperature, seed = options["count"], options["temperature"], options["seed"]
        if not 1 <= count <= MAX_COUNT:
            raise CommandError(f"--count must be between 1 and {MAX_COUNT}")
        if options["batch_size"] is not None and not 1 <= options["batch_size"] <= 1024:
            raise CommandError("--batch-size must be between 1 and 1024")
        if temperature is not None and not 0.05 <= temperature <= 5.0:
            raise CommandError("--temperature must be between 0.05 and 5.0")
        if seed is not None and seed < 0:
            raise CommandError("--seed must be zero or positive")
        genre = _genre(options["genre"])
        kind = options["kind"] or ""
        if genre and not kind:
            raise CommandError("--genre needs --kind (movie or tv)")
        run = _model_run(options["run"])
        size = options["batch_size"] or batch_size(run)
        totals: dict[str, int] = {}
        accepted = 0
        with tqdm(total=count, unit="text", disable=options["verbosity"] == 0) as progress:
            for index, start in enumerate(range(0, count, size)):
                batch = GenerationBatch.objects.create(
                    model_run=run,
                    kind=kind,
                    genre=genre,
                    requested=min(size, count - start),
                    sampling=SamplingSettings.from_settings(
                        settings,
                        temperature=temperature,
                        seed=None if seed is None else seed + index,
                    ).as_dict(),
                )
                done = run_batch(batch.pk)
                if done is None:
                    raise CommandError(f"batch #{batch.pk} was claimed by another process")
                accepted += done.accepted
                for reason, number in done.rejections.items():
                    totals[reason] = totals.get(reason, 0) + number
                progress.update(batch.requested)
                progress.set_postfix(accepted=accepted)
        rejected = ", ".join(f"{reason} {number}" for reason, number in sorted(totals.items()))
        self.stdout.write(
            self.style.SUCCESS(
                f"Pool {pool_key(kind, genre.slug if genre else '')}: {accepted} of {count} "
                f"accepted" + (f"; rejected: {rejected}" if rejected else "")
            )
        )


def _model_run(run_id: int | None) -> ModelRun:
    if run_id is not None:
        run = ModelRun.objects.filter(pk=run_id).first()
        if run is None:
            raise CommandError(f"no model run #{run_id}")
    else:
        run = ModelRun.objects.active()
        if run is None:
            raise CommandError(
                "no active model run: fine-tune one (manage.py finetune --activate) or pass --run"
            )
    if not run.checkpoint_path:
        raise CommandError(f"model run #{run.pk} has no checkpoint yet")
    return run


def _genre(value: str | None) -> Genre | None:
    if value is None:
        return None
    genre = (
        Genre.objects.filter(slug=value).first() or Genre.objects.filter(name__iexact=value).first()
    )
    if genre is None:
        known = ", ".join(Genre.objects.values_list("slug", flat=True)[:60])
        raise CommandError(f"unknown genre {value!r}; known genres: {known or 'none imported'}")
    return genre

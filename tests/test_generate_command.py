from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from generator.models import GeneratedDescription, GenerationBatch, ModelRun, Pool
from generator.pools import sync_pools
from tests.factories import GenreFactory, ModelRunFactory, TrainingTitleFactory
from titles.models import Genre, Kind

pytestmark = pytest.mark.django_db

GENRES = ("Dramas", "Comedies", "TV Horror", "Docuseries", "Thrillers", "TV Comedies")


@pytest.fixture
def genres() -> list[Genre]:
    return [GenreFactory.create(name=name) for name in GENRES]


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--count", "0"], "--count must be between 1 and 100000"),
        (["--count", "1000001"], "--count must be between 1 and 100000"),
        (["--count", "4", "--temperature", "9"], "--temperature must be between 0.05 and 5.0"),
        (["--count", "4", "--batch-size", "0"], "--batch-size must be between 1 and 1024"),
        (["--count", "4", "--seed", "-1"], "--seed must be zero or positive"),
        (["--count", "4", "--genre", "no-such-genre"], "unknown genre 'no-such-genre'"),
        (["--count", "4", "--genre", "dramas"], "--genre needs --kind"),
        (["--count", "4", "--run", "999"], "no model run #999"),
    ],
)
def test_bad_arguments_are_clear_errors(
    unloaded_run: ModelRun, genres: list[Genre], arguments: list[str], message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("generate", *arguments, stdout=StringIO(), stderr=StringIO())

    assert not GenerationBatch.objects.exists()


def test_arguments_are_checked_before_the_model_run_is_looked_up() -> None:
    with pytest.raises(CommandError, match="--count must be between"):
        call_command("generate", "--count", "0", stdout=StringIO(), stderr=StringIO())


def test_it_needs_an_active_run() -> None:
    with pytest.raises(CommandError, match="no active model run"):
        call_command("generate", "--count", "4", stdout=StringIO(), stderr=StringIO())


def test_a_run_without_a_checkpoint_is_refused() -> None:
    run = ModelRunFactory.create(status=ModelRun.Status.RUNNING)

    with pytest.raises(CommandError, match=f"model run #{run.pk} has no checkpoint yet"):
        call_command(
            "generate", "--count", "4", "--run", str(run.pk), stdout=StringIO(), stderr=StringIO()
        )


def test_it_generates_in_process_and_reports_the_yield(
    active_run: ModelRun, genres: list[Genre]
) -> None:
    out = StringIO()

    call_command(
        "generate",
        "--count",
        "12",
        "--kind",
        "movie",
        "--genre",
        "dramas",
        "--batch-size",
        "6",
        "--seed",
        "3",
        stdout=out,
        stderr=StringIO(),
        verbosity=0,
    )

    batches = list(GenerationBatch.objects.order_by("pk"))
    assert [batch.requested for batch in batches] == [6, 6]
    assert [batch.sampling["seed"] for batch in batches] == [3, 4]
    assert {batch.status for batch in batches} == {GenerationBatch.Status.DONE}
    accepted = sum(batch.accepted for batch in batches)
    assert f"Pool movie:dramas: {accepted} of 12 accepted" in out.getvalue()
    stored = GeneratedDescription.objects.all()
    # Overfit texts are stored for moderators to see, but they are not part of the yield.
    overfit = sum(batch.rejections.get("overfit", 0) for batch in batches)
    assert stored.filter(status=GeneratedDescription.Status.OVERFIT).count() == overfit
    assert stored.exclude(status=GeneratedDescription.Status.OVERFIT).count() == accepted > 0
    assert set(stored.values_list("kind", flat=True)) == {Kind.MOVIE}
    assert set(stored.values_list("genres__slug", flat=True)) == {"dramas"}


def test_pools_prints_each_pool_with_its_last_batch(genres: list[Genre]) -> None:
    dramas = genres[0]
    TrainingTitleFactory.create(kind=Kind.MOVIE, genres=[dramas])
    sync_pools()
    everything = Pool.objects.get(key="all")
    older = GenerationBatch.objects.create(
        model_run=ModelRunFactory.create(),
        pool=everything,
        requested=8,
        accepted=8,
        status=GenerationBatch.Status.DONE,
        finished_at=timezone.now() - timedelta(minutes=5),
    )
    last = GenerationBatch.objects.create(
        model_run=older.model_run,
        pool=everything,
        requested=8,
        accepted=5,
        rejections={"too_short": 2, "duplicate": 1},
        status=GenerationBatch.Status.DONE,
        finished_at=timezone.now(),
    )
    out = StringIO()

    call_command("pools", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0].split()[:5] == ["pool", "fresh", "low", "high", "coming"]
    rows = {line.split()[0]: line for line in lines[2:]}
    assert sorted(rows) == ["all", "movie:dramas"]
    assert rows["all"].endswith(f"#{last.pk}: 5/8 accepted (rejected: duplicate 1, too_short 2)")
    assert rows["movie:dramas"].endswith("none yet")

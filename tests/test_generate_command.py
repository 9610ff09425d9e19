from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from generator.models import GeneratedDescription, GenerationBatch
from titles.models import Genre

pytestmark = pytest.mark.django_db


@pytest.fixture
def genres() -> None:
    for name in ("Dramas", "Comedies", "TV Horror", "Docuseries", "Thrillers", "TV Comedies"):
        Genre.objects.create(name=name, slug=Genre.slug_for(name))


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
    active_run: Any, genres: None, arguments: list[str], message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        call_command("generate", *arguments, stdout=StringIO(), stderr=StringIO())

    assert not GenerationBatch.objects.exists()


def test_it_needs_an_active_run(db: None) -> None:
    with pytest.raises(CommandError, match="no active model run"):
        call_command("generate", "--count", "4", stdout=StringIO(), stderr=StringIO())


def test_it_generates_in_process_and_reports_the_yield(active_run: Any, genres: None) -> None:
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
    accepted = sum(batch.accepted for batch in batches)
    assert f"Pool movie:dramas: {accepted} of 12 accepted" in out.getvalue()
    assert set(GeneratedDescription.objects.values_list("kind", flat=True)) <= {"movie"}


def test_pools_prints_each_pool_with_its_last_batch(active_run: Any, genres: None) -> None:
    call_command("generate", "--count", "4", stdout=StringIO(), stderr=StringIO(), verbosity=0)
    out = StringIO()

    call_command("pools", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0].split()[:5] == ["pool", "fresh", "low", "high", "coming"]
    assert any(line.startswith("all ") for line in lines)

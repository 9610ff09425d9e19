from __future__ import annotations

import csv
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import settings as hypothesis_settings

from generator.ml.dataset import NETFLIX_COLUMNS
from tests.samples import SAMPLE_ROWS

if TYPE_CHECKING:
    from generator.models import ModelRun

ROOT = Path(__file__).resolve().parent.parent

# CI replays the same examples every run, so a submission's result does not depend on luck;
# local runs keep exploring new ones.
hypothesis_settings.register_profile("ci", derandomize=True)
if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
    hypothesis_settings.load_profile("ci")
SHARED_CSV = Path(os.environ.get("TMDNE_SHARED_DATA", ROOT.parent / "shared" / "data")) / (
    "netflix_titles.csv"
)


@pytest.fixture(autouse=True)
def _plain_http(settings: Any) -> None:
    """The test client speaks plain HTTP; production keeps its HTTPS-only defaults."""
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    # No collectstatic before tests: serve static names unhashed.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _views_written_in_request(settings: Any) -> None:
    """Each view written by its own request, so a test reads it back at once; the tally that
    production writes in bulk has its own tests (tests/test_serves_tallied.py)."""
    settings.SERVE_FLUSH_INTERVAL = 0


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """PBKDF2's deliberate slowness buys nothing in tests and costs a third of a second a user."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _no_reranking(settings: Any) -> None:
    """Batches keep every good text: the tiny model's checkpoint is shared by the session, and a
    reranker saved beside it by an evaluation would halve later batches. `reranking` opts in.
    """
    settings.GENERATION_KEEP_SHARE = 1.0


@pytest.fixture(autouse=True)
def _tiny_model_sampling(settings: Any) -> None:
    """Sampling at which the tiny model still writes its records; production runs hotter
    (its reranker keeps the most real half), which would make sampling tests flaky.
    """
    settings.GENERATION_TEMPERATURE_MIN, settings.GENERATION_TEMPERATURE_MAX = 0.7, 1.2
    settings.GENERATION_TOP_P, settings.GENERATION_TOP_K, settings.GENERATION_MIN_P = 0.95, 50, 0.0


@pytest.fixture(autouse=True)
def _float32_sampling(settings: Any) -> None:
    """The tiny model samples in float32 on any CPU, pitches too, so a seed writes the same texts
    on machines with and without native bfloat16 (tests/test_sampler_own_loop.py samples in
    bfloat16, tests/test_int8_pitches.py in int8)."""
    settings.GENERATION_DTYPE = settings.PITCH_DTYPE = "float32"


@pytest.fixture(autouse=True)
def _tiny_model_writes_no_english(settings: Any) -> None:
    """The tiny model writes fragments of its six records, not English: the reader's checks
    (invented words, slips) would hold nearly all of it. Tests of those checks opt back in.
    """
    settings.GENERATION_READER_CHECKS = False


@pytest.fixture
def reranking(settings: Any, trained_checkpoint: Path) -> Iterator[Path]:
    """Reranking on (keep half) by the n-gram critic; the reranker file beside the shared
    checkpoint goes afterwards."""
    from generator.ml.reranking import SCORER_FILE

    settings.GENERATION_KEEP_SHARE = 0.5
    settings.GENERATION_CRITIC = "ngram"
    scorer = trained_checkpoint / SCORER_FILE
    yield scorer
    scorer.unlink(missing_ok=True)


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    """Rate-limit counters and the nudge flag live in the cache (Redis in the services run)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _one_rate_limit_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """django-ratelimit counts in windows that end at a second of its choosing, so a test's
    requests could straddle one and start a new count: its clock stands still in tests."""
    now = time.time()
    monkeypatch.setattr("django_ratelimit.core.time", SimpleNamespace(time=lambda: now))


@pytest.fixture
def no_top_up_nudge(monkeypatch: pytest.MonkeyPatch) -> None:
    """Serving tests leave the broker alone: page views do not ask for a top-up."""
    monkeypatch.setattr("generator.queueing.nudge_top_up", lambda: None)


@pytest.fixture
def netflix_csv(tmp_path: Path) -> Callable[..., Path]:
    """Write a Netflix-format CSV of invented rows (plus any given) and return its path."""

    def write(rows: list[list[str]] | None = None, header: list[str] | None = None) -> Path:
        path = tmp_path / "titles.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header or NETFLIX_COLUMNS)
            writer.writerows(SAMPLE_ROWS if rows is None else rows)
        return path

    return write


@pytest.fixture
def shared_csv() -> Path:
    if not SHARED_CSV.exists():
        pytest.skip(f"{SHARED_CSV} is not present")
    return SHARED_CSV


@pytest.fixture(scope="session")
def trained_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny GPT-2 that writes well-formed records, trained once per test session."""
    from tests.tiny_model import build_trained_tiny_checkpoint

    return build_trained_tiny_checkpoint(tmp_path_factory.mktemp("tiny-trained"))


@pytest.fixture(scope="session")
def trained_llama_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Llama (SmolLM2's architecture) that writes well-formed records, trained once."""
    from tests.tiny_model import build_trained_tiny_checkpoint

    return build_trained_tiny_checkpoint(tmp_path_factory.mktemp("tiny-llama"), llama=True)


@pytest.fixture
def active_run(trained_checkpoint: Path, db: None) -> ModelRun:
    """The active run, with a real checkpoint: for tests that sample."""
    from tests.factories import ModelRunFactory

    return ModelRunFactory.create(
        base="tiny-gpt2", checkpoint_path=str(trained_checkpoint), is_active=True
    )


@pytest.fixture
def tiny_model_genres(db: None) -> None:
    """The genres the tiny model writes, so its records' genres are known ones."""
    from titles.models import Genre

    for name in ("Dramas", "Comedies", "TV Horror", "Docuseries", "Thrillers", "TV Comedies"):
        Genre.objects.create(name=name, slug=Genre.slug_for(name))


# The tiny model's genres (tests/tiny_model.py), by kind: what a pitch may ask for.
PITCH_GENRES = {"movie": ("Dramas", "Comedies", "Thrillers"), "tv": ("TV Horror", "TV Comedies")}


@pytest.fixture
def pitch_genres(db: None) -> dict[str, Any]:
    """Genres by slug, each used by an invented training title of its kind (the form offers those).

    The training descriptions are invented and unlike the tiny model's, so the overfit check
    passes what it writes.
    """
    from tests.factories import GenreFactory, TrainingTitleFactory

    genres = {}
    for kind, names in PITCH_GENRES.items():
        for name in names:
            genre = GenreFactory.create(name=name)
            TrainingTitleFactory.create(kind=kind, genres=[genre])
            genres[genre.slug] = genre
    return genres


# The seed pitches get in tests: their texts are the same every run.
PITCH_SEED = 5


@pytest.fixture
def fixed_pitch_seed(monkeypatch: pytest.MonkeyPatch, settings: Any) -> int:
    """Pitches made through the form get PITCH_SEED, and 16 candidates (the tiny model writes
    too short a text now and then): what it writes for a title is repeatable and passes.
    """
    from generator.models import Pitch

    settings.PITCH_CANDIDATES = 16
    field = Pitch._meta.get_field("seed")
    monkeypatch.setattr(field, "default", lambda: PITCH_SEED)
    # Django caches a field's default callable once a row was created: that cache too.
    monkeypatch.setattr(field, "_get_default", lambda: PITCH_SEED)
    return PITCH_SEED


@pytest.fixture
def unloaded_run(tmp_path: Path, db: None) -> ModelRun:
    """The active run, whose checkpoint does not exist: for tests that must never load a model."""
    from tests.factories import ModelRunFactory

    return ModelRunFactory.create(checkpoint_path=str(tmp_path / "never-written"), is_active=True)

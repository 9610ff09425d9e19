"""Sampling steers clear of real titles: a row is never let close its title on a real one."""

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from transformers import AutoTokenizer

from generator.ml.config import SamplingSettings
from generator.ml.evaluation import parsed
from generator.ml.format import parse_record, prompt_prefix
from generator.ml.overfit import TITLE, Detector, Document
from generator.ml.sampling import Sampler
from generator.ml.title_guard import closing_tokens
from generator.models import GenerationBatch, ModelRun
from generator.pipeline import run_batch
from tests.corpus import fresh_training_detector  # noqa: F401 - the fixture, used below
from tests.factories import TrainingTitleFactory, batch_sampling
from tests.tiny_model import TINY_RECORDS

MEMORISED = [parse_record(record) for record in TINY_RECORDS]
REAL = Detector(Document(str(n), r.title, r.description) for n, r in enumerate(MEMORISED))
SETTINGS = SamplingSettings(temperature=0.8, max_new_tokens=40, seed=11)


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def sampler(request: pytest.FixtureRequest) -> Sampler:
    # SmolLM2's architecture steps through llama_step: the guard works on its loop too.
    checkpoint = request.getfixturevalue(
        "trained_checkpoint" if request.param == "gpt2" else "trained_llama_checkpoint"
    )
    return Sampler(checkpoint, device="cpu")


def _titles(sampler: Sampler, settings: SamplingSettings) -> tuple[list[str], int]:
    """(titles of the parsed samples, how many samples sampling steered off a real title)."""
    samples = sampler.generate(
        prompt_prefix(), 24, settings, chunk_size=6, is_real_title=REAL.has_title
    )
    return [record.title for record in parsed(samples)[0]], sum(s.steered for s in samples)


def test_unguarded_the_tiny_model_writes_the_titles_it_memorised(sampler: Sampler) -> None:
    titles, steered = _titles(sampler, SETTINGS)

    assert sum(REAL.has_title(title) for title in titles) >= len(titles) // 2 > 0
    assert steered == 0


def test_guarded_it_writes_no_real_title_and_says_how_often_it_steered(sampler: Sampler) -> None:
    guarded = replace(SETTINGS, avoid_real_titles=True)

    titles, steered = _titles(sampler, guarded)

    assert titles  # it still finishes records: it writes on past the real title
    assert not [title for title in titles if REAL.has_title(title)]
    assert steered >= len(titles) // 2


def test_the_same_seed_gives_the_same_guarded_texts(sampler: Sampler) -> None:
    guarded = replace(SETTINGS, avoid_real_titles=True)

    assert _titles(sampler, guarded) == _titles(sampler, guarded)


def test_guarding_without_the_real_titles_is_an_error(sampler: Sampler) -> None:
    guarded = replace(SETTINGS, avoid_real_titles=True)

    with pytest.raises(ValueError, match="is_real_title"):
        sampler.generate(prompt_prefix(), 2, guarded)


def test_closing_tokens_are_those_that_hold_the_separator(trained_checkpoint: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(trained_checkpoint)

    closers = closing_tokens(tokenizer)

    ids = [token_id for group in closers.values() for token_id in group]
    assert ids
    for head, group in closers.items():
        for token_id in group:
            assert str(tokenizer.decode([token_id])).startswith(head + "|")
    assert tokenizer.encode(" | ", add_special_tokens=False)[0] in ids


def _batch_titles(active_run: ModelRun, **sampling: Any) -> tuple[list[str], int]:
    """(titles stored, texts held for a real title) of a 16-text batch of the tiny model."""
    batch = GenerationBatch.objects.create(
        model_run=active_run, requested=16, sampling=batch_sampling(seed=9, **sampling)
    )
    done = run_batch(batch.pk)
    assert done is not None and done.status == GenerationBatch.Status.DONE, done
    stored = done.descriptions.all()
    return [row.title for row in stored], stored.filter(overfit_reason=TITLE).count()


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_training_detector", "tiny_model_genres")
def test_a_batch_that_steers_clear_writes_no_real_title_to_hold(active_run: ModelRun) -> None:
    for record in MEMORISED:  # its titles are real ones; the texts under them are other texts
        TrainingTitleFactory.create(kind=record.kind, title=record.title)

    unsteered, held = _batch_titles(active_run)
    steered, held_steered = _batch_titles(active_run, avoid_real_titles=True)

    assert held > 0  # left alone, it closes real titles and the overfit check holds them
    assert steered and held_steered == 0
    assert not [title for title in steered if REAL.has_title(title)]

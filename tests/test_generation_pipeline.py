from typing import Any

import pytest
from django.conf import settings as django_settings

from generator.ml.config import SamplingSettings
from generator.ml.format import prompt_prefix
from generator.ml.sampling import Sampler, get_sampler
from generator.models import GeneratedDescription, GenerationBatch, TextShingle
from generator.pipeline import run_batch
from generator.signatures import normal_hash, shingles
from tests.corpus import fresh_training_detector  # noqa: F401 - the fixture, used by pytestmark
from tests.factories import batch_sampling

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("fresh_training_detector", "tiny_model_genres"),
]

SAMPLING = batch_sampling(seed=1234)


def _ran(batch_id: int) -> GenerationBatch:
    """Run a batch that has work to do: run_batch returns None only for a batch already done."""
    batch = run_batch(batch_id)
    assert batch is not None
    return batch


def _batch(run: Any, requested: int = 16, **fields: Any) -> GenerationBatch:
    return GenerationBatch.objects.create(
        model_run=run, requested=requested, sampling=SAMPLING, **fields
    )


def test_it_stores_accepted_texts_with_their_sampling_settings(active_run: Any) -> None:
    batch = _ran(_batch(active_run).pk)

    assert batch.status == GenerationBatch.Status.DONE
    stored = list(batch.descriptions.all())
    assert stored, batch.rejections
    assert batch.accepted + sum(batch.rejections.values()) == 16
    for description in stored:
        assert description.model_run == active_run
        assert description.temperature == 0.9
        assert description.seed == 1234
        assert description.batch_row is not None and 0 <= description.batch_row < 16
        assert description.genres.exists()
        assert description.status in (  # the overfit check's verdict; PENDING: borderline
            GeneratedDescription.Status.APPROVED,
            GeneratedDescription.Status.PENDING,
            GeneratedDescription.Status.OVERFIT,
        )


def test_a_kind_batch_only_keeps_that_kind(active_run: Any) -> None:
    batch = _ran(_batch(active_run, kind="tv").pk)

    kinds = set(batch.descriptions.values_list("kind", flat=True))
    assert kinds == {"tv"}, batch.rejections


def test_stored_texts_carry_their_overfit_signatures(active_run: Any) -> None:
    batch = _ran(_batch(active_run).pk)

    stored = list(batch.descriptions.all())
    assert stored, batch.rejections
    for description in stored:
        indexed = TextShingle.objects.filter(description=description)
        assert set(indexed.values_list("shingle", flat=True)) == shingles(description.text)
        assert description.normal_hash == normal_hash(description.text)


def test_a_redelivered_batch_creates_no_duplicates(active_run: Any) -> None:
    batch = _ran(_batch(active_run).pk)
    before = sorted(GeneratedDescription.objects.values_list("text_hash", flat=True))
    assert before, batch.rejections
    signatures = TextShingle.objects.count()
    # The broker redelivers when the ack was lost: the batch looks like it is still running.
    GenerationBatch.objects.filter(pk=batch.pk).update(status=GenerationBatch.Status.RUNNING)

    again = _ran(batch.pk)

    assert sorted(GeneratedDescription.objects.values_list("text_hash", flat=True)) == before
    assert again.status == GenerationBatch.Status.DONE
    assert again.rejections.get("duplicate", 0) >= len(before)
    assert TextShingle.objects.count() == signatures


def test_a_done_batch_is_not_run_again(active_run: Any) -> None:
    batch = _ran(_batch(active_run).pk)
    count = GeneratedDescription.objects.count()

    assert run_batch(batch.pk) is None
    assert GeneratedDescription.objects.count() == count


def test_a_crash_before_storing_loses_nothing_and_can_be_rerun(
    active_run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from generator import pipeline

    batch = _batch(active_run)

    def crash(*args: object) -> None:
        raise RuntimeError("worker lost its database connection")

    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "_store", crash)
        with pytest.raises(RuntimeError):
            run_batch(batch.pk)
    batch.refresh_from_db()
    assert batch.status == GenerationBatch.Status.FAILED
    assert "database connection" in batch.error
    assert not GeneratedDescription.objects.exists()
    assert not TextShingle.objects.exists()

    GenerationBatch.objects.filter(pk=batch.pk).update(status=GenerationBatch.Status.QUEUED)
    assert _ran(batch.pk).status == GenerationBatch.Status.DONE
    assert GeneratedDescription.objects.exists()


@pytest.mark.parametrize("model", ["gpt2", "llama"])
def test_stored_settings_reproduce_the_same_text(
    model: str, active_run: Any, request: pytest.FixtureRequest
) -> None:
    if model == "llama":  # SmolLM2's architecture: llama_step, its batch of 16 in chunks of 4
        checkpoint = request.getfixturevalue("trained_llama_checkpoint")
        active_run.checkpoint_path, active_run.batch_size = str(checkpoint), 4
        active_run.save()
    sampling = batch_sampling(seed=1234, min_p=0.07)
    created = GenerationBatch.objects.create(model_run=active_run, requested=16, sampling=sampling)
    batch = _ran(created.pk)
    descriptions = list(batch.descriptions.all())
    assert descriptions, batch.rejections
    first = descriptions[0]
    assert first.seed is not None and first.chunk_size == (4 if model == "llama" else 16)
    assert first.temperature is not None and first.top_p is not None
    assert first.top_k is not None and first.repetition_penalty is not None
    assert first.sampler_version is not None
    settings = SamplingSettings(
        temperature=first.temperature,
        top_p=first.top_p,
        top_k=first.top_k,
        repetition_penalty=first.repetition_penalty,
        min_p=batch.sampling["min_p"],  # kept by the batch, as the token limit is
        max_new_tokens=batch.sampling["max_new_tokens"],
        seed=first.seed,
        sampler_version=first.sampler_version,
    )
    samples = Sampler(active_run.checkpoint_path, device="cpu").generate(
        prompt_prefix(), batch.requested, settings, chunk_size=first.chunk_size
    )

    for description in descriptions:
        assert description.batch_row is not None
        assert description.text in samples[description.batch_row].text
        assert description.title in samples[description.batch_row].text


def test_a_batch_is_chunked_for_the_device_of_the_worker_that_runs_it(active_run: Any) -> None:
    # Created by a process that recorded no chunk size (the beat scheduler, a CPU-only command).
    batch = _ran(_batch(active_run, requested=20).pk)

    assert batch is not None
    device_chunk = get_sampler(
        active_run.checkpoint_path, django_settings.GENERATION_DTYPE
    ).auto_batch_size()
    assert batch.sampling["chunk_size"] == min(20, device_chunk)
    assert batch.accepted + sum(batch.rejections.values()) == 20


def test_a_redelivered_batch_reproduces_its_texts_with_its_recorded_chunk_size(
    active_run: Any,
) -> None:
    # A worker on a bigger device ran the whole batch in one chunk and recorded it.
    batch = GenerationBatch.objects.create(
        model_run=active_run, requested=20, sampling={**SAMPLING, "chunk_size": 20}
    )
    run_batch(batch.pk)
    first = set(GeneratedDescription.objects.values_list("batch_row", "text_hash"))
    assert first
    # The texts are gone (say, a moderator cleared them) and the broker redelivers the batch.
    GeneratedDescription.objects.all().delete()
    GenerationBatch.objects.filter(pk=batch.pk).update(status=GenerationBatch.Status.RUNNING)

    again = _ran(batch.pk)

    assert again is not None
    assert set(GeneratedDescription.objects.values_list("batch_row", "text_hash")) == first
    assert again.sampling["chunk_size"] == 20
    # This CPU worker's own chunk size would have written other texts for the later rows.
    sampler = Sampler(active_run.checkpoint_path, device="cpu")
    settings = SamplingSettings(**SAMPLING)
    whole = sampler.generate(prompt_prefix(), 20, settings, chunk_size=20)
    chunked = sampler.generate(prompt_prefix(), 20, settings, chunk_size=sampler.auto_batch_size())
    assert [s.text for s in whole[16:]] != [s.text for s in chunked[16:]]

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch

from generator.ml.config import SamplingSettings
from generator.ml.format import prompt_prefix
from generator.ml.sampling import Sampler
from generator.models import GenerationBatch, ModelRun
from generator.pipeline import run_batch
from tests.factories import GenreFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def memory_for(monkeypatch: pytest.MonkeyPatch) -> Callable[[int | None], None]:
    """Make every sampler's chunks above `rows` raise the device's out-of-memory error."""
    real = Sampler._generate_chunk

    def limit(rows: int | None) -> None:
        def chunk(
            self: Sampler, prefix: str, prompt: torch.Tensor, count: int, *args: Any, **kwargs: Any
        ) -> Any:
            if rows is not None and count > rows:
                raise torch.OutOfMemoryError(f"simulated: {count} rows > {rows}")
            return real(self, prefix, prompt, count, *args, **kwargs)

        monkeypatch.setattr(Sampler, "_generate_chunk", chunk)

    return limit


SAMPLING = {
    "temperature": 1.0,
    "top_p": 0.95,
    "top_k": 50,
    "repetition_penalty": 1.0,
    "max_new_tokens": 40,
    "seed": 99,
}


def test_out_of_memory_halves_the_batch_and_retries(
    active_run: ModelRun, memory_for: Callable[[int | None], None]
) -> None:
    for name in ("Dramas", "Comedies", "TV Horror", "Docuseries", "Thrillers", "TV Comedies"):
        GenreFactory.create(name=name)
    memory_for(4)
    batch = GenerationBatch.objects.create(model_run=active_run, requested=16, sampling=SAMPLING)

    done = run_batch(batch.pk)

    assert done is not None
    assert done.status == GenerationBatch.Status.DONE
    assert done.sampling["chunk_size"] == 4
    assert done.accepted + sum(done.rejections.values()) == 16


def test_chunked_texts_are_reproduced_from_seed_chunk_size_and_row(
    trained_checkpoint: Path, memory_for: Callable[[int | None], None]
) -> None:
    sampler = Sampler(trained_checkpoint, device="cpu")
    settings = SamplingSettings(temperature=1.0, max_new_tokens=40, seed=5)
    memory_for(3)

    chunked = sampler.generate(prompt_prefix(), 8, settings)

    assert sampler.last_chunk_size == 2
    memory_for(None)
    # Row 5 sits in chunk 2 (rows 4-5) of size 2: seed + 2, row 1 of that chunk.
    again = sampler.generate(prompt_prefix(), 2, replace(settings, seed=7))
    assert chunked[5].text == again[1].text
    assert [sample.row for sample in chunked] == list(range(8))

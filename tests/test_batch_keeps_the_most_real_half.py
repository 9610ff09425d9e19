"""With the run's reranker beside its checkpoint, a batch keeps the half of its servable texts
(good, and not held as copies) that reads most real; the rest are counted as "less_real". Without
one, it keeps them all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from generator.ml.reranking import RealismScorer
from generator.models import GenerationBatch
from generator.pipeline import run_batch
from generator.writing import LESS_REAL
from tests.corpus import fresh_training_detector  # noqa: F401 - the fixture, used by pytestmark
from tests.factories import batch_sampling, invented_text

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("fresh_training_detector", "tiny_model_genres"),
]

SAMPLING = batch_sampling(seed=4321)


def _run(active_run: Any) -> GenerationBatch:
    batch = GenerationBatch.objects.create(model_run=active_run, requested=16, sampling=SAMPLING)
    done = run_batch(batch.pk)
    assert done is not None and done.status == GenerationBatch.Status.DONE, done
    return done


def test_a_batch_keeps_the_more_real_half_of_its_servable_texts(
    active_run: Any, reranking: Path
) -> None:
    generated = [invented_text(n, "generated") for n in range(12)]
    RealismScorer.fit(generated, [invented_text(n, "catalogue") for n in range(12)]).save(
        reranking.parent
    )

    batch = _run(active_run)

    kept, dropped, held = batch.accepted, batch.rejections[LESS_REAL], batch.rejections["overfit"]
    assert kept >= 1 and kept == round((kept + dropped) * 0.5)
    assert batch.accepted + sum(batch.rejections.values()) == 16
    # Copies are held before reranking (they take no kept place) and stored for moderators.
    assert batch.descriptions.count() == kept + held
    assert batch.descriptions.filter(status="overfit").count() == held


def test_a_run_without_a_reranker_keeps_every_good_text(active_run: Any, reranking: Path) -> None:
    assert not reranking.exists()

    batch = _run(active_run)

    assert LESS_REAL not in batch.rejections
    assert batch.accepted + sum(batch.rejections.values()) == 16

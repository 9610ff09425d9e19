"""manage.py fit_critic: the n-gram critic learns from what moderators and visitors did not
believe, once there are enough verdicts (synthetic feedback on invented texts)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from generator.ml.reranking import SCORER_FILE, RealismScorer
from generator.models import GeneratedDescription, ModelRun
from tests.factories import (
    GeneratedDescriptionFactory,
    ModelRunFactory,
    TrainingTitleFactory,
    invented_text,
)

pytestmark = pytest.mark.django_db
DOUBTED = "A mysterious clockwork baron schemes beneath the harbour of {n} lanterns."
BELIEVED = "Two sisters reopen their late mother's bakery in a small coastal town, year {n}."


@pytest.fixture
def run(tmp_path: Path) -> ModelRun:
    for number in range(40):
        TrainingTitleFactory.create(description=invented_text(number, "real"))
    return ModelRunFactory.create(
        checkpoint_path=str(tmp_path),
        hyperparameters={"seed": 3, "eval_fraction": 0.1, "data": "database", "limit": None},
    )


def _texts(run: ModelRun, template: str, count: int, **fields: object) -> None:
    for number in range(count):
        GeneratedDescriptionFactory.create(model_run=run, text=template.format(n=number), **fields)


def test_rejections_reports_and_down_votes_teach_the_critic(run: ModelRun) -> None:
    _texts(run, "Generated story {n} about a town.", 20)
    _texts(run, DOUBTED, 4, status=GeneratedDescription.Status.REJECTED)
    _texts(run, DOUBTED.replace("baron", "duke"), 4, report_count=1)
    _texts(run, DOUBTED.replace("baron", "count"), 4, down_votes=3, up_votes=1)
    _texts(run, BELIEVED, 12, up_votes=4)
    out = io.StringIO()

    call_command("fit_critic", f"--run={run.pk}", stdout=out)

    assert "12 doubted and 12 believed" in out.getvalue()
    scorer = RealismScorer.load(Path(run.checkpoint_path))
    assert scorer is not None
    doubts = scorer.generated_likelihood([DOUBTED.format(n=99), BELIEVED.format(n=99)])
    assert doubts[0] > doubts[1]


def test_too_few_verdicts_change_nothing(run: ModelRun) -> None:
    _texts(run, "Generated story {n} about a town.", 20)
    _texts(run, DOUBTED, 3, status=GeneratedDescription.Status.REJECTED)

    with pytest.raises(CommandError, match="3 doubted and 0 believed"):
        call_command("fit_critic", f"--run={run.pk}")
    assert not (Path(run.checkpoint_path) / SCORER_FILE).exists()

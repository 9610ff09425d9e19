"""`manage.py bootstrap --titles CSV` (what `dev.py run --titles` calls): imports the titles and
queues exactly one default fine-tune on the train queue, flagged to activate when good; again, it
imports and queues nothing."""

from __future__ import annotations

from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from celery import current_app
from celery.canvas import Signature
from django.core.management import CommandError, call_command

from generator import queueing
from generator.ml.bases import DEFAULT_BASE
from generator.ml.checkpoints import CHECKPOINT_PREFIX, RESUME_STATE
from generator.ml.config import TrainingConfig
from generator.models import ModelRun
from tests.factories import ModelRunFactory
from titles.models import TrainingTitle

pytestmark = pytest.mark.django_db


def routed_queue(signature: Signature) -> str:
    """The queue Celery's router sends `signature` to, as the web process would send it."""
    route = current_app.amqp.router.route(dict(signature.options), str(signature.task))
    return str(route["queue"].name)


def bootstrap(path: Path, capture: Any) -> tuple[str, list[Signature]]:
    """Run the command; its output and the task signatures it queued on commit."""
    out = StringIO()
    with capture(execute=False) as callbacks:
        call_command("bootstrap", "--titles", str(path), stdout=out, stderr=StringIO())
    # Each on-commit callback is a signature's apply_async, bound to the signature it sends.
    return out.getvalue(), [callback.__self__ for callback in callbacks]


def test_it_imports_the_titles_and_queues_one_flagged_default_run(
    netflix_csv: Callable[..., Path], django_capture_on_commit_callbacks: Any
) -> None:
    output, queued = bootstrap(netflix_csv(), django_capture_on_commit_callbacks)

    assert TrainingTitle.objects.count() == 3
    run = ModelRun.objects.get()
    assert run.status == ModelRun.Status.QUEUED
    assert run.base == DEFAULT_BASE
    assert run.hyperparameters == {**TrainingConfig().as_dict(), "data": "database", "limit": None}
    assert run.activate_when_good
    assert [(s.task, s.args, routed_queue(s)) for s in queued] == [
        (queueing.FINETUNE, (run.pk,), "train")
    ]
    assert "Imported 3 new titles" in output
    assert f"Queued fine-tune run #{run.pk}" in output


def test_a_second_call_imports_nothing_and_queues_nothing(
    netflix_csv: Callable[..., Path], django_capture_on_commit_callbacks: Any
) -> None:
    path = netflix_csv()
    bootstrap(path, django_capture_on_commit_callbacks)

    output, queued = bootstrap(path, django_capture_on_commit_callbacks)

    run = ModelRun.objects.get()
    assert queued == []
    assert TrainingTitle.objects.count() == 3
    assert "Nothing new: all 3 titles" in output
    assert f"Run #{run.pk} is already queued: nothing queued." in output


def test_an_active_model_means_nothing_to_train(
    netflix_csv: Callable[..., Path], django_capture_on_commit_callbacks: Any
) -> None:
    active = ModelRunFactory.create(is_active=True, checkpoint_path="/models/final")

    output, queued = bootstrap(netflix_csv(), django_capture_on_commit_callbacks)

    assert queued == [] and list(ModelRun.objects.all()) == [active]
    assert f"Run #{active.pk} is the active model: nothing to train." in output


def test_a_finished_flagged_run_is_not_trained_again(
    netflix_csv: Callable[..., Path], django_capture_on_commit_callbacks: Any
) -> None:
    refused = ModelRunFactory.create(
        activate_when_good=True, activation="refused", activation_problems="copy rate"
    )

    output, queued = bootstrap(netflix_csv(), django_capture_on_commit_callbacks)

    assert queued == [] and list(ModelRun.objects.all()) == [refused]
    assert "nothing queued" in output


def test_an_interrupted_flagged_run_resumes_from_its_checkpoint(
    netflix_csv: Callable[..., Path], django_capture_on_commit_callbacks: Any, tmp_path: Path
) -> None:
    # What Trainer leaves: a checkpoint directory with its state (generator.ml.checkpoints).
    checkpoint = tmp_path / "run-00001" / f"{CHECKPOINT_PREFIX}40"
    checkpoint.mkdir(parents=True)
    (checkpoint / RESUME_STATE).write_text("{}")
    interrupted = ModelRunFactory.create(
        status=ModelRun.Status.FAILED,
        step=40,
        checkpoint_path=str(checkpoint),
        activate_when_good=True,
    )

    output, queued = bootstrap(netflix_csv(), django_capture_on_commit_callbacks)

    interrupted.refresh_from_db()
    assert interrupted.status == ModelRun.Status.QUEUED
    assert ModelRun.objects.count() == 1
    assert [(s.task, s.args) for s in queued] == [(queueing.FINETUNE, (interrupted.pk,))]
    assert f"Run #{interrupted.pk} resumes training from its checkpoint." in output


def test_a_bad_file_is_a_clear_error_and_no_run(
    netflix_csv: Callable[..., Path], django_capture_on_commit_callbacks: Any
) -> None:
    path = netflix_csv(header=["show_id", "title"])

    with pytest.raises(CommandError, match="Nothing was imported"):
        bootstrap(path, django_capture_on_commit_callbacks)

    assert not TrainingTitle.objects.exists()
    assert not ModelRun.objects.exists()


def test_a_missing_file_is_a_clear_error_and_no_run(
    tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    with pytest.raises(CommandError, match="no-such.csv"):
        bootstrap(tmp_path / "no-such.csv", django_capture_on_commit_callbacks)

    assert not ModelRun.objects.exists()

"""Realism of a run, measured against real texts it never trained on and stored on the run."""

import importlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from config.celery import app as celery_app
from generator import queueing
from generator.finetune_runs import training_records
from generator.ml import sampling, splits
from generator.ml.format import format_record, parse_record
from generator.ml.text import normalise
from generator.models import ModelRun, Pitch
from generator.run_evaluation import (
    ALL_PROMPT_SHARE,
    EvaluationError,
    evaluate_run,
    held_out,
    prompt_counts,
    sampling_plan,
)
from tests.corpus import fresh_training_detector  # noqa: F401 - the fixture, used by pytestmark
from tests.factories import GenreFactory, PitchFactory, TrainingTitleFactory, invented_text
from tests.tiny_model import TINY_RECORDS
from titles.models import Kind, TrainingTitle

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_training_detector")]

SPLIT = {"seed": 3, "eval_fraction": 0.2, "max_eval_records": 200}


def _with_data(run: ModelRun, **hyperparameters: Any) -> ModelRun:
    run.hyperparameters = {**SPLIT, "data": "database", "limit": None, **hyperparameters}
    run.save(update_fields=["hyperparameters"])
    return run


def _invented_titles(count: int) -> list[TrainingTitle]:
    kinds = (Kind.MOVIE, Kind.TV_SHOW)
    return [
        TrainingTitleFactory.create(kind=kinds[n % 2], description=invented_text(n, "real"))
        for n in range(count)
    ]


def _tiny_records_as_titles() -> None:
    """The six records the tiny model memorised, as the training data: it writes copies."""
    for record in map(parse_record, TINY_RECORDS):
        TrainingTitleFactory.create(
            kind=record.kind,
            title=record.title,
            description=record.description,
            genres=[GenreFactory.create(name=name) for name in record.genres],
        )


def test_real_figures_are_stored_on_the_run(active_run: ModelRun) -> None:
    _invented_titles(30)
    run = _with_data(active_run, limit=20)
    ModelRun.objects.filter(pk=run.pk).update(eval_loss_curve=[[5, 3.1], [10, 2.5]])

    realism = evaluate_run(run.pk, samples=24, seed=0)

    run.refresh_from_db()
    stored = run.realism
    assert stored["samples"] == realism.samples == 24
    assert stored["copy_rate"] == realism.copy_rate
    assert stored["held_out"] == {"eval_split": 4, "beyond_limit": 10}  # round(20 * 0.2), 30 - 20
    assert stored["real_texts"] == 14
    assert stored["eval_loss"] == 2.5
    assert datetime.fromisoformat(stored["evaluated_at"]).tzinfo is not None
    assert realism.discriminator_auc is not None and 0.0 <= realism.discriminator_auc <= 1.0
    for figure in ("distinct_2", "real_distinct_2", "length_distance", "format_failure_rate"):
        assert 0.0 <= stored[figure] <= 1.0, figure
    assert stored["real_distinct_2"] > 0.0
    # The tiny model writes its own six records, none of them these invented titles.
    assert realism.copy_rate < 0.2
    sampling = stored["sampling"]
    assert sampling["prompts"] == {"all": 12, "movie": 6, "tv": 6}  # the trained kinds are 50/50
    assert sum(count for _prompt, count, _t, _s in sampling["groups"]) == 24
    assert (sampling["top_p"], sampling["top_k"], sampling["max_new_tokens"]) == (0.95, 50, 64)
    assert sampling["min_p"] == 0.0  # the tiny model's, from tests/conftest.py
    for _prompt, _count, temperature, _seed in sampling["groups"]:
        assert sampling["temperature_min"] <= temperature <= sampling["temperature_max"]


@pytest.mark.usefixtures("fixed_pitch_seed")
def test_the_same_seed_gives_the_same_figures_also_with_a_pitch_written_midway(
    active_run: ModelRun, pitch_genres: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _invented_titles(30)
    run = _with_data(active_run)
    first = evaluate_run(run.pk, samples=12, seed=5)
    monkeypatch.setattr(sampling, "PAUSE_EVERY_SECONDS", 0.0)
    pitch = PitchFactory.create(genre=pitch_genres["dramas"])

    again = evaluate_run(run.pk, samples=12, seed=5)

    assert first == again
    pitch.refresh_from_db()
    assert pitch.status == Pitch.Status.DONE, pitch.error


@override_settings(OVERFIT_CHECK_TITLES=False)  # real titles allowed: sampling does not steer
def test_a_run_that_copies_its_training_data_gets_a_high_copy_rate(active_run: ModelRun) -> None:
    _tiny_records_as_titles()
    run = _with_data(active_run)

    realism = evaluate_run(run.pk, samples=24, seed=0)

    assert realism.copy_rate >= 0.5
    assert realism.real_title_rate >= 0.5
    run.refresh_from_db()
    assert run.realism["copy_rate"] == realism.copy_rate
    assert run.realism["held_out"] == {"eval_split": 1, "beyond_limit": 0}
    parsed = round(24 * (1 - realism.format_failure_rate))
    # Batches hold copies: what the evaluation scores as served has none of them.
    assert run.realism["served_texts"] <= parsed - round(parsed * realism.copy_rate)


def test_sampling_steers_a_copying_run_off_real_titles(active_run: ModelRun) -> None:
    _tiny_records_as_titles()
    run = _with_data(active_run)

    realism = evaluate_run(run.pk, samples=24, seed=0)

    assert realism.real_title_rate == 0.0
    run.refresh_from_db()
    assert run.realism["sampling"]["avoid_real_titles"] is True
    assert run.realism["steered_title_rate"] > 0  # unsteered, it wrote real titles (above)


def test_held_out_texts_are_never_texts_the_run_trained_on(active_run: ModelRun) -> None:
    _invented_titles(30)
    train, split = splits.split_records(training_records("database", 25), 0.2, 3, 200)
    trained_text = parse_record(train[0]).description
    split_text = parse_record(split[0]).description
    # Past the limit the catalogue repeats a trained description (differently spaced and cased)
    # and a held-out one under other titles.
    TrainingTitleFactory.create(kind=Kind.TV_SHOW, description=f"  {trained_text.upper()} ")
    TrainingTitleFactory.create(kind=Kind.MOVIE, description=split_text)
    run = _with_data(active_run, limit=25)

    real = held_out(run)

    trained = {normalise(parse_record(record).description) for record in train}
    assert {normalise(text) for text in real.descriptions}.isdisjoint(trained)
    assert set(real.trained) == {parse_record(record).description for record in train}
    assert real.from_split == len(split) == 5  # round(25 * 0.2)
    assert real.beyond_limit == 5 + 1  # titles 26..30 and the repeat of a held-out text
    assert real.descriptions.count(split_text) == 2


def test_held_out_texts_of_a_file_run_include_titles_past_its_limit(
    active_run: ModelRun, netflix_csv: Callable[..., Path]
) -> None:
    rows = [
        [f"f{n}", "Movie", f"File Title {n}", "", "", "", "", "2020", "PG", "", "Dramas", text]
        for n, text in enumerate(invented_text(number, "file") for number in range(12))
    ]
    run = _with_data(active_run, data=str(netflix_csv(rows)), limit=10)

    real = held_out(run)

    assert (real.from_split, real.beyond_limit) == (2, 2)
    assert invented_text(10, "file") in real.descriptions
    assert invented_text(11, "file") in real.descriptions
    assert not set(real.descriptions) & set(real.trained)
    assert real.trained_kinds == {"movie": 8}


def test_the_split_is_the_one_training_uses() -> None:
    training = pytest.importorskip("generator.ml.training")
    records = [format_record("movie", [], f"T{n}", invented_text(n)) for n in range(57)]

    for seed in (0, 3, 42):
        assert splits.split_records(records, 0.1, seed, 4) == training.split_records(
            records, 0.1, seed, 4
        )
        assert splits.split_records(records, 0.3, seed, 200) == training.split_records(
            records, 0.3, seed, 200
        )


def test_a_run_with_nothing_held_out_is_refused(active_run: ModelRun) -> None:
    text = invented_text(1)
    for _ in range(4):
        TrainingTitleFactory.create(description=text)
    run = _with_data(active_run)

    with pytest.raises(EvaluationError, match="no real description it never trained on"):
        evaluate_run(run.pk, samples=4)
    assert ModelRun.objects.get(pk=run.pk).realism == {}


def test_samples_follow_the_trained_kinds_and_the_production_settings() -> None:
    assert prompt_counts(300, {"movie": 70, "tv": 30}) == {"all": 150, "movie": 105, "tv": 45}
    assert prompt_counts(10, {"": 5}) == {"all": 10}  # plain-text records name no kind
    assert ALL_PROMPT_SHARE == 0.5

    with override_settings(
        GENERATION_TEMPERATURE_MIN=0.5, GENERATION_TEMPERATURE_MAX=1.5, GENERATION_TOP_K=7
    ):
        plan = sampling_plan(300, {"movie": 70, "tv": 30}, seed=9)
        assert plan == sampling_plan(300, {"movie": 70, "tv": 30}, seed=9)

    assert sum(group.count for group in plan) == 300
    temperatures = sorted(group.sampling.temperature for group in plan)
    assert temperatures[0] >= 0.5 and temperatures[-1] <= 1.5
    # One draw per slice of the range: the draws spread over all of it.
    assert temperatures[0] < 0.6 and temperatures[-1] > 1.4
    assert {group.sampling.top_k for group in plan} == {7}
    assert len({group.sampling.seed for group in plan}) == len(plan)


def test_the_admin_helper_queues_the_task_on_the_gpu_queue(
    active_run: ModelRun, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    _invented_titles(30)
    run = _with_data(active_run)
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    # The worker's autodiscovery registers the task; without it the signature is only a name.
    importlib.import_module("generator.tasks")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        queueing.evaluate_run_on_commit(run.pk, samples=8, seed=1)

    assert len(callbacks) == 1
    run.refresh_from_db()
    assert run.realism["samples"] == 8 and run.realism["seed"] == 1
    route = celery_app.amqp.router.route({}, queueing.EVALUATE_RUN, args=(run.pk,), kwargs={})
    assert route["queue"].name == "gpu"


def test_the_task_logs_a_run_it_cannot_evaluate_and_does_not_retry(
    db: None, caplog: pytest.LogCaptureFixture
) -> None:
    from generator.tasks import evaluate_run as task

    assert task.apply(args=(12345,)).get() is None
    assert "no model run #12345" in caplog.text


def test_with_reranking_it_fits_the_runs_reranker_and_reports_what_batches_keep(
    active_run: ModelRun, reranking: Path
) -> None:
    _invented_titles(30)
    run = _with_data(active_run)

    realism = evaluate_run(run.pk, samples=24, seed=0)

    run.refresh_from_db()
    stored = run.realism
    assert reranking.is_file()  # beside the checkpoint, where batches and pitches load it
    assert stored["reranking"] == {"keep_share": 0.5, "critic": "ngram"}
    before = stored["before_reranking"]
    assert before["samples"] == stored["samples"] == realism.samples == 24
    assert stored["format_failure_rate"] == before["format_failure_rate"]
    assert stored["discriminator_auc"] == realism.discriminator_auc

"""A run keeps its best weights by eval loss; it stops when it stops learning or time is up."""

from pathlib import Path
from typing import Any

import pytest
import torch
from django.core.management import call_command
from transformers import (
    AutoModelForCausalLM,
    PreTrainedModel,
    TrainerCallback,
    TrainerControl,
    TrainerState,
    TrainingArguments,
)

from generator.finetune_execution import execute_run
from generator.finetune_runs import create_run
from generator.ml.checkpoints import FINAL_CHECKPOINT
from generator.ml.training import BEST_WEIGHTS, FineTune, StopSignal, TrainingInterrupted
from generator.models import ModelRun
from tests.finetune_helpers import StepLog, add_tiny_titles, tiny_command_arguments, tiny_config
from tests.tiny_model import TINY_RECORDS, build_tiny_checkpoint

RECORDS = TINY_RECORDS * 4
# An eval after every step, so the best step and the stop are exact.
CONFIG = tiny_config(steps=8, eval_every=1, save_every=1, sample_every=0, patience=0)


class Sabotage(TrainerCallback):
    """From step `first` on, noise is added to every weight after each step: eval loss soars."""

    def __init__(self, first: int) -> None:
        self.first = first

    def on_step_end(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        model: PreTrainedModel | None = None,
        **kwargs: Any,
    ) -> None:
        if state.global_step < self.first or model is None:
            return
        generator = torch.Generator().manual_seed(state.global_step)
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.add_(torch.randn(parameter.shape, generator=generator))


class WeightsAt(TrainerCallback):
    """The weights as they were evaluated at `step`."""

    def __init__(self, step: int) -> None:
        self.step = step
        self.weights: dict[str, torch.Tensor] = {}

    def on_evaluate(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        model: PreTrainedModel | None = None,
        **kwargs: Any,
    ) -> None:
        if state.global_step == self.step and model is not None:
            self.weights = {k: v.detach().clone() for k, v in model.state_dict().items()}


def _assert_same_weights(path: Path, expected: dict[str, torch.Tensor]) -> None:
    saved = AutoModelForCausalLM.from_pretrained(path).state_dict()
    assert expected and saved.keys() == expected.keys()
    for name, tensor in expected.items():
        assert torch.equal(saved[name], tensor), name


def test_a_run_that_stops_learning_stops_early_with_its_best_weights(tmp_path: Path) -> None:
    log, best = StepLog(), WeightsAt(1)

    result = FineTune(
        build_tiny_checkpoint(tmp_path / "base"),
        RECORDS,
        tmp_path / "run",
        tiny_config(steps=8, eval_every=1, save_every=1, sample_every=0, patience=2),
        callbacks=[log, Sabotage(first=2), best],
        show_progress=False,
    ).run()

    assert [step for step, _ in log.evals] == [1, 2, 3]
    assert log.evals[1][1] > log.evals[0][1] and log.evals[2][1] > log.evals[0][1]
    assert result.step == 3 and log.steps == [1, 2, 3]
    assert result.best_step == 1 and result.eval_loss == log.evals[0][1]
    assert "early stop at step 3" in result.stop_reason and "in 2 evals" in result.stop_reason
    assert result.checkpoint == tmp_path / "run" / FINAL_CHECKPOINT
    _assert_same_weights(result.checkpoint, best.weights)
    # The samples logged last are the saved (best) weights', written after the stop.
    assert log.samples and log.samples[-1][0] == 3


def test_patience_zero_runs_every_step_and_still_keeps_the_best_weights(tmp_path: Path) -> None:
    log, best = StepLog(), WeightsAt(1)

    result = FineTune(
        build_tiny_checkpoint(tmp_path / "base"),
        RECORDS,
        tmp_path / "run",
        CONFIG,
        callbacks=[log, Sabotage(first=2), best],
        show_progress=False,
    ).run()

    assert result.step == 8 and log.steps == list(range(1, 9))
    assert [step for step, _ in log.evals] == list(range(1, 9))
    assert result.stop_reason == "" and result.best_step == 1
    _assert_same_weights(result.checkpoint, best.weights)


def test_a_resumed_run_still_ends_with_the_best_weights_seen_before_the_stop(
    tmp_path: Path,
) -> None:
    base = build_tiny_checkpoint(tmp_path / "base")
    stop, best = StopSignal(), WeightsAt(1)

    class StopAtThree(TrainerCallback):
        def on_step_end(
            self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
        ) -> None:
            if state.global_step == 3:
                stop.request("test stop")

    with pytest.raises(TrainingInterrupted) as interrupted:
        FineTune(
            base,
            RECORDS,
            tmp_path / "run",
            CONFIG,
            callbacks=[Sabotage(first=2), best, StopAtThree()],
            stop=stop,
            show_progress=False,
        ).run()
    checkpoint = interrupted.value.checkpoint
    assert checkpoint is not None and (checkpoint / BEST_WEIGHTS).is_file()

    result = FineTune(
        checkpoint,
        RECORDS,
        tmp_path / "run",
        CONFIG,
        callbacks=[Sabotage(first=2)],
        resume_from=checkpoint,
        show_progress=False,
    ).run()

    assert result.step == 8 and result.best_step == 1
    _assert_same_weights(result.checkpoint, best.weights)


@pytest.fixture
def base(tmp_path: Path, settings: Any, db: None) -> Path:
    settings.MODEL_DIR = tmp_path / "models"
    add_tiny_titles()
    return build_tiny_checkpoint(tmp_path / "base")


def test_an_early_stopped_run_is_done_and_says_why(base: Path) -> None:
    run = create_run(tiny_config(steps=8, eval_every=1, save_every=4, patience=1), base=str(base))

    run = execute_run(run.pk, callbacks=[Sabotage(first=3)], show_progress=False)

    assert run.status == ModelRun.Status.DONE, run.error
    assert run.step == 3 and run.total_steps == 8
    assert run.hyperparameters["patience"] == 1
    assert run.best_step == 2
    assert run.stop_reason.startswith("early stop at step 3")
    assert run.best_eval_loss == pytest.approx(run.eval_loss_curve[1][1], 1e-4)
    assert run.checkpoint_path.endswith(FINAL_CHECKPOINT)


def test_the_time_budget_stops_a_run_cleanly_with_a_final_checkpoint(
    base: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command(
        "finetune",
        *tiny_command_arguments(base, tiny_config(steps=8, eval_every=4)),
        *("--max-minutes", "0.0001", "--no-evaluate"),
        verbosity=1,
    )

    run = ModelRun.objects.get()
    assert run.status == ModelRun.Status.DONE, run.error
    assert run.step == 1 and run.hyperparameters["max_minutes"] == 0.0001
    assert run.stop_reason == "time budget of 0.0001 minutes spent at step 1"
    # The stopping step is evaluated, so the saved weights are measured ones.
    assert [point[0] for point in run.eval_loss_curve] == [1]
    assert run.best_step == 1
    assert (Path(run.checkpoint_path) / "config.json").is_file()
    assert "stopped early: time budget" in capsys.readouterr().out

"""A run stopped early keeps its best weights: its eval loss is theirs, not the last eval's."""

from __future__ import annotations

from tests.factories import ModelRunFactory


def test_an_early_stopped_run_reports_the_loss_of_its_best_eval() -> None:
    run = ModelRunFactory.build(
        eval_loss_curve=[[50, 2.61], [100, 2.48], [150, 2.52], [200, 2.55]],
        best_step=100,
        best_eval_loss=2.48,
    )

    assert run.last_eval_loss == 2.55
    assert run.kept_eval_loss == 2.48


def test_a_run_without_a_best_eval_reports_its_last_one() -> None:
    run = ModelRunFactory.build(eval_loss_curve=[[50, 2.61], [100, 2.48]], hyperparameters={})

    assert run.kept_eval_loss == 2.48
    assert ModelRunFactory.build(eval_loss_curve=[], hyperparameters={}).kept_eval_loss is None

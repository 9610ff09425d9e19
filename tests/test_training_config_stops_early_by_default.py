"""The default recipe stops early on held-out loss and within its hour; both can be turned off."""

from __future__ import annotations

import pytest

from generator.ml.config import ConfigError, TrainingConfig


def test_the_default_recipe_evaluates_and_stops_after_four_evals_without_progress() -> None:
    config = TrainingConfig.from_given({})

    assert (config.eval_every, config.patience) == (50, 4)
    # 50 minutes of training leave the evaluation time to end within the hour on a 2-core CPU.
    assert config.max_minutes == 50


def test_max_minutes_zero_means_no_budget() -> None:
    assert TrainingConfig.from_given({"max_minutes": 0}).max_minutes == 0


def test_no_evals_with_the_default_patience_is_allowed() -> None:
    config = TrainingConfig.from_given({"eval_every": 0})

    assert config.eval_every == 0


def test_a_patience_asked_for_needs_evals() -> None:
    with pytest.raises(ConfigError, match="needs eval_every above 0") as error:
        TrainingConfig.from_given({"eval_every": 0, "patience": 3})

    assert error.value.field == "patience"


def test_patience_zero_turns_early_stopping_off_with_or_without_evals() -> None:
    assert TrainingConfig.from_given({"eval_every": 0, "patience": 0}).patience == 0

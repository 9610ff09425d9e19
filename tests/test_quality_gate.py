"""The quality gate: which checks a run's realism fails, and on which figures a new run is worse."""

from typing import Any

import pytest

from generator.models import ModelRun
from generator.quality_gate import (
    activation_problems,
    compare,
    gate,
    run_activation_problems,
)
from tests.factories import PASSING_REALISM

GOOD = PASSING_REALISM


def test_a_run_within_every_threshold_passes() -> None:
    assert gate(GOOD) == []


@pytest.mark.parametrize(
    "change, failure",
    [
        ({"discriminator_auc": 0.76}, "discriminator AUC 0.760 is above 0.750"),
        ({"discriminator_auc": None}, "discriminator AUC not measured (too few texts)"),
        # 0.70 / 0.85 = 82% of the real texts' distinct-2.
        ({"distinct_2": 0.70}, "distinct-2 is 82% of the real texts', below 85%"),
        ({"real_title_rate": 0.04}, "real-title rate 4.0% is above 3.0%"),
        ({"copy_rate": 7 / 300}, "copy rate 2.3% is above 2.0%"),
    ],
)
def test_each_threshold_fails_on_its_own(change: dict[str, Any], failure: str) -> None:
    assert gate({**GOOD, **change}) == [failure]


def test_a_run_never_evaluated_fails() -> None:
    assert gate({}) == ["not evaluated yet"]


def test_thresholds_come_from_the_settings(settings: Any) -> None:
    settings.QUALITY_MAX_AUC = 0.6
    settings.QUALITY_MAX_COPY_RATE = 0.01

    assert gate({**GOOD, "copy_rate": 0.005}) == ["discriminator AUC 0.620 is above 0.600"]


def test_compare_lists_the_gated_figures_that_got_worse() -> None:
    worse = {**GOOD, "discriminator_auc": 0.70, "distinct_2": 0.70, "copy_rate": 0.02}

    assert compare(worse, GOOD) == [
        "discriminator AUC: 0.700 against the active run's 0.620",
        "distinct-2 (share of real): 0.824 against the active run's 0.941",
        "copy rate: 0.020 against the active run's 0.000",
    ]
    assert compare(GOOD, worse) == []


def test_compare_ignores_sampling_noise_and_unmeasured_active_figures() -> None:
    assert compare({**GOOD, "discriminator_auc": 0.625}, GOOD) == []
    assert compare(GOOD, {**GOOD, "discriminator_auc": None}) == []
    assert compare({**GOOD, "discriminator_auc": None}, GOOD) == [
        "discriminator AUC: not measured, the active run's is 0.620"
    ]


def test_activation_needs_the_gate_and_no_worse_figures() -> None:
    assert activation_problems(GOOD, None) == []
    assert activation_problems(GOOD, {}) == []  # an active run never evaluated
    assert activation_problems(
        {**GOOD, "real_title_rate": 0.03}, {**GOOD, "real_title_rate": 0}
    ) == ["worse than the active run: real-title rate: 0.030 against the active run's 0.000"]


@pytest.mark.django_db
def test_a_run_is_compared_with_the_active_run_but_not_with_itself() -> None:
    active = ModelRun.objects.create(
        status=ModelRun.Status.DONE, checkpoint_path="/m/a", is_active=True, realism=GOOD
    )
    worse = ModelRun.objects.create(
        status=ModelRun.Status.DONE,
        checkpoint_path="/m/b",
        realism={**GOOD, "discriminator_auc": 0.74},
    )

    assert run_activation_problems(active) == []
    assert run_activation_problems(worse) == [
        "worse than the active run: discriminator AUC: 0.740 against the active run's 0.620"
    ]

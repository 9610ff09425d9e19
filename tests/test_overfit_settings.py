"""The OVERFIT_* settings: documented defaults equal to the detector's, validated values."""

import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from generator import overfit_check
from generator.ml import overfit
from tests.settings_process import settings_process

ROOT = Path(__file__).resolve().parent.parent


def test_setting_defaults_match_the_plain_python_defaults() -> None:
    assert settings.OVERFIT_THRESHOLD == overfit.THRESHOLD
    assert settings.OVERFIT_MIN_RUN_WORDS == overfit.MIN_RUN_WORDS
    assert settings.OVERFIT_LONG_RUN_WORDS == overfit.LONG_RUN_WORDS
    assert settings.OVERFIT_CHECK_TITLES == overfit.CHECK_TITLES
    assert settings.OVERFIT_REVIEW_THRESHOLD < settings.OVERFIT_THRESHOLD
    assert settings.OVERFIT_POLICY == "auto-approve"
    assert overfit_check.thresholds() == overfit.DEFAULT_THRESHOLDS


def test_settings_are_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in (
        "OVERFIT_THRESHOLD",
        "OVERFIT_REVIEW_THRESHOLD",
        "OVERFIT_MIN_RUN_WORDS",
        "OVERFIT_LONG_RUN_WORDS",
        "OVERFIT_CHECK_TITLES",
        "OVERFIT_POLICY",
    ):
        assert f"`{name}`" in readme, name


def _load_settings(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    code = "print(s.OVERFIT_POLICY, s.OVERFIT_THRESHOLD)"
    return settings_process(code, tmp_path, env, check=False)


def test_settings_come_from_the_environment(tmp_path: Path) -> None:
    result = _load_settings({"OVERFIT_POLICY": "review", "OVERFIT_THRESHOLD": "0.8"}, tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["review", "0.8"]


def test_an_unknown_policy_stops_start_up(tmp_path: Path) -> None:
    result = _load_settings({"OVERFIT_POLICY": "yolo"}, tmp_path)

    assert result.returncode != 0
    assert "OVERFIT_POLICY='yolo' is not 'auto-approve' or 'review'" in result.stderr


def test_out_of_range_thresholds_are_reported_as_misconfiguration(settings: Any) -> None:
    settings.OVERFIT_THRESHOLD = 1.5

    with pytest.raises(ImproperlyConfigured, match="threshold must be in"):
        overfit_check.thresholds()

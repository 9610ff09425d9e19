"""min_p drops the tokens far less likely than the best one, however hot the temperature."""

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

from generator.ml.config import SamplingSettings
from generator.ml.format import pitch_prompt
from generator.ml.sampling import Sampler

PROMPT = pitch_prompt("movie", ["Dramas"], "The Orchard Keeper's Last Summer")


def _texts(sampler: Sampler, min_p: float, seed: int) -> list[str]:
    settings = SamplingSettings(
        temperature=5.0, top_k=0, top_p=1.0, min_p=min_p, max_new_tokens=24, seed=seed
    )
    return [sample.text for sample in sampler.generate(PROMPT, 4, settings)]


def test_min_p_of_one_leaves_only_the_likeliest_token_at_any_temperature(
    trained_checkpoint: Path,
) -> None:
    sampler = Sampler(trained_checkpoint, device="cpu")

    greedy = _texts(sampler, 1.0, seed=1)
    assert greedy == _texts(sampler, 1.0, seed=2)
    assert len(set(greedy)) == 1
    assert _texts(sampler, 0.0, seed=1) != _texts(sampler, 0.0, seed=2)


def test_batches_stored_without_min_p_sample_as_before() -> None:
    stored: dict[str, Any] = {
        "temperature": 1.2,
        "top_p": 0.95,
        "top_k": 50,
        "repetition_penalty": 1.1,
    }

    assert "min_p" not in SamplingSettings(**stored).generate_kwargs()
    assert SamplingSettings(**stored, min_p=0.1).generate_kwargs()["min_p"] == 0.1


def test_min_p_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="min_p must be between 0.0 and 1.0, not 1.5"):
        SamplingSettings(min_p=1.5)


@override_settings(GENERATION_MIN_P=0.07)
def test_new_batches_take_min_p_from_the_settings() -> None:
    assert SamplingSettings.from_settings(settings, seed=3).min_p == 0.07

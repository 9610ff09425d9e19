"""Pitches in int8 on CPUs without native bfloat16: each linear layer's weights rounded to int8
per output channel (generator.ml.packed_linear.Int8Linear), chosen by PITCH_DTYPE, recorded with
the text and re-sampled exactly from it."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from generator import pitches
from generator.ml.format import parse_record, pitch_prompt
from generator.ml.packed_linear import Int8Linear, int8_available
from generator.ml.sampling import get_sampler, pitch_dtype
from generator.overfit_check import get_detector
from tests.corpus import fresh_training_detector  # noqa: F401 - the fixture, used by pytestmark
from tests.factories import PitchFactory

CPU = torch.device("cpu")

pytestmark = pytest.mark.skipif(
    not int8_available(CPU), reason="this torch has no int8 weight-only CPU kernel"
)


def test_each_output_channel_is_rounded_at_its_own_scale() -> None:
    torch.manual_seed(11)
    linear = nn.Linear(96, 40)
    with torch.no_grad():
        linear.weight[3] *= 50  # one loud channel must not coarsen the others
    quantized = Int8Linear(linear)
    inputs = torch.randn(4, 1, 96)

    scales = quantized.scales.float()
    restored = quantized.weight_int8.float() * scales[:, None]
    with torch.inference_mode():
        ours, exact = quantized(inputs), linear(inputs)

    assert quantized.weight_int8.dtype == torch.int8 and ours.shape == exact.shape == (4, 1, 40)
    assert ((restored - linear.weight).abs() <= scales[:, None] * 0.51).all()
    assert scales[3] > 30 * scales[2]
    # bfloat16 inputs and products: about three significant digits of float32's.
    torch.testing.assert_close(ours, exact, atol=0.05, rtol=0.02)


def test_auto_pitches_in_bfloat16_where_native_and_in_int8_on_other_cpus() -> None:
    native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()

    assert pitch_dtype(CPU, "auto") == ("bfloat16" if native else "int8")
    assert pitch_dtype(torch.device("cuda"), "auto") == "bfloat16"
    assert [pitch_dtype(CPU, d) for d in ("float32", "int8")] == ["float32", "int8"]
    with pytest.raises(ValueError, match="int8 sampling needs a CPU"):
        pitch_dtype(torch.device("cuda"), "int8")
    with pytest.raises(ValueError, match="dtype must be auto or one of"):
        pitch_dtype(CPU, "int4")


@pytest.mark.django_db
@pytest.mark.usefixtures("fresh_training_detector")
def test_a_pitch_at_a_batchs_pause_samples_in_int8_and_resamples_from_what_is_stored(
    active_run: Any, pitch_genres: dict[str, Any], settings: Any
) -> None:
    settings.PITCH_CANDIDATES = 16
    settings.PITCH_DTYPE = "int8"
    pool_sampler = get_sampler(active_run.checkpoint_path, settings.GENERATION_DTYPE)
    pitch = PitchFactory.create(
        title="The Umbrella Cartographer", kind="movie", genre=pitch_genres["dramas"], seed=5
    )

    written = pitches.run_pitch(pitch.pk, pool_sampler)

    assert written is not None and written.description is not None, written and written.error
    text = written.description
    assert text.sampler_dtype == "int8" and text.chunk_size == 16 and text.batch_row is not None
    int8_sampler = get_sampler(active_run.checkpoint_path, "int8")
    assert any(isinstance(m, Int8Linear) for m in int8_sampler.model.modules())
    # The pool's float32 sampler stays loaded beside it: a pitch does not evict the batch's.
    assert get_sampler(active_run.checkpoint_path, settings.GENERATION_DTYPE) is pool_sampler
    again = int8_sampler.generate(
        pitch_prompt(pitch.kind, ["Dramas"], pitch.title),
        text.chunk_size,
        text.sampling_settings(),
        chunk_size=text.chunk_size,
        is_real_title=get_detector().has_title,
    )
    assert parse_record(again[text.batch_row].text).description == text.text

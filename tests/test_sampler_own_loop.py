"""The sampler's own decoding loop (version 2) draws from transformers' distribution, keeps what a
seed writes, lets finished rows leave the batch, and stores the model's true surprise; texts
stored by version 1 are still written by transformers' generate, token for token."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, cast
from unittest.mock import patch

import pytest
import torch
from transformers import (
    AutoModelForCausalLM,
    LlamaConfig,
    LlamaForCausalLM,
    LogitsProcessorList,
    MinPLogitsWarper,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from generator.ml.config import GENERATE_SAMPLER, OWN_LOOP_SAMPLER, SamplingSettings
from generator.ml.decoding import (
    GROUPED_DECODE,
    InPlaceLayer,
    attention,
    candidates,
    decode,
    forward_step,
    grouped_decode_attention,
    in_place_cache,
    llama_step,
    penalize_repeats,
    stack_projections,
    step_function,
)
from generator.ml.format import prompt_prefix
from generator.ml.packed_linear import (
    Int8Linear,
    PackedLinear,
    StackedLinear,
    int8_available,
    packing_available,
    replace_linear_layers,
)
from generator.ml.sampling import DTYPES, Sampler, sampling_dtype
from generator.ml.text import printable

SETTINGS = SamplingSettings(temperature=0.9, min_p=0.05, max_new_tokens=48, seed=21)


@pytest.fixture(scope="module")
def sampler(trained_checkpoint: Path) -> Sampler:
    return Sampler(trained_checkpoint, device="cpu")


@pytest.mark.parametrize(
    ("temperature", "top_k", "top_p", "min_p"),
    [(0.9, 50, 0.95, 0.0), (1.4, 50, 0.95, 0.05), (0.6, 0, 0.8, 0.1), (1.0, 7, 1.0, 0.0)],
)
def test_candidates_hold_the_distribution_of_transformers_warpers(
    temperature: float, top_k: int, top_p: float, min_p: float
) -> None:
    scores = torch.randn(6, 400, generator=torch.Generator().manual_seed(5)) * 3
    settings = SamplingSettings(temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p)
    warpers = LogitsProcessorList([TemperatureLogitsWarper(temperature)])
    if top_k:
        warpers.append(TopKLogitsWarper(top_k))
    if top_p < 1.0:
        warpers.append(TopPLogitsWarper(top_p))
    if min_p:
        warpers.append(MinPLogitsWarper(min_p))
    no_ids = cast(torch.LongTensor, torch.zeros(6, 1, dtype=torch.long))
    expected = warpers(no_ids, cast(torch.FloatTensor, scores.clone())).softmax(dim=-1)

    probs, indices = candidates(scores, settings)

    ours = torch.zeros_like(scores).scatter(1, indices, probs)
    torch.testing.assert_close(ours, expected, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("penalty", [1.1, 0.8, 1.0])
def test_the_repetition_penalty_is_transformers_own_bit_for_bit(penalty: float) -> None:
    generator = torch.Generator().manual_seed(5)
    logits = torch.randn(1, 300, generator=generator) * 4  # positive and negative scores
    written = torch.randint(0, 300, (6, 40), generator=generator)
    written[:, 10:20] = written[:, :10]  # tokens written twice
    processor = RepetitionPenaltyLogitsProcessor(penalty)

    for scores in (logits.expand(6, -1), torch.randn(6, 300, generator=generator)):
        before = scores.clone()
        theirs = processor(cast(torch.LongTensor, written), cast(torch.FloatTensor, scores))
        ours = penalize_repeats(written, scores, penalty)

        assert torch.equal(ours, theirs)
        assert torch.equal(scores, before)  # the logits themselves are left as they were
    assert not torch.equal(penalize_repeats(written, logits.expand(6, -1), 1.1), logits)


def test_a_seed_writes_the_same_batch_in_a_new_process_and_with_pauses(
    sampler: Sampler, trained_checkpoint: Path
) -> None:
    first = sampler.generate(prompt_prefix(), 12, SETTINGS)

    def pause() -> None:  # urgent work between steps samples with the same model
        sampler.generate(prompt_prefix("tv"), 3, replace(SETTINGS, seed=99, max_new_tokens=8))

    again = Sampler(trained_checkpoint, device="cpu").generate(prompt_prefix(), 12, SETTINGS)
    paused = sampler.generate(prompt_prefix(), 12, SETTINGS, pause=pause)

    assert SETTINGS.sampler_version == OWN_LOOP_SAMPLER
    assert [s.text for s in again] == [s.text for s in first] == [s.text for s in paused]
    assert [s.surprises for s in again] == [s.surprises for s in first]
    other = sampler.generate(prompt_prefix(), 12, replace(SETTINGS, seed=22))
    assert [s.text for s in other] != [s.text for s in first]


def test_finished_rows_leave_the_batch(sampler: Sampler) -> None:
    rows_per_step: list[int] = []
    hook = sampler.model.register_forward_pre_hook(
        lambda _module, args, kwargs: rows_per_step.append(kwargs["input_ids"].shape[0]),
        with_kwargs=True,
    )
    try:
        samples = sampler.generate(prompt_prefix(), 16, replace(SETTINGS, max_new_tokens=96))
    finally:
        hook.remove()

    assert all(sample.reached_end for sample in samples)
    longest = max(sample.new_tokens for sample in samples)
    assert rows_per_step[0] == 1  # the prompt runs once for all rows
    assert rows_per_step[1] == 16
    assert len(rows_per_step) == longest + 1  # no step after the last row ended
    assert rows_per_step[-1] < 16
    assert rows_per_step[1:] == sorted(rows_per_step[1:], reverse=True)


def test_stored_surprise_is_the_models_own_at_each_written_token(sampler: Sampler) -> None:
    prompt = sampler.tokenizer(prompt_prefix(), return_tensors="pt", add_special_tokens=False)
    prompt_ids = prompt["input_ids"]
    decoded = decode(
        sampler.model,
        prompt_ids,
        8,
        SETTINGS,
        end_id=sampler.end_id,
        max_new_tokens=96,
        generator=torch.Generator().manual_seed(3),
    )

    assert sum(decoded.reached_end) == 8
    for tokens, surprise in zip(decoded.tokens, decoded.surprise, strict=True):
        whole = torch.cat([prompt_ids[0], torch.tensor(tokens)])[None]
        with torch.no_grad():  # no cache, no batch: the model reading the row on its own
            logits = sampler.model(input_ids=whole).logits[0].float()
        nats = -torch.log_softmax(logits[prompt_ids.shape[1] - 1 : -1], dim=-1)
        expected = nats.gather(1, torch.tensor(tokens)[:, None])[:, 0]
        torch.testing.assert_close(torch.tensor(surprise), expected, atol=2e-4, rtol=1e-4)


def test_version_1_writes_what_transformers_generate_writes(sampler: Sampler) -> None:
    settings = replace(SETTINGS, sampler_version=GENERATE_SAMPLER, min_p=0.0)
    prefix = prompt_prefix()
    prompt = sampler.tokenizer(prefix, return_tensors="pt", add_special_tokens=False)["input_ids"]

    samples = sampler.generate(prefix, 6, settings)

    torch.manual_seed(settings.seed)
    output = sampler.model.generate(  # type: ignore[misc]
        input_ids=prompt.repeat(6, 1),
        attention_mask=torch.ones(6, prompt.shape[1], dtype=torch.long),
        **settings.generate_kwargs(),
        eos_token_id=sampler.end_id,
        pad_token_id=sampler.pad_id,
    )
    assert isinstance(output, torch.Tensor)
    expected = sampler.tokenizer.batch_decode(output, skip_special_tokens=True)
    assert [sample.text for sample in samples] == [printable(text) for text in expected]


def test_settings_stored_before_versions_sample_with_generate() -> None:
    stored: dict[str, Any] = {
        "temperature": 1.1,
        "top_p": 0.95,
        "top_k": 50,
        "repetition_penalty": 1.1,
    }

    assert SamplingSettings.from_dict(stored).sampler_version == GENERATE_SAMPLER
    assert SamplingSettings(**stored).sampler_version == OWN_LOOP_SAMPLER
    assert SamplingSettings.from_dict(SamplingSettings().as_dict()) == SamplingSettings()
    with pytest.raises(ValueError, match=r"sampler_version must be one of \(1, 2\), not 7"):
        SamplingSettings(sampler_version=7)


def test_a_bfloat16_sampler_writes_the_same_batch_for_a_seed(trained_checkpoint: Path) -> None:
    sampler = Sampler(trained_checkpoint, device="cpu", dtype="bfloat16")

    first = sampler.generate(prompt_prefix(), 8, SETTINGS)
    again = sampler.generate(prompt_prefix(), 8, SETTINGS)

    assert sampler.model.dtype == torch.bfloat16 and sampler.dtype == "bfloat16"
    assert [s.text for s in again] == [s.text for s in first]
    assert sum(sample.reached_end for sample in first) >= 6


def test_the_dtype_is_what_was_asked_or_what_the_device_multiplies_natively() -> None:
    cpu = torch.device("cpu")
    native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()

    assert sampling_dtype(cpu, "float32") == "float32"
    assert sampling_dtype(cpu, "bfloat16") == "bfloat16"
    assert sampling_dtype(cpu, "auto") == ("bfloat16" if native else "float32")
    assert sampling_dtype(torch.device("cuda"), "auto") == "bfloat16"
    with pytest.raises(ValueError, match="dtype must be auto or one of"):
        sampling_dtype(cpu, "float16")


def test_grouped_decode_attention_is_sdpa_for_one_new_token() -> None:
    generator = torch.Generator().manual_seed(8)
    query = torch.randn(5, 9, 1, 16, generator=generator)
    key, value = (torch.randn(5, 3, 11, 16, generator=generator) for _ in range(2))
    module = torch.nn.Module()
    module.num_key_value_groups = 3  # type: ignore[assignment]

    ours, _ = grouped_decode_attention(module, query, key, value, None, scaling=0.2)
    expected, _ = sdpa_attention_forward(module, query, key, value, None, scaling=0.2)

    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-5)


def test_packed_bfloat16_weights_write_what_plain_ones_write(
    trained_llama_checkpoint: Path,
) -> None:
    packed = Sampler(trained_llama_checkpoint, device="cpu", dtype="bfloat16")
    plain = Sampler(trained_llama_checkpoint, device="cpu", dtype="bfloat16")
    plain.model = AutoModelForCausalLM.from_pretrained(
        trained_llama_checkpoint, dtype=torch.bfloat16
    )
    plain.model.eval()
    if not packing_available(torch.device("cpu"), torch.bfloat16):
        pytest.skip("this CPU's oneDNN does not multiply bfloat16")
    layers = len(packed.model.model.layers)
    linears = [m for m in plain.model.modules() if isinstance(m, torch.nn.Linear)]
    packed_linears = [m for m in packed.model.modules() if isinstance(m, PackedLinear)]
    stacks = [m for m in packed.model.modules() if isinstance(m, StackedLinear)]
    prompt = packed._encode(prompt_prefix() + "A lighthouse keeper")

    with torch.inference_mode():
        logits = packed.model(input_ids=prompt).logits, plain.model(input_ids=prompt).logits
    written = [s.generate(prompt_prefix(), 8, SETTINGS) for s in (packed, plain)]

    # q, k and v are one product, and gate and up another, in each layer.
    assert len(stacks) == 2 * layers and len(packed_linears) == len(linears) - 3 * layers > 0
    assert torch.equal(*logits)  # bit for bit, not merely close
    assert [s.text for s in written[0]] == [s.text for s in written[1]]
    assert [s.surprises for s in written[0]] == [s.surprises for s in written[1]]


@pytest.mark.parametrize("layer", [PackedLinear, Int8Linear])
def test_stacked_linears_are_the_separate_products_bit_for_bit(layer: Any) -> None:
    if layer is PackedLinear and not packing_available(torch.device("cpu"), torch.bfloat16):
        pytest.skip("this CPU's oneDNN does not multiply bfloat16")
    if layer is Int8Linear and not int8_available(torch.device("cpu")):
        pytest.skip("this torch has no int8 weight-only CPU kernel")
    dtype = torch.bfloat16 if layer is PackedLinear else torch.float32
    torch.manual_seed(12)
    linears = [torch.nn.Linear(96, size).to(dtype) for size in (96, 32, 32)]
    stacked = StackedLinear(linears, layer)

    for rows in (1, 4, 16, 64, 256):
        inputs = torch.randn(rows, 1, 96).to(dtype)
        with torch.inference_mode():
            parts, separate = stacked(inputs), [layer(linear)(inputs) for linear in linears]
        assert [part.shape for part in parts] == [(rows, 1, 96), (rows, 1, 32), (rows, 1, 32)]
        assert all(torch.equal(*pair) for pair in zip(parts, separate, strict=True)), rows

    with pytest.raises(ValueError, match="share their input size"):
        StackedLinear([torch.nn.Linear(96, 8), torch.nn.Linear(64, 8)], layer)


def test_float32_weights_are_not_packed(sampler: Sampler) -> None:
    # Packed float32 products come from another kernel and differ in the last bits.
    assert sampler.dtype == "float32"
    assert not packing_available(torch.device("cpu"), torch.float32)
    assert not any(isinstance(m, PackedLinear) for m in sampler.model.modules())


def _tiny_llama(dtype: torch.dtype) -> LlamaForCausalLM:
    torch.manual_seed(3)
    config = LlamaConfig(
        vocab_size=300,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():  # norms start at one, where a product with them proves nothing
        for name, weight in model.named_parameters():
            if name.endswith("norm.weight"):
                weight.uniform_(0.5, 1.5)
    return model.to(dtype=dtype)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "int8"])
def test_the_llama_step_gives_the_models_own_logits_bit_for_bit(dtype: str) -> None:
    # The step runs on `ours`, projections stacked as a Sampler stacks them; the forward on the
    # same weights, each projection its own product.
    model, ours_model = _tiny_llama(DTYPES[dtype]), _tiny_llama(DTYPES[dtype])
    layer: Any = None
    if dtype == "bfloat16" and packing_available(torch.device("cpu"), torch.bfloat16):
        layer = PackedLinear
    if dtype == "int8":
        if not int8_available(torch.device("cpu")):
            pytest.skip("this torch has no int8 weight-only CPU kernel")
        layer = Int8Linear
    if layer is not None:
        assert replace_linear_layers(model, layer) == 3 * 7 + 1
        assert stack_projections(ours_model, layer) == 3 * 2
        assert replace_linear_layers(ours_model, layer) == 3 * 2 + 1
    prompt = torch.randint(0, 300, (1, 9), generator=torch.Generator().manual_seed(4))
    caches = [in_place_cache(model, 24) for _ in range(2)]
    tokens = torch.tensor([5, 17, 250, 99])

    with (
        torch.inference_mode(),
        attention(model, GROUPED_DECODE),
        attention(ours_model, GROUPED_DECODE),
    ):
        for each_model, cache in zip((model, ours_model), caches, strict=True):
            each_model(input_ids=prompt, past_key_values=cache, use_cache=True)
            cache.batch_repeat_interleave(4)
        for position in range(9, 17):
            if position == 13:  # rows leave the batch midway, as finished rows do
                for cache in caches:
                    cache.batch_select_indices(torch.tensor([0, 2, 3]))
                tokens = tokens[[0, 2, 3]]
            theirs = model(input_ids=tokens[:, None], past_key_values=caches[0], use_cache=True)
            ours = llama_step(
                ours_model, tokens, [cast(InPlaceLayer, c) for c in caches[1].layers], position
            )
            assert torch.equal(ours, theirs.logits[:, -1, :]), position
            tokens = ours.argmax(dim=-1)


def test_a_llama_decodes_with_its_own_step_and_writes_what_its_forward_writes() -> None:
    model = _tiny_llama(torch.float32)
    prompt = torch.randint(0, 300, (1, 6), generator=torch.Generator().manual_seed(6))
    forwards: list[int] = []
    hook = model.register_forward_pre_hook(lambda *_: forwards.append(1))

    def written(step: Any) -> Any:
        with torch.inference_mode(), patch("generator.ml.decoding.step_function", step):
            return decode(model, prompt, 5, SETTINGS, end_id=7, max_new_tokens=20,
                          generator=torch.Generator().manual_seed(9))  # fmt: skip

    ours = written(step_function)
    assert forwards == [1]  # the prompt only: every step went through llama_step
    theirs = written(forward_step)
    hook.remove()

    assert len(forwards) > 1
    assert ours == theirs

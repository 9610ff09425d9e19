"""Batched sampling from a fine-tuned checkpoint. Plain Python: no Django.

One batch is one `model.generate` call on a single prompt prefix (so no padding is needed), seeded,
stopping at the END_TOKEN special token. A text is reproduced from its batch's seed, settings,
size and its row in the batch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
)
from transformers.generation import GenerateDecoderOnlyOutput

from generator.ml.allocator import keep_freed_blocks
from generator.ml.config import (
    CPU_BATCH_SIZE,
    GENERATE_SAMPLER,
    GPU_MAX_BATCH_SIZE,
    SamplingSettings,
)
from generator.ml.decoding import DecodedRows, attention, decode, stack_projections
from generator.ml.format import END_TOKEN, START_TOKEN, Sample
from generator.ml.packed_linear import (
    Int8Linear,
    PackedLinear,
    int8_available,
    packing_available,
    replace_linear_layers,
)
from generator.ml.text import printable
from generator.ml.title_guard import RealTitleGuard, TitlePredicate, closing_tokens

log = logging.getLogger(__name__)

# How often a running batch offers the device to urgent work (a visitor's pitch), in seconds.
PAUSE_EVERY_SECONDS = 1.0
# Rows per chunk that measure_batch_size tries.
BATCH_CANDIDATES = (8, 16, 32, 64, 128, 256)
# A bigger chunk only lengthens each batch and a pitch's wait: it must be this much faster.
BATCH_RATE_GAIN = 0.05
# What a sampler may compute in, and the dtype it loads the weights in. A text re-samples exactly
# only in the dtype it was written in. "int8": float32 with every linear layer an Int8Linear.
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "int8": torch.float32}
AUTO_DTYPE = "auto"
INT8 = "int8"


@dataclass(frozen=True)
class BatchSizeMeasure:
    """New tokens per second at each chunk size tried, on one device."""

    rates: dict[int, float]

    @property
    def best(self) -> int:
        """The fastest size, unless a smaller one is within BATCH_RATE_GAIN of it."""
        top = max(self.rates.values())
        return min(size for size, rate in self.rates.items() if rate >= top * (1 - BATCH_RATE_GAIN))


class _PausePoint(StoppingCriteria):
    """Calls `pause` between decoding steps, at most every `every` seconds; never stops a row.

    A chunk of 96 tokens takes 10-15 s on a CPU whatever its size (each step reads every weight),
    so chunk boundaries come too rarely for a pitch to wait on them. `pause` may sample with the
    same model; the random state is put back afterwards, so the batch's texts stay reproducible.
    """

    def __init__(self, pause: Callable[[], None], every: float) -> None:
        self.pause = pause
        self.every = every
        self.last = time.monotonic()

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        if time.monotonic() - self.last >= self.every:
            cpu_state = torch.get_rng_state()
            cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
            try:
                self.pause()
            finally:
                torch.set_rng_state(cpu_state)
                if cuda_states is not None:
                    torch.cuda.set_rng_state_all(cuda_states)
                self.last = time.monotonic()
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        return done  # type: ignore[return-value]


def default_device() -> torch.device:
    """The GPU when there is one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def sampling_dtype(device: torch.device, requested: str = AUTO_DTYPE) -> str:
    """The dtype to sample in: `requested`, or for "auto" bfloat16 where the device multiplies it
    natively (CUDA; a CPU with AVX512-BF16 or AMX) and float32 elsewhere."""
    if requested != AUTO_DTYPE:
        if requested not in DTYPES:
            raise ValueError(f"dtype must be auto or one of {sorted(DTYPES)}, not {requested!r}")
        if requested == INT8 and not int8_available(device):
            raise ValueError(f"int8 sampling needs a CPU and torch's int8 kernel, not {device}")
        return requested
    return "bfloat16" if _multiplies_bfloat16(device) else "float32"


def pitch_dtype(device: torch.device, requested: str = AUTO_DTYPE) -> str:
    """The dtype a pitch's few rows sample in: `requested`, or for "auto" bfloat16 where the
    device multiplies it natively and int8 on other CPUs, where a few rows step faster in int8
    than in float32, at about bfloat16's held-out loss (docs/benchmarks.md)."""
    if requested != AUTO_DTYPE:
        return sampling_dtype(device, requested)
    if _multiplies_bfloat16(device):
        return "bfloat16"
    return INT8 if int8_available(device) else "float32"


def _multiplies_bfloat16(device: torch.device) -> bool:
    if device.type == "cuda":
        return True
    # torch's own CPU feature probes (private, hence looked up): absent, the CPU counts as not.
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, probe, lambda: False)() for probe in probes)


class Sampler:
    """A checkpoint loaded once per process, on the GPU when there is one, in `dtype` (a key of
    DTYPES, or "auto": see sampling_dtype; the site's GENERATION_DTYPE says "auto")."""

    def __init__(
        self, checkpoint: str | Path, device: str | None = None, dtype: str = "float32"
    ) -> None:
        keep_freed_blocks()
        self.checkpoint = str(checkpoint)
        self.device = torch.device(device) if device else default_device()
        self.dtype = sampling_dtype(self.device, dtype)
        self.tokenizer = AutoTokenizer.from_pretrained(self.checkpoint)
        self.model = AutoModelForCausalLM.from_pretrained(self.checkpoint, dtype=DTYPES[self.dtype])
        # transformers wraps .to in functools.wraps(nn.Module.to), which mypy reads as unbound.
        self.model.to(self.device)  # type: ignore[arg-type]
        self.model.eval()
        if self.dtype == INT8 or packing_available(self.device, DTYPES[self.dtype]):
            layer = Int8Linear if self.dtype == INT8 else PackedLinear
            stack_projections(self.model, layer)
            replace_linear_layers(self.model, layer)
        self.loaded_attention = self.model.config._attn_implementation
        self.last_chunk_size = 0
        self.end_id = self._single_token_id(END_TOKEN)
        self._single_token_id(START_TOKEN)
        self.pad_id = (
            self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.end_id
        )

    @cached_property
    def closers(self) -> dict[str, list[int]]:
        """The tokens that close a title, found once per checkpoint (generator.ml.title_guard)."""
        return closing_tokens(self.tokenizer)

    def _single_token_id(self, token: str) -> int:
        ids = self.tokenizer.encode(token, add_special_tokens=False)
        if len(ids) != 1:
            raise ValueError(
                f"{self.checkpoint}: {token} is not a special token of this tokenizer; "
                "is this a fine-tuned checkpoint?"
            )
        return ids[0]

    def auto_batch_size(self) -> int:
        """Texts per generate call: large on a GPU (bounded by free memory), modest on a CPU."""
        if self.device.type != "cuda":
            return CPU_BATCH_SIZE
        free, _total = torch.cuda.mem_get_info(self.device)
        config = self.model.config
        layers = getattr(config, "num_hidden_layers", 12)
        hidden = getattr(config, "hidden_size", 768)
        # KV cache per text: 2 (k, v) x layers x hidden x tokens x 2 bytes, with room to spare.
        per_text = 2 * layers * hidden * 256 * 2 * 4
        return max(1, min(GPU_MAX_BATCH_SIZE, int(free * 0.5 // per_text)))

    @torch.inference_mode()
    def measure_batch_size(
        self,
        prefix: str,
        settings: SamplingSettings,
        candidates: tuple[int, ...] = BATCH_CANDIDATES,
    ) -> BatchSizeMeasure:
        """Time a batch sampled with `settings` at each candidate size (up to what GPU memory
        holds; a CPU stops at a size slower than the best so far on a second try too, so one try
        slowed by a neighbour does not end the search). The random state is put back: what is
        sampled next is unchanged."""
        limit = self.auto_batch_size() if self.device.type == "cuda" else max(candidates)
        prompt = self._encode(prefix)
        cpu_state = torch.get_rng_state()
        cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
        rates: dict[int, float] = {}
        try:
            self._time_rows(prompt, 2, settings)  # a warm-up, not kept
            for size in (c for c in candidates if c <= limit):
                rates[size] = self._time_rows(prompt, size, settings)
                if self.device.type == "cuda" or rates[size] >= max(rates.values()):
                    continue
                rates[size] = max(rates[size], self._time_rows(prompt, size, settings))
                if rates[size] < max(rates.values()):
                    break  # past a CPU's best: larger sizes only take longer to find out
        finally:
            torch.set_rng_state(cpu_state)
            if cuda_states is not None:
                torch.cuda.set_rng_state_all(cuda_states)
        return BatchSizeMeasure(rates)

    def _new_token_cap(self, prompt: torch.Tensor, settings: SamplingSettings) -> int:
        """The settings' cap, short enough that a long row stops at the model's last position
        instead of indexing past it."""
        positions = getattr(self.model.config, "max_position_embeddings", None)
        if not positions:
            return settings.max_new_tokens
        return min(settings.max_new_tokens, max(1, positions - prompt.shape[1]))

    def _time_rows(self, prompt: torch.Tensor, size: int, settings: SamplingSettings) -> float:
        """New tokens per second of `size` rows sampled as a batch is, each row stopping at its
        end marker or the settings' cap. Rows that finish early leave a batch's last steps to a
        few, and that tail is where a larger batch pays: a few steps of full rows miss it."""
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        cap = self._new_token_cap(prompt, settings)
        started = time.perf_counter()
        if settings.sampler_version == GENERATE_SAMPLER:
            input_ids = prompt.repeat(size, 1)
            kwargs = settings.generate_kwargs()
            kwargs["max_new_tokens"] = cap
            output = self.model.generate(  # type: ignore[misc]
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                **kwargs,
                eos_token_id=self.end_id,
                pad_token_id=self.pad_id,
            )
            # Each row's tokens before its end marker, as decode counts them.
            written = (output[:, prompt.shape[1] :] != self.end_id).cumprod(dim=1)
            tokens = int(written.sum())
        else:
            decoded = decode(
                self.model,
                prompt,
                size,
                settings,
                end_id=self.end_id,
                max_new_tokens=cap,
                generator=torch.Generator(device=self.device).manual_seed(settings.seed),
            )
            tokens = sum(len(row) for row in decoded.tokens)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return tokens / (time.perf_counter() - started)

    def generate(
        self,
        prefix: str,
        count: int,
        settings: SamplingSettings,
        chunk_size: int | None = None,
        pause: Callable[[], None] | None = None,
        is_real_title: TitlePredicate | None = None,
        enough: Callable[[list[Sample]], bool] | None = None,
    ) -> list[Sample]:
        """`count` samples continuing `prefix`, in chunks of `chunk_size` rows (default: all).

        Chunk k is seeded with `settings.seed + k`, so a text is reproduced from the seed, the
        chunk size and its row (and, with `settings.avoid_real_titles`, the real titles
        `is_real_title` knows). When the device runs out of memory the chunk size halves and the
        batch starts again; `self.last_chunk_size` says what was used. `pause`, when given, runs
        between chunks and between decoding steps (at most every PAUSE_EVERY_SECONDS): where
        urgent work may use this sampler without changing what the batch writes. `enough`, when
        given, is asked with a chunk's finished samples each time rows of it finish; True ends the
        chunk there, its other rows returned unfinished (sampler version 1 writes every row out).
        """
        if count < 1:
            raise ValueError("count must be at least 1")
        if settings.avoid_real_titles and is_real_title is None:
            raise ValueError("avoid_real_titles needs is_real_title, the real-title predicate")
        chunk = min(count, chunk_size or count)
        prompt = self._encode(prefix)
        while True:
            try:
                samples = []
                for index, start in enumerate(range(0, count, chunk)):
                    if pause is not None and index:
                        pause()
                    rows = min(chunk, count - start)
                    chunk_samples = self._generate_chunk(
                        prefix, prompt, rows, settings, index, pause, is_real_title, enough
                    )
                    for sample in chunk_samples:
                        samples.append(replace(sample, row=start + sample.row))
                self.last_chunk_size = chunk
                return samples
            except torch.OutOfMemoryError:
                if chunk == 1:
                    raise
                chunk = max(1, chunk // 2)
                log.warning("out of memory: retrying in chunks of %s", chunk)
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()

    def _encode(self, prefix: str) -> torch.Tensor:
        """The prompt's token ids, [1, length], on this sampler's device."""
        encoded = self.tokenizer(prefix, return_tensors="pt", add_special_tokens=False)
        return encoded["input_ids"].to(self.device)

    @torch.inference_mode()
    def _generate_chunk(
        self,
        prefix: str,
        prompt: torch.Tensor,
        count: int,
        settings: SamplingSettings,
        chunk_index: int,
        pause: Callable[[], None] | None = None,
        is_real_title: TitlePredicate | None = None,
        enough: Callable[[list[Sample]], bool] | None = None,
    ) -> list[Sample]:
        seed = (settings.seed + chunk_index) % (2**63)
        guard = None
        if settings.avoid_real_titles and is_real_title is not None:
            guard = RealTitleGuard(
                self.tokenizer, self.closers, is_real_title, prefix, prompt.shape[1]
            )
        max_new_tokens = self._new_token_cap(prompt, settings)
        if settings.sampler_version == GENERATE_SAMPLER:
            decoded = self._generate_with_transformers(
                prompt, count, settings, seed, max_new_tokens, pause, guard
            )
        else:

            def finished_are_enough(rows: DecodedRows) -> bool:
                assert enough is not None
                done = [s for s in self._samples(prompt, rows, guard) if s.reached_end]
                return enough(done)

            decoded = decode(
                self.model,
                prompt,
                count,
                settings,
                end_id=self.end_id,
                max_new_tokens=max_new_tokens,
                generator=torch.Generator(device=self.device).manual_seed(seed),
                guard=guard,
                pause=pause,
                pause_every=PAUSE_EVERY_SECONDS,
                enough=finished_are_enough if enough is not None else None,
            )
        return self._samples(prompt, decoded, guard)

    def _samples(
        self, prompt: torch.Tensor, decoded: DecodedRows, guard: RealTitleGuard | None
    ) -> list[Sample]:
        """One Sample per decoded row, the prompt's text leading each."""
        prompt_ids = prompt[0].tolist()
        texts = self.tokenizer.batch_decode(
            [prompt_ids + tokens for tokens in decoded.tokens], skip_special_tokens=True
        )
        steered = guard.steered if guard is not None else set()
        return [
            Sample(
                printable(text),
                decoded.reached_end[row],
                len(decoded.tokens[row]),
                row,
                row in steered,
                tuple(decoded.surprise[row]),
            )
            for row, text in enumerate(texts)
        ]

    def _generate_with_transformers(
        self,
        prompt: torch.Tensor,
        count: int,
        settings: SamplingSettings,
        seed: int,
        max_new_tokens: int,
        pause: Callable[[], None] | None,
        guard: RealTitleGuard | None,
    ) -> DecodedRows:
        """Sampler version 1: `model.generate` with the global random state seeded."""
        # As it was written (the model's own attention), even at a pause point of version 2.
        with attention(self.model, self.loaded_attention):
            input_ids = prompt.repeat(count, 1)
            torch.manual_seed(seed)
            if self.device.type == "cuda":
                torch.cuda.manual_seed_all(seed)
            generate_kwargs = settings.generate_kwargs()
            generate_kwargs["max_new_tokens"] = max_new_tokens
            # generate() declares `self: GenerativePreTrainedModel`, which no model class meets.
            output = self.model.generate(  # type: ignore[misc]
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                **generate_kwargs,
                eos_token_id=self.end_id,
                pad_token_id=self.pad_id,
                stopping_criteria=(
                    StoppingCriteriaList([_PausePoint(pause, PAUSE_EVERY_SECONDS)])
                    if pause
                    else None
                ),
                logits_processor=LogitsProcessorList([guard]) if guard else None,
                return_dict_in_generate=True,
                output_logits=True,
            )
            # With return_dict_in_generate and sampling, generate() returns this output class.
            assert isinstance(output, GenerateDecoderOnlyOutput) and output.logits is not None
            # The model's own surprise at each token it wrote, at temperature 1 (before any warper).
            chosen = output.sequences[:, input_ids.shape[1] :]
            surprise = torch.stack(
                [
                    -torch.log_softmax(step.float(), dim=-1).gather(1, chosen[:, index, None])[:, 0]
                    for index, step in enumerate(output.logits)
                ],
                dim=1,
            ).tolist()
            tokens, ends = [], []
            for continuation in chosen.tolist():
                reached_end = self.end_id in continuation
                if reached_end:
                    continuation = continuation[: continuation.index(self.end_id)]
                tokens.append(continuation)
                ends.append(reached_end)
            return DecodedRows(
                tokens=tokens,
                reached_end=ends,
                surprise=[row[: len(kept)] for row, kept in zip(surprise, tokens, strict=True)],
            )


def default_batch_size() -> int:
    """Texts per batch for this process's device: half the GPU ceiling, or the CPU size."""
    return GPU_MAX_BATCH_SIZE // 2 if default_device().type == "cuda" else CPU_BATCH_SIZE


_loaded: dict[tuple[str, str], Sampler] = {}
_load_lock = threading.Lock()


def get_sampler(checkpoint: str | Path, dtype: str) -> Sampler:
    """The sampler for `checkpoint` in `dtype` (see Sampler), loaded once per process; another
    checkpoint replaces every dtype's (pools and pitches may sample in two)."""
    device = default_device()
    key = (str(checkpoint), sampling_dtype(device, dtype))  # "auto" and what it means: one
    with _load_lock:
        if key not in _loaded:
            for stale in [loaded for loaded in _loaded if loaded[0] != key[0]]:
                del _loaded[stale]  # one checkpoint per worker process: free the old one first
            log.info("loading checkpoint %s (dtype %s)", *key)
            _loaded[key] = Sampler(key[0], device=device.type, dtype=key[1])
        return _loaded[key]

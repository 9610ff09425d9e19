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

from generator.ml.config import CPU_BATCH_SIZE, GPU_MAX_BATCH_SIZE, SamplingSettings
from generator.ml.format import END_TOKEN, START_TOKEN, Sample
from generator.ml.text import printable
from generator.ml.title_guard import RealTitleGuard, TitlePredicate, closing_tokens

log = logging.getLogger(__name__)

# How often a running batch offers the device to urgent work (a visitor's pitch), in seconds.
PAUSE_EVERY_SECONDS = 1.0
# Rows per chunk that measure_batch_size tries, and the new tokens each try decodes.
BATCH_CANDIDATES = (8, 16, 32, 64, 128, 256)
MEASURE_NEW_TOKENS = 12
# A bigger chunk only lengthens each batch and a pitch's wait: it must be this much faster.
BATCH_RATE_GAIN = 0.05


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


class Sampler:
    """A checkpoint loaded once per process, on the GPU when there is one."""

    def __init__(self, checkpoint: str | Path, device: str | None = None) -> None:
        self.checkpoint = str(checkpoint)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.tokenizer = AutoTokenizer.from_pretrained(self.checkpoint)
        dtype = torch.bfloat16 if self.device.type == "cuda" else torch.float32
        self.model = AutoModelForCausalLM.from_pretrained(self.checkpoint, dtype=dtype)
        # transformers wraps .to in functools.wraps(nn.Module.to), which mypy reads as unbound.
        self.model.to(self.device)  # type: ignore[arg-type]
        self.model.eval()
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
        """Time MEASURE_NEW_TOKENS decoding steps with `settings` at each candidate size (up to
        what GPU memory holds; a CPU stops once a size is slower than the one before), every row
        decoding all of them. The random state is put back: what is sampled next is unchanged."""
        limit = self.auto_batch_size() if self.device.type == "cuda" else max(candidates)
        encoded = self.tokenizer(prefix, return_tensors="pt", add_special_tokens=False)
        prompt = encoded["input_ids"].to(self.device)
        kwargs = settings.generate_kwargs()
        kwargs["max_new_tokens"] = MEASURE_NEW_TOKENS
        cpu_state = torch.get_rng_state()
        cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
        rates: dict[int, float] = {}
        try:
            for size in (2, *(c for c in candidates if c <= limit)):  # 2: a warm-up, not kept
                input_ids = prompt.repeat(size, 1)
                if self.device.type == "cuda":
                    torch.cuda.synchronize(self.device)
                started = time.perf_counter()
                self.model.generate(  # type: ignore[misc]
                    input_ids=input_ids,
                    attention_mask=torch.ones_like(input_ids),
                    **kwargs,
                    min_new_tokens=MEASURE_NEW_TOKENS,
                    eos_token_id=self.end_id,
                    pad_token_id=self.pad_id,
                )
                if self.device.type == "cuda":
                    torch.cuda.synchronize(self.device)
                rate = size * MEASURE_NEW_TOKENS / (time.perf_counter() - started)
                if size == 2:
                    continue
                if self.device.type != "cuda" and rates and rate < max(rates.values()):
                    rates[size] = rate
                    break  # past a CPU's best: larger sizes only take longer to find out
                rates[size] = rate
        finally:
            torch.set_rng_state(cpu_state)
            if cuda_states is not None:
                torch.cuda.set_rng_state_all(cuda_states)
        return BatchSizeMeasure(rates)

    def generate(
        self,
        prefix: str,
        count: int,
        settings: SamplingSettings,
        chunk_size: int | None = None,
        pause: Callable[[], None] | None = None,
        is_real_title: TitlePredicate | None = None,
    ) -> list[Sample]:
        """`count` samples continuing `prefix`, in chunks of `chunk_size` rows (default: all).

        Chunk k is seeded with `settings.seed + k`, so a text is reproduced from the seed, the
        chunk size and its row (and, with `settings.avoid_real_titles`, the real titles
        `is_real_title` knows). When the device runs out of memory the chunk size halves and the
        batch starts again; `self.last_chunk_size` says what was used. `pause`, when given, runs
        between chunks and between decoding steps (at most every PAUSE_EVERY_SECONDS): where
        urgent work may use this sampler without changing what the batch writes.
        """
        if count < 1:
            raise ValueError("count must be at least 1")
        if settings.avoid_real_titles and is_real_title is None:
            raise ValueError("avoid_real_titles needs is_real_title, the real-title predicate")
        chunk = min(count, chunk_size or count)
        while True:
            try:
                samples = []
                for index, start in enumerate(range(0, count, chunk)):
                    if pause is not None and index:
                        pause()
                    rows = min(chunk, count - start)
                    chunk_samples = self._generate_chunk(
                        prefix, rows, settings, index, pause, is_real_title
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

    @torch.inference_mode()
    def _generate_chunk(
        self,
        prefix: str,
        count: int,
        settings: SamplingSettings,
        chunk_index: int,
        pause: Callable[[], None] | None = None,
        is_real_title: TitlePredicate | None = None,
    ) -> list[Sample]:
        encoded = self.tokenizer(prefix, return_tensors="pt", add_special_tokens=False)
        input_ids = encoded["input_ids"].to(self.device).repeat(count, 1)
        attention_mask = torch.ones_like(input_ids)
        generator_seed = (settings.seed + chunk_index) % (2**63)
        torch.manual_seed(generator_seed)
        if self.device.type == "cuda":
            torch.cuda.manual_seed_all(generator_seed)
        guard = None
        if settings.avoid_real_titles and is_real_title is not None:
            guard = RealTitleGuard(
                self.tokenizer, self.closers, is_real_title, prefix, input_ids.shape[1]
            )
        generate_kwargs = settings.generate_kwargs()
        positions = getattr(self.model.config, "max_position_embeddings", None)
        if positions:  # a long row must stop at the model's last position, not index past it
            room = max(1, positions - input_ids.shape[1])
            generate_kwargs["max_new_tokens"] = min(generate_kwargs["max_new_tokens"], room)
        # generate() declares `self: GenerativePreTrainedModel`, a protocol no model class meets.
        output = self.model.generate(  # type: ignore[misc]
            input_ids=input_ids,
            attention_mask=attention_mask,
            **generate_kwargs,
            eos_token_id=self.end_id,
            pad_token_id=self.pad_id,
            stopping_criteria=(
                StoppingCriteriaList([_PausePoint(pause, PAUSE_EVERY_SECONDS)]) if pause else None
            ),
            logits_processor=LogitsProcessorList([guard]) if guard else None,
            return_dict_in_generate=True,
            output_logits=True,
        )
        # With return_dict_in_generate and sampling, generate() returns this output class.
        assert isinstance(output, GenerateDecoderOnlyOutput) and output.logits is not None
        sequences = output.sequences
        # The model's own surprise at each token it wrote, at temperature 1 (before any warper).
        chosen = sequences[:, input_ids.shape[1] :]
        surprise = torch.stack(
            [
                -torch.log_softmax(step.float(), dim=-1).gather(1, chosen[:, index, None])[:, 0]
                for index, step in enumerate(output.logits)
            ],
            dim=1,
        ).tolist()
        prompt_length = input_ids.shape[1]
        kept, ends, lengths = [], [], []
        for sequence in sequences.tolist():
            continuation = sequence[prompt_length:]
            reached_end = self.end_id in continuation
            if reached_end:
                continuation = continuation[: continuation.index(self.end_id)]
            kept.append(sequence[:prompt_length] + continuation)
            ends.append(reached_end)
            lengths.append(len(continuation))
        texts = [
            printable(text) for text in self.tokenizer.batch_decode(kept, skip_special_tokens=True)
        ]
        steered = guard.steered if guard is not None else set()
        return [
            Sample(text, reached_end, length, row, row in steered, tuple(surprise[row][:length]))
            for row, (text, reached_end, length) in enumerate(
                zip(texts, ends, lengths, strict=True)
            )
        ]


def default_batch_size() -> int:
    """Texts per batch for this process's device: half the GPU ceiling, or the CPU size."""
    return GPU_MAX_BATCH_SIZE // 2 if torch.cuda.is_available() else CPU_BATCH_SIZE


_loaded: dict[str, Sampler] = {}
_load_lock = threading.Lock()


def get_sampler(checkpoint: str | Path) -> Sampler:
    """The sampler for `checkpoint`, loaded once per process; a new checkpoint replaces it."""
    key = str(checkpoint)
    with _load_lock:
        if key not in _loaded:
            _loaded.clear()  # one model per worker process: free the old one first
            log.info("loading checkpoint %s", key)
            _loaded[key] = Sampler(key)
        return _loaded[key]

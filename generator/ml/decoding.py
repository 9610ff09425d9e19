"""The sampler's own decoding loop (sampler version 2). Plain torch and transformers: no Django.

transformers' `generate` keeps every row of a batch decoding until the last one ends, grows the
key/value cache by concatenation at every step, keeps every step's full-vocabulary logits and
draws each token from the whole vocabulary. Here, for one prompt shared by all rows:

- the prompt is run once and its cache repeated for every row;
- the cache is written in place into buffers sized for the whole text;
- rows that wrote END_TOKEN leave the batch (the cache and the running rows are compacted once
  enough of them have finished), so the last steps cost what the rows still writing cost;
- top-k is taken first, and temperature, top-p and min-p work on those k candidates: the same
  distribution as transformers' warpers, drawn from k numbers instead of the vocabulary;
- the model's surprise at each token is read off the raw logits as the token is drawn;
- the random numbers come from the batch's own `torch.Generator`, so work done at a pause point
  cannot change them;
- a Llama (SmolLM2) steps through `llama_step`, transformers' own operations without the
  plumbing around them; other models through their forward.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from transformers import (
    AttentionInterface,
    DynamicCache,
    LlamaForCausalLM,
    PreTrainedModel,
)
from transformers.cache_utils import DynamicLayer
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.models.llama.modeling_llama import (
    LlamaAttention,
    LlamaRMSNorm,
    apply_rotary_pos_emb,
    rotate_half,
)

from generator.ml.config import SamplingSettings
from generator.ml.packed_linear import StackedLinear, StackedPart, stack_linear_layers
from generator.ml.title_guard import RealTitleGuard

GROUPED_DECODE = "grouped_decode"
# A Llama's projections that read one input, which `stack_projections` stacks.
QKV_PROJECTIONS = ("q_proj", "k_proj", "v_proj")
GATE_UP_PROJECTIONS = ("gate_proj", "up_proj")
# Compact once this share of the rows still in the cache has finished: a compaction copies the
# cache, about what two steps of attention read, so it waits for a few rows to finish together.
COMPACT_SHARE = 0.125


@dataclass(frozen=True)
class DecodedRows:
    """Each row's new tokens (END_TOKEN left out), whether it wrote END_TOKEN, and the model's
    surprise (-log p at temperature 1, before any warper) at each of those tokens."""

    tokens: list[list[int]]
    reached_end: list[bool]
    surprise: list[list[float]]


class InPlaceLayer(DynamicLayer):
    """A full-attention cache layer written in place into buffers of `capacity` positions; it
    hands attention a view of the filled part instead of concatenating a new tensor each step."""

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity
        self.length = 0

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        self.dtype, self.device = key_states.dtype, key_states.device
        rows, heads, _positions, key_size = key_states.shape
        value_size = value_states.shape[-1]
        self.key_buffer = key_states.new_empty(rows, heads, self.capacity, key_size)
        self.value_buffer = value_states.new_empty(rows, heads, self.capacity, value_size)
        self.length = 0
        self.is_initialized = True

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        end = self.length + key_states.shape[-2]
        if end > self.capacity:
            raise ValueError(f"the cache holds {self.capacity} positions, not {end}")
        self.key_buffer[:, :, self.length : end] = key_states
        self.value_buffer[:, :, self.length : end] = value_states
        self.length = end
        return self._expose()

    def get_seq_length(self) -> int:
        return self.length if self.is_initialized else 0

    def batch_repeat_interleave(self, repeats: int) -> None:
        if self.is_initialized:
            self.key_buffer = self.key_buffer.repeat_interleave(repeats, dim=0)
            self.value_buffer = self.value_buffer.repeat_interleave(repeats, dim=0)
            self._expose()

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        if self.is_initialized:
            # Whole rows, unfilled positions too: one contiguous run per row copies faster than
            # the filled part through a strided view and a temporary.
            self.key_buffer = self.key_buffer.index_select(0, indices)
            self.value_buffer = self.value_buffer.index_select(0, indices)
            self._expose()

    def _expose(self) -> tuple[torch.Tensor, torch.Tensor]:
        keys = self.keys = self.key_buffer[:, :, : self.length]
        values = self.values = self.value_buffer[:, :, : self.length]
        return keys, values


def grouped_decode_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """transformers' sdpa attention, except for one new token per row with no mask: there, each
    key/value head's group of query heads is one matmul against the cache, never repeated. (On a
    CPU, bfloat16 sdpa spends a third of a decoding step here; this is a tenth of that.)"""
    if query.shape[2] != 1 or attention_mask is not None or kwargs.get("softcap") is not None:
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, **kwargs
        )
    rows, heads, _one, size = query.shape
    grouped = query.view(rows, key.shape[1], heads // key.shape[1], size)
    if key.device.type == "cpu" and key.dtype == torch.bfloat16:
        # oneDNN multiplies bfloat16 by a dense copy of the cache's view in half the time.
        key = key.contiguous()
    weights = torch.matmul(grouped, key.transpose(-1, -2))
    weights = (weights.float() * (size**-0.5 if scaling is None else scaling)).softmax(dim=-1)
    output = torch.matmul(weights.to(value.dtype), value).view(rows, heads, 1, size)
    return output.transpose(1, 2).contiguous(), None


AttentionInterface.register(GROUPED_DECODE, grouped_decode_attention)


@contextmanager
def attention(model: PreTrainedModel, implementation: str) -> Iterator[None]:
    """The model attends with `implementation` inside the block (a pause point's work may switch
    it too: each block puts back what it found)."""
    config: Any = model.config
    before = config._attn_implementation
    model.set_attn_implementation(implementation)
    try:
        yield
    finally:
        model.set_attn_implementation(before)


def llama_step(
    model: LlamaForCausalLM, tokens: torch.Tensor, cache: Sequence[InPlaceLayer], position: int
) -> torch.Tensor:
    """The logits [rows, vocabulary] for one new token per row at `position`: the operations of
    transformers' Llama forward, in its order and dtypes (bit for bit its logits: a test holds
    them equal), without the mask, output and keyword plumbing that a step of a few rows spends
    as much time on as on its arithmetic."""
    inner = model.model
    hidden = inner.embed_tokens(tokens[:, None])
    cos, sin = inner.rotary_emb(hidden, torch.tensor([[position]], device=tokens.device))
    rows = tokens.shape[0]
    for index, layer in enumerate(inner.layers):
        attention_block = layer.self_attn
        normed = rms_norm(layer.input_layernorm, hidden)
        query, key, value = _queries_keys_values(attention_block, normed, cos, sin)
        keys, values = cache[index].update(key, value)
        attended, _ = grouped_decode_attention(
            attention_block, query, keys, values, None, scaling=attention_block.scaling
        )
        hidden = hidden + attention_block.o_proj(attended.reshape(rows, 1, -1))
        mlp = layer.mlp
        normed = rms_norm(layer.post_attention_layernorm, hidden)
        gate, up = _projections(mlp, GATE_UP_PROJECTIONS, normed)
        hidden = hidden + mlp.down_proj(mlp.act_fn(gate) * up)
    return model.lm_head(rms_norm(inner.norm, hidden))[:, -1, :]


def stack_projections(model: PreTrainedModel, layer: Callable[[nn.Linear], nn.Module]) -> int:
    """A Llama's q, k and v projections, and its MLPs' gate and up projections, made one
    `StackedLinear` of `layer` each, which `llama_step` calls once; returns how many (0 for
    other models). transformers' forward still finds every projection, as a part of its stack."""
    if type(model) is not LlamaForCausalLM:
        return 0
    for decoder in model.model.layers:
        stack_linear_layers(decoder.self_attn, QKV_PROJECTIONS, layer)
        stack_linear_layers(decoder.mlp, GATE_UP_PROJECTIONS, layer)
    return 2 * len(model.model.layers)


def _queries_keys_values(
    attention_block: LlamaAttention, normed: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Query, key and value heads [rows, heads, 1, head size] of `normed` [rows, 1, hidden], the
    rotary embedding applied as transformers applies it; where q, k and v are stacked, to the
    query and key heads at once (the same operations on each element)."""
    shape = (normed.shape[0], 1, -1, attention_block.head_dim)
    stacked = _stack_of(attention_block, QKV_PROJECTIONS)
    if stacked is None:
        query, key, value = (
            getattr(attention_block, name)(normed).view(shape).transpose(1, 2)
            for name in QKV_PROJECTIONS
        )
        query, key = apply_rotary_pos_emb(query, key, cos, sin)
        return query, key, value
    heads = stacked.product(normed).view(shape).transpose(1, 2)
    query_heads, key_heads, _ = (size // attention_block.head_dim for size in stacked.sizes)
    query_key = heads[:, : query_heads + key_heads]
    rotated = query_key * cos.unsqueeze(1) + rotate_half(query_key) * sin.unsqueeze(1)
    return rotated[:, :query_heads], rotated[:, query_heads:], heads[:, query_heads + key_heads :]


def _projections(
    module: nn.Module, names: tuple[str, ...], inputs: torch.Tensor
) -> tuple[torch.Tensor, ...]:
    """`module`'s projections `names` of `inputs`, in one product where they are stacked."""
    stacked = _stack_of(module, names)
    if stacked is not None:
        return stacked(inputs)
    return tuple(getattr(module, name)(inputs) for name in names)


def _stack_of(module: nn.Module, names: tuple[str, ...]) -> StackedLinear | None:
    """The `StackedLinear` whose parts `module`'s projections `names` are, if they are."""
    first = getattr(module, names[0])
    return first.stacked if isinstance(first, StackedPart) else None


def rms_norm(norm: LlamaRMSNorm, hidden: torch.Tensor) -> torch.Tensor:
    """`norm(hidden)` for transformers' LlamaRMSNorm: its operations, in its order and dtypes,
    worked in place on one float32 copy instead of a new tensor for each."""
    weight = norm.weight
    if weight.dtype != hidden.dtype:  # its product would be promoted: leave it to the module
        normed: torch.Tensor = norm(hidden)
        return normed
    normed = hidden.to(torch.float32, copy=True)
    variance = normed.pow(2).mean(-1, keepdim=True)
    normed.mul_(variance.add_(norm.variance_epsilon).rsqrt_())
    return normed.to(hidden.dtype).mul_(weight)


def step_function(
    model: PreTrainedModel, cache: DynamicCache
) -> Callable[[torch.Tensor, int], torch.Tensor]:
    """One decoding step, (tokens [rows], position) -> logits [rows, vocabulary]: `llama_step`
    for a Llama whose every cache layer is written in place, the model's own forward otherwise."""
    config: Any = model.config
    layers = [layer for layer in cache.layers if isinstance(layer, InPlaceLayer)]
    if type(model) is LlamaForCausalLM and config.num_hidden_layers == len(layers):
        return lambda tokens, position: llama_step(model, tokens, layers, position)
    return forward_step(model, cache)


def forward_step(
    model: PreTrainedModel, cache: DynamicCache
) -> Callable[[torch.Tensor, int], torch.Tensor]:
    """One decoding step through the model's own forward (`position` is the cache's to know)."""

    def forward(tokens: torch.Tensor, _position: int) -> torch.Tensor:
        output = model(input_ids=tokens[:, None], past_key_values=cache, use_cache=True)
        logits: torch.Tensor = output.logits[:, -1, :]
        return logits

    return forward


def in_place_cache(model: PreTrainedModel, capacity: int) -> DynamicCache:
    """The model's own dynamic cache with its full-attention layers written in place (sliding
    window layers, as in Gemma 3, keep transformers' own)."""
    config: Any = model.config
    cache = DynamicCache(config=config)
    if not cache.layers:  # a model whose config lists no layer types: one per hidden layer
        layers = config.num_hidden_layers
        cache = DynamicCache()
        cache.layers = [InPlaceLayer(capacity) for _ in range(layers)]
        cache.layer_class_to_replicate = None
        return cache
    cache.layers = [
        InPlaceLayer(capacity) if type(layer) is DynamicLayer else layer for layer in cache.layers
    ]
    return cache


def penalize_repeats(written: torch.Tensor, logits: torch.Tensor, penalty: float) -> torch.Tensor:
    """A copy of `logits` [rows, vocabulary] with every token already `written` in its row
    penalised: transformers' RepetitionPenaltyLogitsProcessor, the same numbers (a test holds
    them equal), without its padded copy of the logits and the strided view it hands on."""
    scores = logits.clone()
    if penalty != 1.0:
        seen = logits.gather(1, written)
        seen = torch.where(seen < 0, seen * penalty, seen / penalty)
        scores.scatter_(1, written, seen)
    return scores


def candidates(
    scores: torch.Tensor, settings: SamplingSettings
) -> tuple[torch.Tensor, torch.Tensor]:
    """(probabilities, token ids), each [rows, k], likeliest first: top-k of `scores` (logits after
    the repetition penalty and any guard), then temperature, top-p and min-p over those k, as
    transformers' warpers apply them over the whole vocabulary."""
    vocabulary = scores.shape[-1]
    k = settings.top_k if 0 < settings.top_k < vocabulary else vocabulary
    if settings.min_p and settings.top_p == 1.0:
        # min-p keeps logits within temperature x ln(min_p) of the row's best, so only the most
        # such tokens any row has need ranking. (top-p would need the mass of the rest too.)
        floor = scores.amax(dim=-1, keepdim=True) + settings.temperature * math.log(settings.min_p)
        # Counted in int32: a bool sum in the default int64 is a slower pass over the vocabulary.
        k = min(k, max(1, int((scores >= floor).sum(dim=-1, dtype=torch.int32).max())))
    values, indices = scores.topk(k, dim=-1)
    values = values / settings.temperature
    if settings.top_p < 1.0:
        probs = values.softmax(dim=-1)
        # A token goes when it and every less likely one together hold at most 1 - top_p.
        tail = probs.flip(-1).cumsum(dim=-1).flip(-1)
        drop = tail <= 1 - settings.top_p
        drop[:, 0] = False
        values = values.masked_fill(drop, float("-inf"))
    if settings.min_p:
        probs = values.softmax(dim=-1)
        drop = probs < settings.min_p * probs[:, :1]
        drop[:, 0] = False
        values = values.masked_fill(drop, float("-inf"))
    return values.softmax(dim=-1), indices


def draw(
    scores: torch.Tensor, settings: SamplingSettings, generator: torch.Generator
) -> torch.Tensor:
    """One token id per row, drawn from `candidates`."""
    probs, indices = candidates(scores, settings)
    chosen = torch.multinomial(probs, 1, generator=generator)
    return indices.gather(1, chosen)[:, 0]


def decode(
    model: PreTrainedModel,
    prompt: torch.Tensor,
    rows: int,
    settings: SamplingSettings,
    *,
    end_id: int | None,
    max_new_tokens: int,
    generator: torch.Generator,
    guard: RealTitleGuard | None = None,
    pause: Callable[[], None] | None = None,
    pause_every: float = 1.0,
    enough: Callable[[DecodedRows], bool] | None = None,
) -> DecodedRows:
    """`rows` continuations of `prompt` (shape [1, length]), sampled with `settings`. With
    `end_id` None every row decodes all `max_new_tokens` (for timing). `pause` runs between
    steps, at most every `pause_every` seconds. `enough`, when given, is asked with every row's
    tokens so far each time rows write END_TOKEN; True ends decoding there, and the rows still
    writing come back as they stand (not reached_end). A row's tokens never depend on when the
    others stop."""
    with attention(model, GROUPED_DECODE):
        prompt_length = prompt.shape[1]
        cache = in_place_cache(model, prompt_length + max_new_tokens)
        first = model(input_ids=prompt, past_key_values=cache, use_cache=True, logits_to_keep=1)
        step_logits = step_function(model, cache)
        cache.batch_repeat_interleave(rows)
        logits = first.logits[:, -1, :].float().expand(rows, -1)
        written = prompt.new_zeros(rows, prompt_length + max_new_tokens)
        written[:, :prompt_length] = prompt
        by_row = prompt.new_zeros(rows, max_new_tokens)  # rows leave `written` when compacted
        surprise = torch.zeros(rows, max_new_tokens, device=prompt.device)
        ends: list[int | None] = [None] * rows  # the step at which a row wrote END_TOKEN
        running = torch.arange(rows, device=prompt.device)  # the row each cache position holds
        finished = torch.zeros(rows, dtype=torch.bool, device=prompt.device)
        last_pause = time.monotonic()
        step = -1  # no step at all when max_new_tokens is 0
        for step in range(max_new_tokens):
            position = prompt_length + step
            history = written[:, :position]
            scores = penalize_repeats(history, logits, settings.repetition_penalty)
            if guard is not None:
                scores = guard.restrict(history, scores, running.tolist())
            tokens = draw(scores, settings, generator)
            tokens = torch.where(finished, end_id if end_id is not None else 0, tokens)
            written[:, position] = tokens
            by_row[running, step] = tokens
            surprise[running, step] = (
                logits.logsumexp(dim=-1) - logits.gather(1, tokens[:, None])[:, 0]
            )
            if end_id is not None:
                newly = (tokens == end_id) & ~finished
                ended_now = newly.nonzero()[:, 0].tolist()
                for index in ended_now:
                    ends[int(running[index])] = step
                finished |= newly
                if ended_now and enough and enough(_collected(by_row, surprise, ends, step + 1)):
                    break
            if step + 1 == max_new_tokens or bool(finished.all()):
                break
            if int(finished.sum()) >= max(1, COMPACT_SHARE * len(running)):
                keep = (~finished).nonzero()[:, 0]
                cache.batch_select_indices(keep)
                running, written, finished = running[keep], written[keep], finished[keep]
                tokens = tokens[keep]
            if pause is not None and time.monotonic() - last_pause >= pause_every:
                pause()
                last_pause = time.monotonic()
            logits = step_logits(tokens, position).float()
        return _collected(by_row, surprise, ends, step + 1)


def _collected(
    by_row: torch.Tensor, surprise: torch.Tensor, ends: list[int | None], steps: int
) -> DecodedRows:
    """The rows after `steps` steps: up to its END_TOKEN for a row that wrote one, else all."""
    kept, surprise_kept = by_row.tolist(), surprise.cpu().tolist()
    lengths = [steps if end is None else end for end in ends]
    return DecodedRows(
        tokens=[row[:length] for row, length in zip(kept, lengths, strict=True)],
        reached_end=[end is not None for end in ends],
        surprise=[row[:length] for row, length in zip(surprise_kept, lengths, strict=True)],
    )

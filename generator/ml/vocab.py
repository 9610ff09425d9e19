"""Trimming a BPE model's vocabulary to the tokens a corpus uses, so the output layer shrinks.

Plain Python, no Django. Gemma 3's 262,144-token vocabulary makes its embedding and (tied) output
layer most of the model and most of a CPU training step; the Netflix records use a few percent of
it. `trim_vocabulary` keeps the rows of the tokens the corpus encodes to, every token the merges
that build them pass through (so BPE splits corpus text exactly as before), the special tokens and
the byte tokens (byte fallback `<0xNN>` or the byte-level alphabet, so any text stays encodable),
and renumbers them in their old order. The result is an ordinary model and tokenizer: saved with
`save_pretrained`, they load with plain `from_pretrained`, no id mapping anywhere.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tokenizers import pre_tokenizers
from transformers import AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

# Bases with more tokens than this are trimmed when the config leaves it to us (`trim_vocab` None):
# SmolLM2's 49k (4.14 s/step against 5.00 on 2 CPU threads) and Gemma 3's 262k, not tiny models.
AUTO_TRIM_ABOVE = 32_000
BYTE_FALLBACK_TOKENS = tuple(f"<0x{value:02X}>" for value in range(256))
_TOKEN_ID_FIELDS = ("bos_token_id", "eos_token_id", "pad_token_id", "unk_token_id")


class VocabTrimError(ValueError):
    """The tokenizer is not one this module knows how to trim (only BPE models are)."""


@dataclass(frozen=True)
class TrimmedVocabulary:
    """What a trim kept: `kept_ids[new_id]` is the token's id before the trim."""

    kept_ids: tuple[int, ...]
    old_size: int

    @property
    def new_size(self) -> int:
        return len(self.kept_ids)

    def new_id(self) -> dict[int, int]:
        return {old: new for new, old in enumerate(self.kept_ids)}


def vocabulary_rows(model: PreTrainedModel) -> int:
    embedding = model.get_input_embeddings()
    assert isinstance(embedding, torch.nn.Embedding)
    return embedding.num_embeddings


def should_trim(trim: bool | None, vocabulary_size: int) -> bool:
    """`trim` when given; else only vocabularies large enough for the output layer to dominate."""
    return vocabulary_size > AUTO_TRIM_ABOVE if trim is None else trim


def trim_vocabulary(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    keep_tokens: Iterable[str] = (),
) -> tuple[PreTrainedTokenizerBase, TrimmedVocabulary]:
    """Cut `model` (in place) and a new tokenizer down to what `texts` and `keep_tokens` need.

    `texts` encode to the same tokens as before, renumbered; logits over the kept tokens are the
    untrimmed model's. Returns the trimmed tokenizer and which old ids it kept.
    """
    backend = json.loads(tokenizer.backend_tokenizer.to_str())
    bpe = backend["model"]
    if bpe.get("type") != "BPE":
        raise VocabTrimError(f"only BPE tokenizers can be trimmed, not {bpe.get('type')}")
    if bpe.get("continuing_subword_prefix") or bpe.get("end_of_word_suffix"):
        raise VocabTrimError("BPE with subword prefixes or suffixes is not supported")
    kept = _kept_ids(tokenizer, backend, texts, keep_tokens)
    old_size = vocabulary_rows(model)
    if kept[-1] >= old_size:
        raise VocabTrimError(f"token id {kept[-1]} has no embedding row (only {old_size})")
    trimmed = TrimmedVocabulary(tuple(kept), old_size)
    new_tokenizer = _trimmed_tokenizer(tokenizer, backend, trimmed)
    _trim_model(model, trimmed)
    return new_tokenizer, trimmed


def _kept_ids(
    tokenizer: PreTrainedTokenizerBase,
    backend: dict[str, Any],
    texts: Sequence[str],
    keep_tokens: Iterable[str],
) -> list[int]:
    vocab: dict[str, int] = backend["model"]["vocab"]
    added = {entry["content"]: entry["id"] for entry in backend["added_tokens"]}
    kept: set[int] = set()
    for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"]:
        kept.update(ids)
    specials = {*tokenizer.all_special_tokens, *keep_tokens, backend["model"].get("unk_token")}
    # Byte fallback tokens and the byte-level alphabet: whatever text comes, it can be spelled.
    alphabet = (*BYTE_FALLBACK_TOKENS, *pre_tokenizers.ByteLevel.alphabet())
    for token in (*specials, *alphabet):
        token_id = added.get(token, vocab.get(token)) if isinstance(token, str) else None
        if token_id is not None:
            kept.add(token_id)
    return sorted(_merge_closure(kept, vocab, backend["model"]["merges"]))


def _merge_closure(kept: set[int], vocab: dict[str, int], merges: list[Any]) -> set[int]:
    """`kept` plus every token a merge building a kept token starts from, recursively.

    With those, the merges among kept tokens replay BPE on corpus text step for step: each merge
    the full tokenizer applies there builds a kept token from kept tokens, and no merge it skips
    is added, so the lowest-ranked applicable merge is the same one at every step.
    """
    token_of = {token_id: token for token, token_id in vocab.items()}
    parents: dict[str, list[tuple[str, str]]] = {}
    for merge in merges:
        left, right = merge if isinstance(merge, list) else merge.split(" ", 1)
        parents.setdefault(left + right, []).append((left, right))
    result = set(kept)
    pending = [token_of[token_id] for token_id in kept if token_id in token_of]
    while pending:
        for pair in parents.get(pending.pop(), ()):
            for token in pair:
                token_id = vocab[token]
                if token_id not in result:
                    result.add(token_id)
                    pending.append(token)
    return result


def _trimmed_tokenizer(
    tokenizer: PreTrainedTokenizerBase, backend: dict[str, Any], trimmed: TrimmedVocabulary
) -> PreTrainedTokenizerBase:
    new_id = trimmed.new_id()
    bpe = backend["model"]
    bpe["vocab"] = {token: new_id[i] for token, i in bpe["vocab"].items() if i in new_id}
    kept_tokens = set(bpe["vocab"])
    merges = []
    for merge in bpe["merges"]:
        left, right = merge if isinstance(merge, list) else merge.split(" ", 1)
        if left in kept_tokens and right in kept_tokens and left + right in kept_tokens:
            merges.append(merge)
    bpe["merges"] = merges
    backend["added_tokens"] = [
        {**entry, "id": new_id[entry["id"]]}
        for entry in backend["added_tokens"]
        if entry["id"] in new_id
    ]
    backend["post_processor"] = _remap_processor(backend["post_processor"], new_id)
    # Saved and reloaded, so the tokenizer keeps its own class and settings (bos handling etc.).
    with tempfile.TemporaryDirectory(prefix="trim-vocab-") as folder:
        tokenizer.save_pretrained(folder)
        (Path(folder) / "tokenizer.json").write_text(json.dumps(backend), encoding="utf-8")
        reloaded = AutoTokenizer.from_pretrained(folder)
    reloaded.padding_side = tokenizer.padding_side
    return reloaded


def _remap_processor(processor: Any, new_id: dict[int, int]) -> Any:
    """The post-processor with its special token ids renumbered (TemplateProcessing, Sequence)."""
    if not isinstance(processor, dict):
        return processor
    if processor.get("type") == "Sequence":
        processor["processors"] = [_remap_processor(p, new_id) for p in processor["processors"]]
    for special in processor.get("special_tokens", {}).values():
        special["ids"] = [new_id[token_id] for token_id in special["ids"]]
    for name in ("sep", "cls"):
        if isinstance(processor.get(name), list):
            token, token_id = processor[name]
            processor[name] = [token, new_id[token_id]]
    return processor


def _trim_model(model: PreTrainedModel, trimmed: TrimmedVocabulary) -> None:
    """Keep only the kept rows of the input embedding and the output layer (tied or not)."""
    index = torch.tensor(trimmed.kept_ids, dtype=torch.long)
    new_id = trimmed.new_id()
    embedding = model.get_input_embeddings()
    output = model.get_output_embeddings()
    assert isinstance(embedding, torch.nn.Embedding)  # Gemma's scaled embedding is a subclass
    tied = output is not None and output.weight is embedding.weight
    # The module itself stays (Gemma scales its embedding in a subclass); only its rows change.
    embedding.weight = torch.nn.Parameter(embedding.weight.detach()[index].clone())
    embedding.num_embeddings = trimmed.new_size
    if embedding.padding_idx is not None:
        embedding.padding_idx = new_id.get(embedding.padding_idx)
    if output is not None:
        if tied:
            output.weight = embedding.weight
        else:
            output.weight = torch.nn.Parameter(output.weight.detach()[index].clone())
        if getattr(output, "bias", None) is not None:
            output.bias = torch.nn.Parameter(output.bias.detach()[index].clone())
        output.out_features = trimmed.new_size
    # As resize_token_embeddings does: the loss reads the model's own vocab_size attribute.
    model.config.get_text_config().vocab_size = trimmed.new_size
    model.vocab_size = trimmed.new_size
    configs = (model.config, model.config.get_text_config(), model.generation_config)
    # A text model's text config is its config: remap each object once, not twice.
    for config in {id(config): config for config in configs if config is not None}.values():
        for field in _TOKEN_ID_FIELDS:
            value = getattr(config, field, None)
            if isinstance(value, int):
                setattr(config, field, new_id.get(value))
            elif isinstance(value, list):
                setattr(config, field, [new_id[v] for v in value if v in new_id] or None)

"""A tiny random-weight GPT-2 and a byte-level BPE tokenizer trained on invented sentences.

Fast enough for unit tests on a CPU; saved like any transformers checkpoint, so the real loading,
training and sampling code paths run on it.
"""

from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
)

from generator.ml.format import SPECIAL_TOKENS, format_record

TINY_RECORDS = [
    format_record(
        "movie", ["Dramas"], "Salt Roads", "A salt trader crosses the desert to find his brother."
    ),
    format_record(
        "movie", ["Comedies"], "Bad Bakers", "Two rival bakers must share one oven for a week."
    ),
    format_record(
        "tv", ["TV Horror"], "Night Ward", "A nurse on the night shift hears voices in the walls."
    ),
    format_record(
        "tv", ["Docuseries"], "Deep Rivers", "This docuseries follows rivers from source to sea."
    ),
    format_record(
        "movie", ["Thrillers"], "Last Train", "A detective races to stop a train before dawn."
    ),
    format_record(
        "tv", ["TV Comedies"], "Office Cats", "Cats run an office and nobody notices for a year."
    ),
]


def build_tiny_tokenizer() -> PreTrainedTokenizerFast:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<pad>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(TINY_RECORDS * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>")
    fast.add_special_tokens({"additional_special_tokens": list(SPECIAL_TOKENS)})
    return fast


def build_tiny_checkpoint(path: Path, seed: int = 0, llama: bool = False) -> Path:
    """Save a tiny GPT-2 (or, with `llama`, a tiny Llama: SmolLM2's architecture) and its
    tokenizer to `path` and return it."""
    import torch

    torch.manual_seed(seed)
    tokenizer = build_tiny_tokenizer()
    bos_token_id = tokenizer.convert_tokens_to_ids(SPECIAL_TOKENS[0])
    assert isinstance(bos_token_id, int)  # one token in, one id out
    ids = {
        "vocab_size": len(tokenizer),
        "bos_token_id": bos_token_id,
        "eos_token_id": tokenizer.convert_tokens_to_ids(SPECIAL_TOKENS[1]),
        "pad_token_id": tokenizer.pad_token_id,
    }
    model: GPT2LMHeadModel | LlamaForCausalLM
    if llama:
        model = LlamaForCausalLM(
            LlamaConfig(
                hidden_size=32,
                intermediate_size=64,
                num_hidden_layers=2,
                num_attention_heads=4,
                num_key_value_heads=2,
                max_position_embeddings=128,
                tie_word_embeddings=True,
                **ids,
            )
        )
    else:
        model = GPT2LMHeadModel(GPT2Config(n_positions=128, n_embd=32, n_layer=2, n_head=2, **ids))
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def build_trained_tiny_checkpoint(
    path: Path, steps: int = 120, seed: int = 0, llama: bool = False
) -> Path:
    """A tiny GPT-2 (or Llama) trained until it writes well-formed records (a few seconds on a
    CPU)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    build_tiny_checkpoint(path, seed=seed, llama=llama)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    batch = tokenizer(TINY_RECORDS, return_tensors="pt", padding=True)
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        loss = model(**batch, labels=labels).loss
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
    model.save_pretrained(path)
    return path

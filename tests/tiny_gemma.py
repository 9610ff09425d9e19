"""A tiny random-weight Gemma 3 with a Gemma-style tokenizer: BPE over "▁" words, byte fallback.

Built like the real gemma3-270m base (tied, scaled embedding; `<bos>` added by its post-processor;
`<0xNN>` byte tokens for characters outside the vocabulary), small enough for unit tests, and with
a vocabulary trained on more text than the tiny records use, so trimming has rows to drop.
"""

import json
from pathlib import Path

from tokenizers import (
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)
from transformers import Gemma3ForCausalLM, Gemma3TextConfig, PreTrainedTokenizerFast

from generator.ml.vocab import BYTE_FALLBACK_TOKENS
from tests.tiny_model import TINY_RECORDS

# Text the tokenizer learns from besides the records: words the fine-tuning corpus never uses.
OTHER_TEXT = [
    "Quantum gardeners negotiate with volcanic lighthouses over breakfast.",
    "Marching archivists catalogue forgotten umbrellas beneath frozen harbours.",
    "Seventeen philosophers juggle marmalade while the orchestra hibernates.",
    "Jazz mechanics rebuild zeppelins in abandoned greenhouses every winter.",
]
SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>"]


def build_tiny_gemma_tokenizer() -> PreTrainedTokenizerFast:
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True))
    tokenizer.normalizer = normalizers.Replace(" ", "▁")
    tokenizer.pre_tokenizer = pre_tokenizers.Split(" ", behavior="merged_with_previous")
    tokenizer.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=700,
        special_tokens=SPECIALS,
        # Only ASCII letters and punctuation are characters of the vocabulary; the rest are bytes.
        limit_alphabet=70,
    )
    tokenizer.train_from_iterator((TINY_RECORDS + OTHER_TEXT) * 4, trainer=trainer)
    tokenizer = _with_byte_tokens(tokenizer)
    bos = tokenizer.token_to_id("<bos>")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<bos> $A", pair="<bos> $A <bos> $B", special_tokens=[("<bos>", bos)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
    )


def _with_byte_tokens(tokenizer: Tokenizer) -> Tokenizer:
    """The `<0xNN>` tokens appended to the vocabulary as ordinary tokens, as Gemma has them."""
    backend = json.loads(tokenizer.to_str())
    vocab = backend["model"]["vocab"]
    for token in BYTE_FALLBACK_TOKENS:
        vocab[token] = len(vocab)
    return Tokenizer.from_str(json.dumps(backend))


def build_tiny_gemma(path: Path, seed: int = 0) -> Path:
    """Save a tiny Gemma 3 and its tokenizer to `path` and return it."""
    import torch

    torch.manual_seed(seed)
    tokenizer = build_tiny_gemma_tokenizer()
    config = Gemma3TextConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=256,
        sliding_window=32,
        layer_types=["sliding_attention", "full_attention"],
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = Gemma3ForCausalLM(config)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path

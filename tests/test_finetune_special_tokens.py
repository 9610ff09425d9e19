"""The record markers are single special tokens, and padding never hides the end marker."""

from pathlib import Path

from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from generator.ml.format import END_TOKEN, SPECIAL_TOKENS, START_TOKEN, format_record
from generator.ml.training import PAD_TOKEN, prepare_tokenizer_and_model
from tests.tiny_model import build_tiny_checkpoint


def _tiny(tmp_path: Path) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    path = build_tiny_checkpoint(tmp_path / "base")
    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def test_the_end_marker_is_a_single_special_token(tmp_path: Path) -> None:
    model, tokenizer = _tiny(tmp_path)

    prepare_tokenizer_and_model(tokenizer, model)

    record = format_record("movie", ["Dramas"], "Salt Roads", "A trader crosses the desert.")
    ids = tokenizer(record, add_special_tokens=False).input_ids
    end_id = tokenizer.convert_tokens_to_ids(END_TOKEN)
    assert tokenizer.tokenize(END_TOKEN) == [END_TOKEN]
    assert tokenizer.tokenize(f"desert.{END_TOKEN}")[-1] == END_TOKEN
    assert END_TOKEN in tokenizer.all_special_tokens
    assert ids[-1] == end_id and ids.count(end_id) == 1
    assert ids[0] == tokenizer.convert_tokens_to_ids(START_TOKEN)
    assert model.generation_config.eos_token_id == end_id


def test_a_pad_token_that_is_the_end_marker_is_replaced(tmp_path: Path) -> None:
    model, tokenizer = _tiny(tmp_path)
    tokenizer.pad_token = END_TOKEN  # as a base whose pad doubles as its end token would have
    vocabulary = len(tokenizer)

    prepare_tokenizer_and_model(tokenizer, model)

    assert tokenizer.pad_token == PAD_TOKEN
    assert tokenizer.pad_token_id != tokenizer.convert_tokens_to_ids(END_TOKEN)
    assert len(tokenizer) == vocabulary + 1
    assert model.get_input_embeddings().num_embeddings == len(tokenizer)
    assert model.config.pad_token_id == tokenizer.pad_token_id


def test_preparing_twice_changes_nothing(tmp_path: Path) -> None:
    model, tokenizer = _tiny(tmp_path)
    prepare_tokenizer_and_model(tokenizer, model)
    vocabulary = len(tokenizer)

    prepare_tokenizer_and_model(tokenizer, model)

    assert len(tokenizer) == vocabulary
    assert SPECIAL_TOKENS and set(SPECIAL_TOKENS) <= set(tokenizer.all_special_tokens)

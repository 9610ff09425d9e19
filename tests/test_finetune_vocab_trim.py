"""Trimming the vocabulary to the corpus: same tokens and logits in, any text still spelled out."""

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from generator.ml.config import SamplingSettings
from generator.ml.format import END_TOKEN, SPECIAL_TOKENS, START_TOKEN, prompt_prefix
from generator.ml.sampling import Sampler
from generator.ml.training import FineTune, prepare_tokenizer_and_model
from generator.ml.vocab import AUTO_TRIM_ABOVE, should_trim, trim_vocabulary, vocabulary_rows
from tests.finetune_helpers import tiny_config
from tests.tiny_gemma import OTHER_TEXT, build_tiny_gemma
from tests.tiny_model import TINY_RECORDS, build_tiny_checkpoint

BUILDERS = pytest.mark.parametrize(
    "build", [build_tiny_gemma, build_tiny_checkpoint], ids=["gemma", "gpt2"]
)
OUTSIDE = "Zwölf Ärzte jagen 🎬 durch Tōkyō: quantum marmalade, ½ price! 東京"


def _prepared(path: Path) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    torch.manual_seed(0)  # the marker rows resize adds are random: the same for every copy
    prepare_tokenizer_and_model(tokenizer, model)
    model.eval()
    return model, tokenizer


@BUILDERS
def test_trimmed_model_gives_the_same_tokens_and_logits_for_corpus_text(
    tmp_path: Path, build: Callable[[Path], Path]
) -> None:
    path = build(tmp_path / "base")
    full_model, full_tokenizer = _prepared(path)
    model, tokenizer = _prepared(path)
    keep = [*SPECIAL_TOKENS, str(tokenizer.pad_token)]

    trimmed_tokenizer, trimmed = trim_vocabulary(model, tokenizer, TINY_RECORDS, keep)

    assert trimmed.new_size < trimmed.old_size == len(full_tokenizer)
    assert len(trimmed_tokenizer) == trimmed.new_size == vocabulary_rows(model)
    assert model.config.vocab_size == trimmed.new_size
    new_id = trimmed.new_id()
    kept = torch.tensor(trimmed.kept_ids)
    for text in TINY_RECORDS:
        full_ids = full_tokenizer(text, add_special_tokens=False).input_ids
        ids = trimmed_tokenizer(text, add_special_tokens=False).input_ids
        assert ids == [new_id[i] for i in full_ids]
        with torch.no_grad():
            full_logits = full_model(torch.tensor([full_ids])).logits[0]
            logits = model(torch.tensor([ids])).logits[0]
        torch.testing.assert_close(logits, full_logits[:, kept], rtol=0, atol=1e-5)
    for token in SPECIAL_TOKENS:
        assert trimmed_tokenizer.tokenize(token) == [token]
    assert model.config.eos_token_id == trimmed_tokenizer.convert_tokens_to_ids(END_TOKEN)
    assert model.config.bos_token_id == trimmed_tokenizer.convert_tokens_to_ids(START_TOKEN)
    assert model.config.pad_token_id == trimmed_tokenizer.pad_token_id
    # Tied output layer stays tied: one tensor, trimmed once.
    output = model.get_output_embeddings()
    assert output is not None and output.weight is model.get_input_embeddings().weight


@BUILDERS
def test_text_outside_the_corpus_still_round_trips(
    tmp_path: Path, build: Callable[[Path], Path]
) -> None:
    model, tokenizer = _prepared(build(tmp_path / "base"))
    trimmed_tokenizer, _ = trim_vocabulary(model, tokenizer, TINY_RECORDS[:2])

    for text in (OUTSIDE, *OTHER_TEXT, *TINY_RECORDS[2:]):
        ids = trimmed_tokenizer(text, add_special_tokens=False).input_ids
        assert trimmed_tokenizer.unk_token_id not in ids
        assert max(ids) < len(trimmed_tokenizer)
        assert trimmed_tokenizer.decode(ids) == text


def test_gemma_keeps_its_bos_post_processor_renumbered(tmp_path: Path) -> None:
    model, tokenizer = _prepared(build_tiny_gemma(tmp_path / "base"))
    trimmed_tokenizer, _ = trim_vocabulary(model, tokenizer, TINY_RECORDS)

    ids = trimmed_tokenizer("A salt trader").input_ids
    assert ids[0] == trimmed_tokenizer.bos_token_id
    assert trimmed_tokenizer.convert_ids_to_tokens(ids[0]) == "<bos>"


def test_real_bases_are_trimmed_and_tiny_test_models_not_unless_asked() -> None:
    assert should_trim(None, 262_144) and should_trim(None, 49_152) and not should_trim(None, 700)
    assert should_trim(True, 400) and not should_trim(False, AUTO_TRIM_ABOVE + 1)


def test_trimmed_fine_tune_saves_a_checkpoint_that_plain_loading_samples(tmp_path: Path) -> None:
    base = build_tiny_gemma(tmp_path / "base")
    records = TINY_RECORDS * 4
    fine_tune = FineTune(
        base,
        records,
        tmp_path / "run",
        tiny_config(steps=6, eval_every=3, sample_every=0, save_every=3, trim_vocab=True),
        show_progress=False,
    )
    vocabulary = fine_tune.start.vocabulary
    assert vocabulary is not None and vocabulary.new_size < vocabulary.old_size

    result = fine_tune.run()

    assert result.step == 6 and result.eval_loss is not None
    assert result.eval_loss < (result.base_eval_loss or 0)
    tokenizer = AutoTokenizer.from_pretrained(result.checkpoint)
    model = AutoModelForCausalLM.from_pretrained(result.checkpoint)
    assert len(tokenizer) == model.config.vocab_size == vocabulary.new_size
    for text in records:
        assert tokenizer.decode(tokenizer(text, add_special_tokens=False).input_ids) == text
    samples = Sampler(result.checkpoint, device="cpu").generate(
        prompt_prefix("movie"), 3, SamplingSettings(max_new_tokens=24, seed=1)
    )
    assert len(samples) == 3
    for sample in samples:
        assert sample.new_tokens > 0
        assert sample.text.startswith(prompt_prefix("movie").removeprefix(START_TOKEN))

"""A record survives encoding and decoding with the fine-tuning tokenizer, markers included."""

from pathlib import Path

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedTokenizerBase

from generator.ml.format import END_TOKEN, START_TOKEN, format_record, parse_record
from generator.ml.training import encode_records, prepare_tokenizer_and_model
from tests.tiny_model import build_tiny_checkpoint


@pytest.fixture
def tokenizer(tmp_path: Path) -> PreTrainedTokenizerBase:
    path = build_tiny_checkpoint(tmp_path / "base")
    tokenizer = AutoTokenizer.from_pretrained(path)
    prepare_tokenizer_and_model(tokenizer, AutoModelForCausalLM.from_pretrained(path))
    return tokenizer


@pytest.mark.parametrize(
    "kind, genres, title, description",
    [
        ("tv", ["TV Comedies", "Teen TV Shows"], "Pickle Street", "Four friends run a shop."),
        (
            "movie",
            [],
            "Zero Gravity Bakery",
            "A baker saves the crew's morale, one cake at a time.",
        ),
        ("movie", ["Dramas"], "Café Ünïcode", "Ein Bäcker in Zürich — und ein Geheimnis."),
    ],
)
def test_a_record_round_trips_through_the_tokenizer(
    tokenizer: PreTrainedTokenizerBase, kind: str, genres: list[str], title: str, description: str
) -> None:
    text = format_record(kind, genres, title, description)

    (ids,), truncated = encode_records(tokenizer, [text], max_length=512)
    decoded = tokenizer.decode(ids, skip_special_tokens=False)

    assert truncated == 0
    assert decoded == text
    assert decoded.startswith(START_TOKEN) and decoded.endswith(END_TOKEN)
    record = parse_record(decoded)
    assert (record.kind, record.genres, record.title, record.description) == (
        kind,
        tuple(genres),
        title,
        description,
    )


def test_records_longer_than_max_length_are_cut_and_counted(
    tokenizer: PreTrainedTokenizerBase,
) -> None:
    long = format_record("movie", ["Dramas"], "Long", "word " * 80)
    short = format_record("movie", ["Dramas"], "Short", "A short one.")

    encoded, truncated = encode_records(tokenizer, [long, short], max_length=32)

    assert truncated == 1
    assert len(encoded[0]) == 32
    assert tokenizer.decode(encoded[1], skip_special_tokens=False) == short

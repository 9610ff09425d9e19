"""The realism evaluation: a discriminator, diversity, lengths, format, real titles and copies."""

import random
from pathlib import Path

import pytest

from generator.ml.dataset import read_titles
from generator.ml.evaluation import distinct_n, evaluate, length_distance, parsed
from generator.ml.format import Sample, format_record
from generator.ml.overfit import Detector, Document, Thresholds
from tests.corpus import ORIGINALS, TRAINING


def _sample(text: str, reached_end: bool = True) -> Sample:
    return Sample(text=text, reached_end=reached_end, new_tokens=40, row=0)


def test_distinct_2_counts_repeated_bigrams_once() -> None:
    assert distinct_n(["a b a b"]) == pytest.approx(2 / 3)
    assert distinct_n(["one two three", "four five six"]) == 1.0
    assert distinct_n([]) == 0.0


def test_length_distance_is_zero_for_equal_lengths_and_one_for_disjoint_ones() -> None:
    assert length_distance(["a b c", "d e"], ["x y z", "v w"]) == 0.0
    assert length_distance(["a"] * 5, ["a b c d e f"] * 5) == 1.0


def test_unparsable_and_unfinished_samples_are_format_failures() -> None:
    good = format_record("movie", ["Dramas"], "Paper Moons", ORIGINALS[0])
    records, failures = parsed(
        [_sample(good), _sample(good, reached_end=False), _sample("no header at all")]
    )
    assert [record.title for record in records] == ["Paper Moons"]
    assert failures == 2


def test_real_titles_and_copies_are_counted_against_the_training_index() -> None:
    training = Detector(TRAINING)
    real_title = TRAINING[0].title
    samples = [
        _sample(format_record("movie", ["Dramas"], real_title.upper(), ORIGINALS[1])),
        _sample(format_record("movie", ["Dramas"], "Brand New Title", TRAINING[2].text)),
        _sample(format_record("movie", ["Dramas"], "Another New Title", ORIGINALS[2])),
        _sample(format_record("movie", ["Dramas"], "A Third New Title", ORIGINALS[3])),
    ]
    realism = evaluate(samples, [d.text for d in TRAINING[10:20]], training, Thresholds())

    assert realism.samples == 4
    assert realism.real_title_rate == pytest.approx(1 / 4)
    assert realism.copy_rate == pytest.approx(1 / 4)
    assert realism.format_failure_rate == 0.0
    assert realism.discriminator_auc is None  # too few texts for a classifier


@pytest.fixture
def real_descriptions(shared_csv: Path) -> list[str]:
    descriptions = [record.description for record in read_titles(shared_csv)]
    random.Random(7).shuffle(descriptions)
    return descriptions


@pytest.mark.slow
def test_a_classifier_cannot_tell_real_from_real(real_descriptions: list[str]) -> None:
    samples = [
        _sample(format_record("movie", ["Dramas"], f"Held Out {n}", text))
        for n, text in enumerate(real_descriptions[:150])
    ]
    realism = evaluate(samples, real_descriptions[150:300], Detector(), Thresholds())

    assert realism.discriminator_auc is not None
    assert 0.35 <= realism.discriminator_auc <= 0.65
    assert abs(realism.distinct_2 - realism.real_distinct_2) < 0.03
    assert realism.length_distance < 0.15


@pytest.mark.slow
def test_a_classifier_tells_templated_texts_from_real_ones(real_descriptions: list[str]) -> None:
    templated = [
        f"A young {job} must find a way to save the {place} in this heartfelt story."
        for job in ("chef", "nurse", "pilot", "baker", "farmer", "teacher", "singer", "boxer")
        for place in ("village", "school", "farm", "circus", "bakery", "team", "city", "island")
    ]
    samples = [
        _sample(format_record("movie", ["Dramas"], f"Made Up {n}", text))
        for n, text in enumerate(templated)
    ]
    documents = [Document(str(n), "", text) for n, text in enumerate(real_descriptions[400:600])]
    realism = evaluate(samples, real_descriptions[:64], Detector(documents), Thresholds())

    assert realism.discriminator_auc is not None and realism.discriminator_auc > 0.95
    assert realism.distinct_2 < realism.real_distinct_2
    assert realism.copy_rate == 0.0

"""On the real catalogue (when present): unseen real descriptions pass, planted copies are caught.

Reads the shared Netflix CSV only; nothing from it is written anywhere. bench/overfit.py runs the
full labelled evaluation; this keeps the headline numbers from regressing.
"""

import random
from pathlib import Path

import pytest

from generator.ml.dataset import read_titles
from generator.ml.overfit import Detector
from generator.ml.text import normalise

pytestmark = pytest.mark.slow


def test_held_out_real_descriptions_pass_and_planted_copies_are_caught(shared_csv: Path) -> None:
    records = read_titles(shared_csv)
    random.Random(11).shuffle(records)
    cut = round(len(records) * 0.9)
    indexed, held_out = records[:cut], records[cut:]
    detector = Detector.from_records(indexed)
    known = {normalise(r.description) for r in indexed}
    negatives = [r.description for r in held_out if normalise(r.description) not in known]
    rng = random.Random(11)
    positives = []
    for _ in range(300):
        first, second = (rng.choice(indexed).description.split() for _ in range(2))
        positives.append(" ".join(first[: len(first) // 2] + second[len(second) // 2 :]))
        positives.append(" ".join(first[: max(10, round(len(first) * 0.6))]))
        positives.append(" ".join(w.upper() if i % 3 else w for i, w in enumerate(first)))

    false_positives = sum(detector.check(text).overfit for text in negatives)
    caught = sum(detector.check(text).overfit for text in positives)

    assert false_positives / len(negatives) <= 0.01
    assert caught / len(positives) >= 0.97

"""The invented overfit corpus is a fair one: no training text copies another."""

from generator.ml.overfit import Detector
from tests.corpus import TRAINING


def test_no_training_text_copies_another() -> None:
    """Each invented description, checked against the other 29, is original: a fair corpus."""
    for document in TRAINING:
        others = Detector(other for other in TRAINING if other.key != document.key)
        verdict = others.check(document.text, document.title)
        assert not verdict.overfit, (document.key, verdict)

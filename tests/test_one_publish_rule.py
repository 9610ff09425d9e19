"""One rule decides whether a new text goes public: pool texts by OVERFIT_POLICY, pitches by
PITCH_PUBLISH, both only when the overfit check has no doubt, and copies are always held."""

from typing import Any

import pytest

from generator.ml.overfit import Verdict
from generator.models import GeneratedDescription
from generator.overfit_check import TRAINING, Check, status_for

Status = GeneratedDescription.Status


def check(score: float, overfit: bool = False) -> Check:
    verdict = Verdict(
        overfit=overfit, score=score, reason="copy" if overfit else "", nearest=None, span=""
    )
    return Check(verdict=verdict, source=TRAINING)


@pytest.mark.parametrize(
    ("policy", "pitch_publish", "pitched", "score", "overfit", "status"),
    [
        ("auto-approve", "review", False, 0.1, False, Status.APPROVED),
        ("auto-approve", "review", False, 0.7, False, Status.PENDING),  # doubt: a moderator looks
        ("review", "immediately", False, 0.1, False, Status.PENDING),
        ("auto-approve", "review", True, 0.1, False, Status.PENDING),
        ("review", "immediately", True, 0.1, False, Status.APPROVED),
        ("review", "immediately", True, 0.7, False, Status.PENDING),
        ("auto-approve", "immediately", True, 0.95, True, Status.OVERFIT),
        ("auto-approve", "immediately", False, 0.95, True, Status.OVERFIT),
    ],
)
def test_status_for(
    settings: Any,
    policy: str,
    pitch_publish: str,
    pitched: bool,
    score: float,
    overfit: bool,
    status: str,
) -> None:
    settings.OVERFIT_POLICY = policy
    settings.PITCH_PUBLISH = pitch_publish
    settings.OVERFIT_REVIEW_THRESHOLD = 0.6

    assert status_for(check(score, overfit), pitched) == status

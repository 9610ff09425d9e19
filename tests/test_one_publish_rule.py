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
    ("policy", "publish", "score", "overfit", "status"),
    [
        ("auto-approve", None, 0.1, False, Status.APPROVED),
        ("auto-approve", None, 0.7, False, Status.PENDING),  # doubt: a moderator looks
        ("review", None, 0.1, False, Status.PENDING),
        ("auto-approve", False, 0.1, False, Status.PENDING),  # pitches under PITCH_PUBLISH=review
        ("review", True, 0.1, False, Status.APPROVED),  # pitches under PITCH_PUBLISH=immediately
        ("review", True, 0.7, False, Status.PENDING),
        ("auto-approve", True, 0.95, True, Status.OVERFIT),
        ("auto-approve", None, 0.95, True, Status.OVERFIT),
    ],
)
def test_status_for(
    settings: Any,
    policy: str,
    publish: bool | None,
    score: float,
    overfit: bool,
    status: str,
) -> None:
    settings.OVERFIT_POLICY = policy
    settings.OVERFIT_REVIEW_THRESHOLD = 0.6

    assert status_for(check(score, overfit), publish) == status

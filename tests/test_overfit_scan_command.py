"""`manage.py scan_overfit` re-checks the pool after the training data or thresholds change."""

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone

from generator.models import GeneratedDescription
from tests.corpus import (
    ORIGINALS,
    TRAINING,
    fresh_training_detector,  # noqa: F401 - the fixture, used by pytestmark
    load_training_titles,
    text_of,
)
from tests.factories import GeneratedDescriptionFactory
from titles.models import TrainingTitle

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_training_detector")]
Status = GeneratedDescription.Status


def _scan(*args: str) -> str:
    out = StringIO()
    call_command("scan_overfit", *args, stdout=out)
    return out.getvalue()


def _status(description: GeneratedDescription) -> str:
    description.refresh_from_db()
    return description.status


def test_new_training_data_holds_texts_that_now_copy_it(capsys: Any) -> None:
    copy = GeneratedDescriptionFactory.create(text=text_of("f6"))
    original = GeneratedDescriptionFactory.create(text=ORIGINALS[0])
    load_training_titles()

    output = _scan()

    assert _status(copy) == Status.OVERFIT
    assert _status(original) == Status.APPROVED
    copy.refresh_from_db()
    assert copy.nearest_show_id == "f6" and copy.overfit_score == 1.0
    assert copy.checked_at is not None
    assert "Checked 2 texts: 1 score as overfit; 1 newly held, 0 released." in output
    assert "2/2" in capsys.readouterr().err  # the tqdm progress bar


def test_texts_released_when_their_source_leaves_the_training_set(settings: Any) -> None:
    load_training_titles()
    held = GeneratedDescriptionFactory.create(text=text_of("f2"), status=Status.OVERFIT)
    settings.OVERFIT_POLICY = "auto-approve"

    TrainingTitle.objects.filter(show_id="f2").delete()
    output = _scan()

    assert _status(held) == Status.APPROVED
    assert "1 released" in output


def test_released_texts_wait_for_review_under_the_review_policy(settings: Any) -> None:
    held = GeneratedDescriptionFactory.create(text=text_of("f2"), status=Status.OVERFIT)
    settings.OVERFIT_POLICY = "review"

    _scan()

    assert _status(held) == Status.PENDING


def test_raised_thresholds_release_and_lowered_ones_hold(settings: Any) -> None:
    load_training_titles()
    edited = GeneratedDescriptionFactory.create(
        text=text_of("f8").replace("Ottilie Brandt", "Margit Svensson")
    )
    _scan()
    assert _status(edited) == Status.OVERFIT

    settings.OVERFIT_THRESHOLD = 1.0
    settings.OVERFIT_LONG_RUN_WORDS = 40
    _scan()

    # Released, but it still scores above OVERFIT_REVIEW_THRESHOLD: a moderator decides.
    assert _status(edited) == Status.PENDING


def test_rejections_and_moderator_decisions_stand() -> None:
    moderator = User.objects.create_user("mod", is_staff=True)
    rejected = GeneratedDescriptionFactory.create(text=text_of("f9"), status=Status.REJECTED)
    overridden = GeneratedDescriptionFactory.create(
        text=text_of("f10"),
        status=Status.APPROVED,
        moderated_by=moderator,
        moderated_at=timezone.now(),
    )
    load_training_titles()

    output = _scan()

    assert _status(rejected) == Status.REJECTED
    assert _status(overridden) == Status.APPROVED
    rejected.refresh_from_db()
    assert rejected.overfit_score == 1.0  # the evidence is still brought up to date
    assert "1 texts a moderator approved score as overfit" in output


def test_the_later_of_two_near_duplicates_is_held() -> None:
    first = GeneratedDescriptionFactory.create(text=ORIGINALS[1])
    second = GeneratedDescriptionFactory.create(
        text=ORIGINALS[1].replace("fishing village", "mining town")
    )
    unrelated = GeneratedDescriptionFactory.create(text=ORIGINALS[2])

    _scan()

    assert _status(first) == Status.APPROVED
    assert _status(second) == Status.OVERFIT
    assert _status(unrelated) == Status.APPROVED
    second.refresh_from_db()
    assert second.overfit_reason == GeneratedDescription.OverfitReason.DUPLICATE
    assert second.nearest_generated_id == first.pk


def test_dry_run_changes_nothing() -> None:
    copy = GeneratedDescriptionFactory.create(text=TRAINING[0].text)
    load_training_titles()

    output = _scan("--dry-run")

    assert _status(copy) == Status.APPROVED
    copy.refresh_from_db()
    assert copy.overfit_score is None
    assert "1 would be newly held" in output


def test_an_empty_pool_says_so() -> None:
    assert _scan() == "No generated texts to check.\n"


def test_it_scans_more_than_one_batch(monkeypatch: Any) -> None:
    from generator.management.commands import scan_overfit

    monkeypatch.setattr(scan_overfit, "BATCH_SIZE", 3)
    texts = [GeneratedDescriptionFactory.create(text=f"{ORIGINALS[n]}") for n in range(7)]
    load_training_titles()

    output = _scan()

    assert "Checked 7 texts" in output
    unchecked = GeneratedDescription.objects.filter(pk__in=[t.pk for t in texts], checked_at=None)
    assert (len(texts), unchecked.count()) == (7, 0)

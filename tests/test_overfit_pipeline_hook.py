"""The pipeline's hook: apply_verdicts / stored_fields set status and evidence before storing."""

from typing import Any

import pytest

from generator import overfit_check
from generator.models import GeneratedDescription
from tests.corpus import (
    ORIGINALS,
    fresh_training_detector,  # noqa: F401 - the fixture, used by pytestmark
    load_training_titles,
    text_of,
)
from tests.factories import GeneratedDescriptionFactory, TrainingTitleFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_training_detector")]
Status = GeneratedDescription.Status
Reason = GeneratedDescription.OverfitReason

# An original text that borrows one nine-word run: above the review line, below the threshold.
BORDERLINE = (
    "A reclusive violinist in Lisbon hears her late teacher on the radio every night, until "
    "a radio host and a hacker race to find the source of the broadcast."
)


@pytest.fixture(autouse=True)
def corpus() -> None:
    load_training_titles()


def _row(text: str, title: str = "An Original Title") -> GeneratedDescription:
    # As the pipeline builds them: unsaved, approved until the check says otherwise.
    return GeneratedDescriptionFactory.build(title=title, text=text, status=Status.APPROVED)


def test_copies_are_held_with_their_evidence() -> None:
    rows = [_row(text_of("f12")), _row(ORIGINALS[0])]

    overfit_check.apply_verdicts(rows)

    held, original = rows
    assert held.status == Status.OVERFIT
    assert held.overfit_score == 1.0
    assert held.overfit_reason == Reason.EXACT
    assert held.nearest_show_id == "f12"
    assert held.copied_span == text_of("f12")
    assert held.checked_at is not None
    assert original.status == Status.APPROVED
    assert original.overfit_score is not None and original.overfit_score < 0.6
    assert original.overfit_reason == ""
    assert original.checked_at is not None


def test_a_real_title_is_held() -> None:
    rows = [_row(ORIGINALS[2], title="Signal Lost")]

    overfit_check.apply_verdicts(rows)

    assert rows[0].status == Status.OVERFIT
    assert rows[0].overfit_reason == Reason.TITLE
    assert rows[0].nearest_show_id == "f21"


@pytest.mark.parametrize(
    "title", ["Café Tromsø: Nights", "CAFE TROMSØ — NIGHTS!", "café  tromsø nights"]
)
def test_a_real_title_is_held_with_accents_case_and_punctuation_folded(
    settings: Any, title: str
) -> None:
    settings.OVERFIT_CHECK_TITLES = True
    TrainingTitleFactory.create(show_id="s-cafe", title="Café Tromsø: Nights")
    rows = [_row(ORIGINALS[5], title=title)]

    overfit_check.apply_verdicts(rows)

    assert rows[0].status == Status.OVERFIT
    assert rows[0].overfit_reason == Reason.TITLE
    assert rows[0].nearest_show_id == "s-cafe"
    assert rows[0].copied_span == title.strip()


def test_with_title_checks_off_a_real_title_is_not_held(settings: Any) -> None:
    settings.OVERFIT_CHECK_TITLES = False
    settings.OVERFIT_POLICY = "auto-approve"
    rows = [_row(ORIGINALS[2], title="SIGNAL LOST!"), _row(ORIGINALS[5], title="Hotel Vésuvius")]

    overfit_check.apply_verdicts(rows)

    assert [row.status for row in rows] == [Status.APPROVED, Status.APPROVED]
    assert [row.overfit_reason for row in rows] == ["", ""]


def test_auto_approve_sends_borderline_texts_to_review(settings: Any) -> None:
    settings.OVERFIT_POLICY = "auto-approve"
    rows = [_row(BORDERLINE), _row(ORIGINALS[4])]

    overfit_check.apply_verdicts(rows)

    assert settings.OVERFIT_REVIEW_THRESHOLD <= rows[0].overfit_score < settings.OVERFIT_THRESHOLD
    assert rows[0].status == Status.PENDING
    assert rows[1].status == Status.APPROVED


def test_review_policy_makes_every_original_text_pending(settings: Any) -> None:
    settings.OVERFIT_POLICY = "review"
    rows = [_row(ORIGINALS[4]), _row(text_of("f4"))]

    overfit_check.apply_verdicts(rows)

    assert [row.status for row in rows] == [Status.PENDING, Status.OVERFIT]


def test_thresholds_come_from_settings(settings: Any) -> None:
    edited = text_of("f8").replace("Ottilie Brandt", "Margit Svensson")
    assert overfit_check.stored_fields(edited)["status"] == Status.OVERFIT

    settings.OVERFIT_THRESHOLD = 1.0
    settings.OVERFIT_LONG_RUN_WORDS = 40

    assert overfit_check.stored_fields(edited)["status"] != Status.OVERFIT


def test_a_near_duplicate_of_a_stored_text_is_held() -> None:
    first = GeneratedDescriptionFactory.create(text=ORIGINALS[7])
    rows = [_row(ORIGINALS[7].replace("retired judge", "retired sheriff"))]

    overfit_check.apply_verdicts(rows)

    assert rows[0].status == Status.OVERFIT
    assert rows[0].overfit_reason == Reason.DUPLICATE
    assert rows[0].nearest_generated_id == first.pk
    assert rows[0].nearest_show_id == ""


def test_texts_stored_between_calls_join_the_pool() -> None:
    overfit_check.apply_verdicts([_row(ORIGINALS[9])])  # the pool index is now built
    later = GeneratedDescriptionFactory.create(text=ORIGINALS[10])

    fields = overfit_check.stored_fields(ORIGINALS[10].replace("rural", "remote"))

    assert fields["status"] == Status.OVERFIT
    assert fields["nearest_generated_id"] == later.pk


def test_near_duplicates_within_one_batch_are_held() -> None:
    rows = [_row(ORIGINALS[8]), _row(ORIGINALS[8].replace("vintage", "battered"))]

    overfit_check.apply_verdicts(rows)

    assert rows[0].status == Status.APPROVED
    assert rows[1].status == Status.OVERFIT
    assert rows[1].overfit_reason == Reason.DUPLICATE
    assert rows[1].nearest_generated_id is None


def test_generated_texts_may_share_a_title() -> None:
    GeneratedDescriptionFactory.create(text=ORIGINALS[5], title="The Projectionist")

    fields = overfit_check.stored_fields(ORIGINALS[6], title="The Projectionist")

    assert fields["status"] == Status.APPROVED


def test_the_detector_is_cached_and_rebuilt_when_the_training_set_changes() -> None:
    new_text = ORIGINALS[11]
    detector = overfit_check.get_detector()
    assert overfit_check.get_detector() is detector
    assert not detector.check(new_text).overfit

    TrainingTitleFactory.create(show_id="f99", title="Robot Finals", description=new_text)

    rebuilt = overfit_check.get_detector()
    assert rebuilt is not detector
    assert rebuilt.check(new_text).overfit
    assert overfit_check.stored_fields(new_text)["nearest_show_id"] == "f99"


def test_the_reset_empties_the_training_detector_cache() -> None:
    detector = overfit_check.get_detector()

    overfit_check.reset()

    rebuilt = overfit_check.get_detector()
    assert rebuilt is not detector
    assert len(rebuilt) == len(detector) > 0


def test_stored_fields_fit_the_model() -> None:
    fields = overfit_check.stored_fields(text_of("f30"), "Frontier Radio")

    description = GeneratedDescriptionFactory.create(title="T", text="x", **fields)

    description.refresh_from_db()
    assert description.status == Status.OVERFIT
    assert description.nearest_show_id == "f30"

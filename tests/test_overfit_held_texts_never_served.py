"""Texts held as overfit never reach the serving query, whichever way they were held."""

from io import StringIO

import pytest
from django.core.management import call_command

from generator import overfit_check
from generator.ml.text import text_hash
from generator.models import GeneratedDescription
from tests.corpus import (
    ORIGINALS,
    TRAINING,
    fresh_training_detector,  # noqa: F401 - the fixture, used by pytestmark
    load_training_titles,
)
from tests.factories import GeneratedDescriptionFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_training_detector")]
Status = GeneratedDescription.Status


def _servable_texts() -> set[str]:
    return set(GeneratedDescription.objects.servable().values_list("text", flat=True))


def test_checked_copies_are_stored_but_not_servable() -> None:
    load_training_titles()
    copies = [TRAINING[n].text.upper() for n in range(5)]
    rows = [
        GeneratedDescription(
            title=f"T{n}",
            kind="movie",
            text=text,
            text_hash=text_hash(text),
            status=Status.APPROVED,
        )
        for n, text in enumerate([*copies, *ORIGINALS[:5]])
    ]

    overfit_check.apply_verdicts(rows)
    GeneratedDescription.objects.bulk_create(rows)

    assert GeneratedDescription.objects.filter(status=Status.OVERFIT).count() == 5
    assert _servable_texts() == set(ORIGINALS[:5])
    assert not _servable_texts() & set(copies)


def test_texts_held_by_a_rescan_leave_the_serving_query() -> None:
    approved = GeneratedDescriptionFactory.create(
        text=TRAINING[3].text
    )  # stored before its source was a training title
    original = GeneratedDescriptionFactory.create(text=ORIGINALS[3])
    assert approved.text in _servable_texts()

    load_training_titles()
    call_command("scan_overfit", stdout=StringIO(), verbosity=0)

    assert _servable_texts() == {original.text}
    approved.refresh_from_db()
    assert approved.status == Status.OVERFIT


def test_servable_is_exactly_the_approved_texts() -> None:
    for status in Status:
        GeneratedDescriptionFactory.create(text=f"{ORIGINALS[6]} ({status.label})", status=status)

    assert list(GeneratedDescription.objects.servable().values_list("status", flat=True)) == [
        Status.APPROVED
    ]

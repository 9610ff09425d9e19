"""One re-check rule (generator.moderation.recheck) for the admin's action and scan_overfit."""

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from generator import moderation
from generator.models import GeneratedDescription
from tests.corpus import (
    ORIGINALS,
    fresh_training_detector,  # noqa: F401 - the fixture, used by pytestmark
    load_training_titles,
    text_of,
)
from tests.factories import GeneratedDescriptionFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("fresh_training_detector")]
Status = GeneratedDescription.Status
LIST = "/admin/generator/generateddescription/"


def _admin_recheck(descriptions: list[GeneratedDescription]) -> None:
    client = Client()
    client.force_login(User.objects.create_superuser("root"))
    response = client.post(
        f"{LIST}?queue=all",
        {"action": "recheck_selected", "_selected_action": [d.pk for d in descriptions]},
    )
    assert response.status_code == 302


def _scan(descriptions: list[GeneratedDescription]) -> None:
    call_command("scan_overfit", stdout=StringIO(), verbosity=0)


CALLERS = {"admin": _admin_recheck, "scan_overfit": _scan}


@pytest.mark.parametrize("caller", CALLERS)
def test_both_callers_apply_the_same_rule(caller: str, settings: Any) -> None:
    settings.OVERFIT_POLICY = "auto-approve"
    settings.PITCH_PUBLISH = "review"
    moderator = User.objects.create_user("mod", is_staff=True)
    decided = {"moderated_by": moderator, "moderated_at": timezone.now()}
    cases = {
        "copy": (GeneratedDescriptionFactory.create(text=text_of("f3")), Status.OVERFIT),
        "approved copy, moderated": (
            GeneratedDescriptionFactory.create(text=text_of("f4"), **decided),
            Status.APPROVED,
        ),
        "rejected copy": (
            GeneratedDescriptionFactory.create(text=text_of("f5"), status=Status.REJECTED),
            Status.REJECTED,
        ),
        "held original": (
            GeneratedDescriptionFactory.create(text=ORIGINALS[0], status=Status.OVERFIT),
            Status.APPROVED,
        ),
        "held original, moderated": (
            GeneratedDescriptionFactory.create(text=ORIGINALS[1], status=Status.OVERFIT, **decided),
            Status.OVERFIT,
        ),
        # Released from a hold, a visitor's pitch waits for a moderator as PITCH_PUBLISH says.
        "held pitched original": (
            GeneratedDescriptionFactory.create(
                text=ORIGINALS[2], status=Status.OVERFIT, pitched=True
            ),
            Status.PENDING,
        ),
    }
    load_training_titles()

    CALLERS[caller]([description for description, _ in cases.values()])

    outcome = {
        name: GeneratedDescription.objects.get(pk=description.pk)
        for name, (description, _) in cases.items()
    }
    assert {name: d.status for name, d in outcome.items()} == {
        name: expected for name, (_, expected) in cases.items()
    }
    # Evidence is refreshed on every text, whoever decided its status.
    assert [name for name, d in outcome.items() if d.checked_at is None] == []
    assert outcome["approved copy, moderated"].nearest_show_id == "f4"
    assert outcome["approved copy, moderated"].moderated_by == moderator


def test_a_dry_run_reports_the_change_and_writes_nothing() -> None:
    copy = GeneratedDescriptionFactory.create(text=text_of("f6"))
    load_training_titles()

    (result,) = moderation.recheck([copy], dry_run=True)

    assert (result.before, result.proposed, result.after) == (
        Status.APPROVED,
        Status.OVERFIT,
        Status.APPROVED,
    )
    assert result.wanted and not result.changed and not result.kept
    copy.refresh_from_db()
    assert (copy.status, copy.checked_at) == (Status.APPROVED, None)


def test_a_decision_made_during_the_recheck_wins() -> None:
    copy = GeneratedDescriptionFactory.create(text=text_of("f7"))
    load_training_titles()
    stale = GeneratedDescription.objects.get(pk=copy.pk)
    GeneratedDescription.objects.filter(pk=copy.pk).update(moderated_at=timezone.now())

    (result,) = moderation.recheck([stale])

    assert result.proposed == Status.OVERFIT and not result.changed
    copy.refresh_from_db()
    assert copy.status == Status.APPROVED

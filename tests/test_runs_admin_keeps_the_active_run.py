"""The admin cannot delete the run that writes every batch and pitch, alone or in a bulk delete."""

import pytest
from django.contrib.admin import helpers
from django.test import Client
from django.urls import reverse

from generator.models import ModelRun

pytestmark = pytest.mark.django_db


def test_the_active_run_has_no_delete_page(admin_client: Client) -> None:
    active = ModelRun.objects.create(base="tiny", status=ModelRun.Status.DONE, is_active=True)

    answer = admin_client.post(
        reverse("admin:generator_modelrun_delete", args=[active.pk]), {"post": "yes"}
    )

    assert answer.status_code == 403
    assert ModelRun.objects.filter(pk=active.pk).exists()


def test_a_bulk_delete_with_the_active_run_deletes_nothing(admin_client: Client) -> None:
    active = ModelRun.objects.create(base="tiny", status=ModelRun.Status.DONE, is_active=True)
    old = ModelRun.objects.create(base="tiny", status=ModelRun.Status.DONE)

    admin_client.post(
        reverse("admin:generator_modelrun_changelist"),
        {
            "action": "delete_selected",
            helpers.ACTION_CHECKBOX_NAME: [active.pk, old.pk],
            "post": "yes",
        },
    )

    assert ModelRun.objects.count() == 2


def test_an_old_run_can_still_be_deleted(admin_client: Client) -> None:
    ModelRun.objects.create(base="tiny", status=ModelRun.Status.DONE, is_active=True)
    old = ModelRun.objects.create(base="tiny", status=ModelRun.Status.DONE)

    admin_client.post(reverse("admin:generator_modelrun_delete", args=[old.pk]), {"post": "yes"})

    assert not ModelRun.objects.filter(pk=old.pk).exists()

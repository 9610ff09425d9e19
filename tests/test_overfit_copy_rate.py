"""Each model run's copy rate: the share of its outputs held as overfit."""

from typing import Any

import pytest
from django.test import Client

from generator.models import GeneratedDescription, ModelRun
from tests.corpus import ORIGINALS
from tests.factories import GeneratedDescriptionFactory

pytestmark = pytest.mark.django_db
Status = GeneratedDescription.Status


@pytest.fixture
def runs() -> tuple[ModelRun, ModelRun, ModelRun]:
    copying = ModelRun.objects.create(base="tiny")
    clean = ModelRun.objects.create(base="tiny")
    idle = ModelRun.objects.create(base="tiny")
    statuses = [Status.OVERFIT, Status.APPROVED, Status.PENDING, Status.REJECTED]
    for n, status in enumerate(statuses):
        GeneratedDescriptionFactory.create(text=ORIGINALS[n], status=status, model_run=copying)
    GeneratedDescriptionFactory.create(text=ORIGINALS[5], model_run=clean)
    return copying, clean, idle


def test_copy_rate_per_run(runs: tuple[ModelRun, ModelRun, ModelRun]) -> None:
    copying, clean, idle = runs

    assert copying.copy_rate() == 0.25
    assert clean.copy_rate() == 0.0
    assert idle.copy_rate() is None
    assert copying.copy_rate_label() == "25.0% (1 of 4)"
    assert idle.copy_rate_label() == "–"


def test_copy_rate_annotation_orders_runs(
    runs: tuple[ModelRun, ModelRun, ModelRun], django_assert_num_queries: Any
) -> None:
    copying, clean, idle = runs

    with django_assert_num_queries(1):
        annotated = list(ModelRun.objects.with_copy_rate().order_by("-copy_share", "pk"))
        labels = [run.copy_rate_label() for run in annotated]

    by_pk = {run.pk: run for run in annotated}
    assert by_pk[copying.pk].copy_share == 0.25
    assert by_pk[clean.pk].copy_share == 0.0
    assert by_pk[idle.pk].copy_share is None
    assert labels[annotated.index(by_pk[copying.pk])] == "25.0% (1 of 4)"


def test_the_review_list_filters_by_run_with_its_copy_rate(
    admin_client: Client, runs: tuple[ModelRun, ModelRun, ModelRun]
) -> None:
    copying, _clean, _idle = runs

    query: dict[str, str | int] = {"queue": "all", "run": copying.pk}
    response = admin_client.get("/admin/generator/generateddescription/", query)

    assert response.status_code == 200
    assert f"#{copying.pk}: 25.0% (1 of 4)".encode() in response.content
    shown = {d.pk for d in response.context["cl"].result_list}
    assert shown == set(copying.descriptions.values_list("pk", flat=True))

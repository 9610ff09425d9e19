"""The about page explains the site plainly; benchmark views stay off unless asked for."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_the_about_page_explains_data_model_fine_tuning_and_overfit_checks() -> None:
    page = Client().get("/about/")

    html = page.content.decode()
    assert page.status_code == 200
    for heading in ("The data", "The model", "Fine-tuning", "Overfit checks"):
        assert f"<h2>{heading}</h2>" in html
    assert 'aria-current="page">How it works</a>' in html


def test_the_benchmark_baseline_is_not_served_by_default() -> None:
    assert Client().get("/bench/baseline/").status_code == 404

from collections.abc import Callable
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def imported(netflix_csv: Callable[..., Path]) -> None:
    call_command("import_titles", str(netflix_csv()), stdout=StringIO(), stderr=StringIO())


def test_it_searches_titles_and_descriptions(admin_client: Client, imported: None) -> None:
    by_title = admin_client.get("/admin/titles/trainingtitle/", {"q": "pickle street"})
    by_text = admin_client.get("/admin/titles/trainingtitle/", {"q": "floating cake"})

    assert by_title.status_code == 200
    assert list(by_title.context["cl"].result_list.values_list("show_id", flat=True)) == ["x2"]
    assert list(by_text.context["cl"].result_list.values_list("show_id", flat=True)) == ["x3"]


def test_it_filters_by_kind_and_genre(admin_client: Client, imported: None) -> None:
    from titles.models import Genre

    comedies = Genre.objects.get(name="Comedies")
    movies = admin_client.get("/admin/titles/trainingtitle/", {"kind__exact": "movie"})
    genre = admin_client.get("/admin/titles/trainingtitle/", {"genres__id__exact": comedies.pk})

    assert sorted(movies.context["cl"].result_list.values_list("show_id", flat=True)) == [
        "x1",
        "x3",
    ]
    assert list(genre.context["cl"].result_list.values_list("show_id", flat=True)) == ["x3"]


def test_source_data_is_read_only(admin_client: Client, imported: None) -> None:
    from titles.models import TrainingTitle

    title = TrainingTitle.objects.get(show_id="x1")
    page = admin_client.get(f"/admin/titles/trainingtitle/{title.pk}/change/")
    post = admin_client.post(
        f"/admin/titles/trainingtitle/{title.pk}/change/", {"title": "Changed"}
    )
    add = admin_client.get("/admin/titles/trainingtitle/add/")

    assert page.status_code == 200
    assert b'name="title"' not in page.content
    assert post.status_code == 403
    assert add.status_code == 403
    title.refresh_from_db()
    assert title.title == "The Lighthouse Accountant"

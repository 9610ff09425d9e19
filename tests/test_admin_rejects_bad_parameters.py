"""Admin query and form parameters that are not ids answer 400, never a server error."""

import pytest
from django.test import Client

from generator.models import GeneratedDescription
from tests.factories import GeneratedDescriptionFactory

pytestmark = pytest.mark.django_db
LIST = "/admin/generator/generateddescription/"
BAD_IDS = ["²", "99999999999999999999999", "-1", "1.5", " 1", "١"]


@pytest.fixture
def admin(admin_client: Client) -> Client:
    admin_client.raise_request_exception = False  # a 500 is a status to assert, not a crash
    return admin_client


@pytest.mark.parametrize("value", BAD_IDS)
def test_a_bad_run_filter_is_a_bad_request(admin: Client, value: str) -> None:
    GeneratedDescriptionFactory.create()

    assert admin.get(LIST, {"queue": "all", "run": value}).status_code == 400


@pytest.mark.parametrize("value", BAD_IDS)
def test_a_bad_row_decision_is_a_bad_request(admin: Client, value: str) -> None:
    text = GeneratedDescriptionFactory.create(status=GeneratedDescription.Status.PENDING)

    answer = admin.post(f"{LIST}?queue=review", {"decide": f"approve:{value}"})

    assert answer.status_code == 400
    text.refresh_from_db()
    assert text.status == GeneratedDescription.Status.PENDING


@pytest.mark.parametrize("value", ["sideways:1", "approve", ":", ""])
def test_an_unknown_row_decision_is_a_bad_request(admin: Client, value: str) -> None:
    GeneratedDescriptionFactory.create(pk=1, status=GeneratedDescription.Status.PENDING)

    assert admin.post(f"{LIST}?queue=review", {"decide": value}).status_code == 400


@pytest.mark.parametrize("value", BAD_IDS)
def test_bad_object_ids_on_text_pages_are_not_found(admin: Client, value: str) -> None:
    assert admin.get(f"{LIST}{value}/change/").status_code in (302, 404)
    assert admin.post(f"{LIST}{value}/moderate/", {"decision": "approve"}).status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "description__id__exact=²",
        "description__id__exact=99999999999999999999999",
        "reason__exact=nonsense",
        "o=99",
        "p=²",
    ],
)
def test_the_feedback_lists_survive_bad_parameters(admin: Client, query: str) -> None:
    for model in ("report", "vote"):
        answer = admin.get(f"/admin/web/{model}/?{query}")
        assert answer.status_code in (200, 302, 400, 404), (model, query, answer.status_code)


@pytest.mark.parametrize("value", BAD_IDS)
def test_bad_selected_ids_for_an_action_are_a_bad_request(admin: Client, value: str) -> None:
    text = GeneratedDescriptionFactory.create(status=GeneratedDescription.Status.PENDING)

    answer = admin.post(
        f"{LIST}?queue=review",
        {"action": "approve_selected", "_selected_action": [str(text.pk), value], "index": 0},
    )

    assert answer.status_code == 400
    text.refresh_from_db()
    assert text.status == GeneratedDescription.Status.PENDING

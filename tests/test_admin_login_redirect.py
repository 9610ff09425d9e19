"""After logging in, a `next` that Django refuses lands on the admin index, not a 404."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/x", ""])
def test_a_rejected_next_lands_on_the_admin_index(next_url: str) -> None:
    User.objects.create_user("mod", password="correct horse battery", is_staff=True)
    client = Client()

    answer = client.post(
        f"/admin/login/?next={next_url}",
        {"username": "mod", "password": "correct horse battery", "next": next_url},
    )

    assert answer.status_code == 302
    assert answer["Location"] == "/admin/"
    assert client.get(answer["Location"]).status_code == 200

import pytest
from django.contrib.auth.models import User
from django.test import Client

pytestmark = pytest.mark.django_db


def _login(client: Client, password: str) -> int:
    response = client.post("/admin/login/?next=/admin/", {"username": "mod", "password": password})
    return response.status_code


def test_repeated_failures_lock_the_login_out(client: Client, settings: object) -> None:
    User.objects.create_user("mod", password="correct horse battery", is_staff=True)

    failures = [_login(client, f"wrong-{attempt}") for attempt in range(5)]
    locked = _login(client, "correct horse battery")

    assert failures[:4] == [200, 200, 200, 200]
    assert locked == 429


def test_a_good_login_before_the_limit_works(client: Client) -> None:
    User.objects.create_user("mod", password="correct horse battery", is_staff=True)
    _login(client, "wrong")

    assert _login(client, "correct horse battery") == 302

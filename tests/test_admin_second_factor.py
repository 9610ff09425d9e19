"""With ADMIN_REQUIRE_OTP on, staff need a one-time password from their TOTP device as well."""

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

pytestmark = pytest.mark.django_db
LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "correct horse battery"


@pytest.fixture
def moderator() -> User:
    return User.objects.create_user("mod", password=PASSWORD, is_staff=True, is_superuser=True)


def _token(device: TOTPDevice) -> str:
    value = totp(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{value:0{device.digits}d}"


def test_off_by_default_a_password_is_enough(moderator: User) -> None:
    client = Client()

    answer = client.post(LOGIN, {"username": "mod", "password": PASSWORD})

    assert answer.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_on_a_password_alone_does_not_open_the_admin(moderator: User, settings: Any) -> None:
    settings.ADMIN_REQUIRE_OTP = True
    TOTPDevice.objects.create(user=moderator, name="phone", confirmed=True)
    client = Client()

    page = client.get(LOGIN).content.decode()
    answer = client.post(LOGIN, {"username": "mod", "password": PASSWORD})

    assert 'name="otp_token"' in page
    assert answer.status_code == 200  # the form again, with an error
    assert client.get("/admin/").status_code == 302
    signed_in_without = Client()
    signed_in_without.force_login(moderator)  # a session from before the setting was turned on
    assert signed_in_without.get("/admin/").status_code == 302


def test_on_the_password_and_the_devices_token_open_the_admin(
    moderator: User, settings: Any
) -> None:
    settings.ADMIN_REQUIRE_OTP = True
    device = TOTPDevice.objects.create(user=moderator, name="phone", confirmed=True)
    client = Client()

    answer = client.post(
        LOGIN,
        {
            "username": "mod",
            "password": PASSWORD,
            "otp_device": device.persistent_id,
            "otp_token": _token(device),
        },
    )

    assert answer.status_code == 302
    assert client.get("/admin/").status_code == 200
    # A wrong token is refused (and the device then throttles further tries for a while).
    wrong = Client().post(LOGIN, {"username": "mod", "password": PASSWORD, "otp_token": "000000"})
    assert wrong.status_code == 200 and "_auth_user_id" not in wrong.client.session

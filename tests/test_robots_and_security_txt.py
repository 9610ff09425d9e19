"""robots.txt lets crawlers in but not into the admin; security.txt follows RFC 9116."""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_robots_txt_allows_the_site_and_disallows_the_admin() -> None:
    answer = Client().get("/robots.txt")

    lines = answer.content.decode().splitlines()
    assert answer.status_code == 200
    assert answer["Content-Type"] == "text/plain; charset=utf-8"
    assert lines[0] == "User-agent: *"
    assert "Allow: /" in lines
    assert "Disallow: /admin/" in lines
    assert "Sitemap: http://testserver/sitemap.xml" in lines


def test_a_custom_admin_url_is_not_published_in_robots_txt(settings: Any) -> None:
    settings.ADMIN_URL = "backstage-7f3a/"

    body = Client().get("/robots.txt").content.decode()

    assert "backstage" not in body and "Allow: /" in body


def test_security_txt_has_the_contact_and_an_expiry(settings: Any) -> None:
    settings.SECURITY_CONTACT = "mailto:security@example.org"

    answer = Client().get("/.well-known/security.txt")

    body = answer.content.decode()
    fields = dict(line.split(": ", 1) for line in body.splitlines() if ": " in line)
    expires = datetime.strptime(fields["Expires"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    now = datetime.now(UTC)
    assert answer.status_code == 200
    assert answer["Content-Type"] == "text/plain; charset=utf-8"
    assert fields["Contact"] == "mailto:security@example.org"
    assert now < expires <= now + timedelta(days=366)
    assert fields["Canonical"] == "http://testserver/.well-known/security.txt"
    assert fields["Preferred-Languages"] == "en"
    assert re.fullmatch(r"[\x20-\x7e\n]*", body)


def test_a_configured_expiry_is_used(settings: Any) -> None:
    settings.SECURITY_CONTACT = "https://example.org/security"
    settings.SECURITY_TXT_EXPIRES = "2031-01-01T00:00:00Z"

    body = Client().get("/.well-known/security.txt").content.decode()

    assert "Expires: 2031-01-01T00:00:00Z" in body.splitlines()
    assert "Contact: https://example.org/security" in body.splitlines()


def test_without_a_contact_there_is_no_security_txt(settings: Any) -> None:
    settings.SECURITY_CONTACT = ""

    assert Client().get("/.well-known/security.txt").status_code == 404

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

SITE_POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}


def _directives(header: str) -> dict[str, list[str]]:
    """The policy as {directive: sources}; django-csp does not promise an order."""
    parts = [part.split() for part in header.split(";") if part.strip()]
    return {part[0]: part[1:] for part in parts}


def test_pages_allow_only_the_sites_own_scripts_and_styles(client: Client) -> None:
    response = client.get("/")

    assert _directives(response["Content-Security-Policy"]) == SITE_POLICY
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_error_pages_carry_the_policy_too(client: Client) -> None:
    response = client.get("/d/999999/")

    assert response.status_code == 404
    assert _directives(response["Content-Security-Policy"]) == SITE_POLICY


def test_the_admin_keeps_scripts_same_origin(client: Client) -> None:
    response = client.get("/admin/login/")

    policy = _directives(response["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]
    assert policy == {**SITE_POLICY, "style-src": ["'self'", "'unsafe-inline'"]}


def test_the_favicon_is_found_from_the_admin_too(client: Client) -> None:
    response = client.get("/favicon.ico")

    assert response.status_code == 301
    assert response["Location"] == "/static/img/favicon.svg"

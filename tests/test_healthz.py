from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from generator.models import ModelRun, Pool

pytestmark = pytest.mark.django_db


def test_it_reports_database_broker_model_and_pools(client: Client, tmp_path: Path) -> None:
    run = ModelRun.objects.create(
        base="tiny", status="done", is_active=True, step=5, checkpoint_path=str(tmp_path)
    )
    Pool.objects.create(key="all", low_water=5, high_water=10)

    response = client.get("/healthz/")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is True
    assert body["model"] == {"ok": True, "active": True}
    assert body["active_model_run"] == {"id": run.pk, "base": "tiny", "step": 5}
    assert body["pools"] == [{"pool": "all", "fresh": 0, "low_water": 5, "high_water": 10}]
    assert response["Cache-Control"].startswith("max-age=0")


def test_with_only_the_broker_down_pages_serve_so_it_is_degraded_not_down(
    client: Client, settings: Any
) -> None:
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"

    response = client.get("/healthz/")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["broker"]["ok"] is False
    assert "Connection" in body["broker"]["error"]
    assert body["database"]["ok"] is True


def test_a_missing_active_checkpoint_is_a_503(client: Client, tmp_path: Path) -> None:
    ModelRun.objects.create(
        base="tiny", status="done", is_active=True, checkpoint_path=str(tmp_path / "gone")
    )

    response = client.get("/healthz/")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failing" and body["model"]["ok"] is False
    assert "checkpoint is missing" in body["model"]["error"]


def test_a_site_still_training_is_healthy(client: Client) -> None:
    assert client.get("/healthz/").json()["model"] == {"ok": True, "active": False}


def test_liveness_answers_even_with_the_site_failing(client: Client, tmp_path: Path) -> None:
    ModelRun.objects.create(
        base="tiny", status="done", is_active=True, checkpoint_path=str(tmp_path / "gone")
    )

    assert client.get("/healthz/").status_code == 503
    answer = client.get("/livez/")
    assert answer.status_code == 200 and answer.json() == {"status": "alive"}


def test_it_only_answers_get(client: Client) -> None:
    assert client.post("/healthz/").status_code == 405


@pytest.fixture
def broker_down(settings: Any) -> None:
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"


def _run_with_a_path_base() -> None:
    ModelRun.objects.create(base="/srv/models/secret-base", status="done", is_active=True)


@pytest.mark.usefixtures("broker_down")
def test_strangers_get_the_status_and_ok_or_fail_only() -> None:
    _run_with_a_path_base()

    response = Client(REMOTE_ADDR="203.0.113.7").get("/healthz/")

    assert response.status_code == 503  # the run's checkpoint is not on this machine
    assert response.json() == {
        "status": "failing",
        "database": {"ok": True},
        "broker": {"ok": False},
        "model": {"ok": False},
    }
    assert b"127.0.0.1" not in response.content and b"/srv/models" not in response.content


@pytest.mark.usefixtures("broker_down")
def test_a_proxied_request_from_loopback_is_not_local() -> None:
    proxied = Client(REMOTE_ADDR="127.0.0.1", headers={"X-Forwarded-For": "203.0.113.7"})

    body = proxied.get("/healthz/").json()

    assert body == {
        "status": "degraded",
        "database": {"ok": True},
        "broker": {"ok": False},
        "model": {"ok": True},
    }


@pytest.mark.usefixtures("broker_down")
def test_staff_from_anywhere_get_the_details() -> None:
    _run_with_a_path_base()
    staff = Client(REMOTE_ADDR="203.0.113.7")
    staff.force_login(User.objects.create_user("ops", is_staff=True))

    body = staff.get("/healthz/").json()

    assert "127.0.0.1:1" in body["broker"]["error"]
    assert body["active_model_run"]["base"] == "/srv/models/secret-base"


@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_localhost_gets_the_details(address: str) -> None:
    _run_with_a_path_base()

    body = Client(REMOTE_ADDR=address).get("/healthz/").json()

    assert body["database"]["vendor"]
    assert body["active_model_run"]["base"] == "/srv/models/secret-base"

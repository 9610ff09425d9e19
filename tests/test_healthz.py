from typing import Any

import pytest
from django.test import Client

from generator.models import ModelRun, Pool

pytestmark = pytest.mark.django_db


def test_it_reports_database_broker_model_and_pools(client: Client) -> None:
    run = ModelRun.objects.create(base="tiny", status="done", is_active=True, step=5)
    Pool.objects.create(key="all", low_water=5, high_water=10)

    response = client.get("/healthz/")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is True
    assert body["active_model_run"] == {"id": run.pk, "base": "tiny", "step": 5}
    assert body["pools"] == [{"pool": "all", "fresh": 0, "low_water": 5, "high_water": 10}]
    assert response["Cache-Control"].startswith("max-age=0")


def test_it_answers_503_when_the_broker_is_down(client: Client, settings: Any) -> None:
    # Port 1 on loopback: nothing listens, the connection is refused at once.
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"

    response = client.get("/healthz/")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["broker"]["ok"] is False
    assert "Connection" in body["broker"]["error"]
    assert body["database"]["ok"] is True


def test_it_only_answers_get(client: Client) -> None:
    assert client.post("/healthz/").status_code == 405

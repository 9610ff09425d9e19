"""`/healthz/`: database, broker, active model run and pool levels, for compose and balancers.

503 when the site cannot do its job: the database is down (no page serves), or the active run's
checkpoint is not on this machine (every batch and pitch fails, the pools drain). With only the
broker down, pages still serve from the pools: 200, status "degraded", the broker marked failing.
Anyone gets the status and ok/fail per component; the details (error messages naming hosts and
ports, the active run's base, pool levels) only staff and requests made on the machine itself.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from config.client import direct_peer

if TYPE_CHECKING:
    from generator.models import ModelRun

CHECK_TIMEOUT_SECONDS = 1.0


def _database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"ok": True, "vendor": connection.vendor}
    except Exception as exc:  # noqa: BLE001 - any failure means "down", reported not raised
        connection.close()  # the next request reconnects instead of reusing a broken connection
        return {"ok": False, "error": _first_line(exc)}


def _broker() -> dict:
    url = settings.CELERY_BROKER_URL
    try:
        if url.startswith(("redis://", "rediss://")):
            import redis

            client = redis.Redis.from_url(
                url,
                socket_connect_timeout=CHECK_TIMEOUT_SECONDS,
                socket_timeout=CHECK_TIMEOUT_SECONDS,
            )
            client.ping()
            return {"ok": True, "transport": "redis"}
        folder = str(settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("data_folder_in", ""))
        if url.startswith("filesystem://"):
            os.makedirs(folder, exist_ok=True)
            if not os.access(folder, os.W_OK):
                return {"ok": False, "transport": "filesystem", "error": f"{folder} not writable"}
            return {"ok": True, "transport": "filesystem"}
        return {"ok": True, "transport": url.split("://", 1)[0], "checked": False}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": _first_line(exc)}


def _model(run: ModelRun | None) -> dict:
    """The active run's checkpoint is here to write with; a site still training has none yet."""
    if run is None:
        return {"ok": True, "active": False}
    if not run.checkpoint_path or not os.path.isdir(run.checkpoint_path):
        return {
            "ok": False,
            "error": f"run #{run.pk}'s checkpoint is missing: {run.checkpoint_path}",
        }
    return {"ok": True, "active": True}


def _active_run() -> tuple[ModelRun | None, dict | None]:
    """The active run, or what kept it from being read (the database check reports the outage)."""
    from generator.models import ModelRun

    try:
        return ModelRun.objects.active(), None
    except Exception as exc:  # noqa: BLE001
        return None, {"ok": False, "error": _first_line(exc)}


def _model_and_pools(run: ModelRun | None) -> tuple[dict | None, list[dict]]:
    from generator.models import Pool
    from generator.pools import fresh_count

    active = {"id": run.pk, "base": run.base, "step": run.step} if run else None
    pools = [
        {
            "pool": pool.key,
            "fresh": fresh_count(pool),
            "low_water": pool.low_water,
            "high_water": pool.high_water,
        }
        for pool in Pool.objects.select_related("genre")
    ]
    return active, pools


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


def may_see_details(request: HttpRequest) -> bool:
    """Staff, or a request made on this machine (not relayed by a proxy)."""
    if _is_local(request):
        return True
    try:
        user = request.user
        return bool(user.is_active and user.is_staff)
    except Exception:  # noqa: BLE001 - the session lives in the database, which may be down
        return False


def _is_local(request: HttpRequest) -> bool:
    # A request relayed by a proxy on this machine arrives from loopback but is not local.
    peer = direct_peer(request)
    return peer is not None and peer.is_loopback


@never_cache
@require_safe
def livez(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers requests. Touches nothing else (readiness is /healthz/)."""
    return JsonResponse({"status": "alive"})


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    database = _database()
    broker = _broker()
    run, unread = _active_run() if database["ok"] else (None, {"ok": False, "error": "no database"})
    model = unread or _model(run)
    serving = database["ok"] and model["ok"]
    body: dict = {
        "status": ("ok" if broker["ok"] else "degraded") if serving else "failing",
        "database": {"ok": database["ok"]},
        "broker": {"ok": broker["ok"]},
        "model": {"ok": model["ok"]},
    }
    if may_see_details(request):
        active_run, pools = _model_and_pools(run) if database["ok"] else (None, [])
        body.update(
            database=database, broker=broker, model=model, active_model_run=active_run, pools=pools
        )
    return JsonResponse(body, status=200 if serving else 503)

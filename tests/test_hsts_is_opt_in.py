"""HSTS preload and includeSubDomains are the operator's choice: off unless the environment asks."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "SECRET_KEY": "Zq8-production-secret-for-tests-only-a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5",
    "ALLOWED_HOSTS": "movies.example.org",
    "DATABASE_URL": "postgres://tmdne:pw@db.internal:5432/tmdne",
    "REDIS_URL": "redis://cache.internal:6379/0",
}
HSTS_VARIABLES = ("SECURE_HSTS_PRELOAD", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SITE_HTTPS", "DEBUG")


def _run(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in (*PRODUCTION_ENV, *HSTS_VARIABLES)}
    return subprocess.run(
        [sys.executable, *args],
        env={**clean, "DATA_DIR": str(tmp_path), **PRODUCTION_ENV, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def _hsts(env: dict[str, str], tmp_path: Path) -> list[int | bool]:
    code = (
        "import sys; sys.path[:0] = ['site', '.']; import django, json, os;"
        "os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; django.setup();"
        "from django.conf import settings as s; print(json.dumps([s.SECURE_HSTS_SECONDS,"
        " s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD]))"
    )
    result = _run(["-c", code], env, tmp_path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_production_sends_hsts_without_preload_or_subdomains(tmp_path: Path) -> None:
    assert _hsts({}, tmp_path) == [31536000, False, False]


def test_the_operator_opts_in(tmp_path: Path) -> None:
    env = {"SECURE_HSTS_PRELOAD": "1", "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true"}

    assert _hsts(env, tmp_path) == [31536000, True, True]


def test_check_deploy_stays_clean(tmp_path: Path) -> None:
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], {}, tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout

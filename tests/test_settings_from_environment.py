import json
import os
import subprocess
import sys
from pathlib import Path

from tests.settings_process import settings_process

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "SECRET_KEY": "k" * 20 + "-production-secret-for-tests-only-0123456789",
    "ALLOWED_HOSTS": "movies.example.org",
    "DATABASE_URL": "postgres://tmdne:pw@db.internal:5432/tmdne",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "MODEL_DIR": "/srv/models",
}


def _settings(env: dict[str, str], tmp_path: Path) -> dict:
    code = (
        "import json; print(json.dumps({"
        "'debug': s.DEBUG, 'hosts': s.ALLOWED_HOSTS, 'db': s.DATABASES['default'],"
        "'broker': s.CELERY_BROKER_URL, 'model_dir': str(s.MODEL_DIR),"
        "'ssl': s.SECURE_SSL_REDIRECT, 'key': s.SECRET_KEY, 'cache': s.CACHES['default'],"
        "'proxies': [s.TRUSTED_PROXY_COUNT, s.TRUSTED_PROXIES]}, default=str))"
    )
    result = settings_process(code, tmp_path, env, drop=PRODUCTION_ENV.keys() | {"SITE_HTTPS"})
    return json.loads(result.stdout)


def test_embedded_defaults_use_sqlite_and_a_filesystem_broker(tmp_path: Path) -> None:
    settings = _settings({}, tmp_path)

    assert settings["db"]["ENGINE"] == "django.db.backends.sqlite3"
    assert settings["db"]["NAME"] == str(tmp_path / "db.sqlite3")
    assert settings["broker"] == "filesystem://"
    assert settings["cache"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"
    assert settings["proxies"] == [0, []]
    assert settings["debug"] is False
    assert len(settings["key"]) >= 50
    assert (tmp_path / "secret_key").read_text() == settings["key"]
    assert _settings({}, tmp_path)["key"] == settings["key"]


def test_production_variables_select_postgres_and_redis(tmp_path: Path) -> None:
    settings = _settings(PRODUCTION_ENV, tmp_path)

    assert settings["db"]["ENGINE"] == "django.db.backends.postgresql"
    assert settings["db"]["HOST"] == "db.internal"
    assert settings["broker"] == "redis://cache.internal:6379/0"
    assert settings["cache"]["BACKEND"] == "django_redis.cache.RedisCache"
    assert settings["cache"]["LOCATION"] == "redis://cache.internal:6379/0"
    assert settings["hosts"] == ["movies.example.org"]
    assert settings["model_dir"] == "/srv/models"
    assert settings["ssl"] is True
    assert settings["key"] == PRODUCTION_ENV["SECRET_KEY"]


def test_a_malformed_boolean_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**os.environ, "DATA_DIR": str(tmp_path), "DEBUG": "maybe"},
        capture_output=True,
        text=True,
    )

    assert result.returncode != 0
    assert "DEBUG='maybe' is not a boolean" in result.stderr


def test_proxies_in_front_of_gunicorn_come_from_the_environment(tmp_path: Path) -> None:
    env = {"TRUSTED_PROXY_COUNT": "2", "TRUSTED_PROXIES": "10.0.0.0/8, 2001:db8::1"}

    assert _settings(env, tmp_path)["proxies"] == [2, ["10.0.0.0/8", "2001:db8::1"]]


def test_a_malformed_trusted_proxy_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**os.environ, "DATA_DIR": str(tmp_path), "TRUSTED_PROXIES": "10.0.0.0/8,proxy"},
        capture_output=True,
        text=True,
    )

    assert result.returncode != 0
    assert "TRUSTED_PROXIES entry 'proxy' is not an IP or a network" in result.stderr


def test_embedded_settings_pass_check(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**env, "DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_settings_pass_check_deploy(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SITE_HTTPS"}
    env.update(PRODUCTION_ENV, DATA_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout

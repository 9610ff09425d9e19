import copy
import http.server
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from honcho.environ import parse_procfile  # type: ignore[import-untyped]

from deploy.topology import COUNTERPARTS, DriftError, interpolate, plan

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
PROCFILE = ROOT / "Procfile"
DOCKERFILE = ROOT / "Dockerfile"
CADDYFILE = ROOT / "deploy" / "Caddyfile"
APP_SERVICES = ("web", "worker", "train-worker", "beat")
GPU_SERVICES = ("worker", "train-worker")


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _procfile() -> dict[str, list[str]]:
    """The Procfile's processes as honcho reads them, each command split into its words."""
    processes = parse_procfile(PROCFILE.read_text()).processes
    return {name: shlex.split(command) for name, command in processes.items()}


def _without_address(command: list[str]) -> list[str]:
    # Host and port differ by design: dev.py run passes them in, compose publishes 0.0.0.0:8000.
    if "--bind" not in command:
        return command
    at = command.index("--bind") + 1
    assert re.fullmatch(r"\S+:\S+", command[at]), command[at]
    return [*command[:at], "HOST:PORT", *command[at + 1 :]]


def test_it_names_every_service() -> None:
    services = _compose()["services"]

    assert {"postgres", "redis", "migrate", "proxy", *APP_SERVICES} <= set(services)


def test_every_procfile_process_is_a_compose_service_with_the_same_command() -> None:
    procfile = _procfile()
    services = _compose()["services"]

    assert list(procfile) == list(APP_SERVICES)
    for name, command in procfile.items():
        assert _without_address(services[name]["command"]) == _without_address(command), name


def _image_commands() -> list[list[str]]:
    """The Dockerfile's CMD lines in stage order: the app image's, then the proxy's."""
    lines = DOCKERFILE.read_text().splitlines()
    return [json.loads(line[4:]) for line in lines if line.startswith("CMD ")]


def test_the_image_runs_the_procfiles_web_command() -> None:
    app, proxy = _image_commands()
    web = _compose()["services"]["web"]["command"]

    assert _without_address(app) == _without_address(_procfile()["web"])
    assert web[web.index("--bind") + 1] == "0.0.0.0:8000"
    assert proxy == _compose()["services"]["proxy"]["command"]


def test_every_gunicorn_runs_sync_workers_without_the_shared_control_socket() -> None:
    # gunicorn 27's default control socket is one path per user: two gunicorns delete each other's.
    for command in (_procfile()["web"], _compose()["services"]["web"]["command"],
                    _image_commands()[0]):  # fmt: skip
        assert "--no-control-socket" in command
        assert command[command.index("--worker-class") + 1] == "sync"


def test_only_the_proxy_publishes_ports() -> None:
    services = _compose()["services"]

    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"proxy"}
    assert {"80:80", "443:443"} <= set(services["proxy"]["ports"])
    assert services["proxy"]["environment"]["UPSTREAM"] == "web:8000"
    assert services["proxy"]["depends_on"]["web"]["condition"] == "service_healthy"


def test_the_caddyfile_gets_every_variable_it_needs_from_compose() -> None:
    lines = [line for line in CADDYFILE.read_text().splitlines() if not line.startswith("#")]
    required = set(re.findall(r"\{\$(\w+)\}", "\n".join(lines)))  # those with no default
    proxy = _compose()["services"]["proxy"]

    assert required == {"SITE_ADDRESS", "TLS_ISSUER", "STATIC_ROOT"}
    assert required <= set(proxy["environment"])
    assert proxy["environment"]["STATIC_ROOT"] == "/app/staticfiles"  # where the proxy image has it


def test_the_topology_script_has_a_counterpart_for_every_compose_service() -> None:
    compose = _compose()

    order = plan(compose, parse_procfile(PROCFILE.read_text()).processes)

    assert sorted(compose["services"]) == sorted(COUNTERPARTS)
    on_demand = {name for name, service in compose["services"].items() if service.get("profiles")}
    assert on_demand == {"backup"}
    assert sorted(order) == sorted(set(compose["services"]) - on_demand)
    assert order.index("postgres") < order.index("migrate") < order.index("web")
    assert order.index("web") < order.index("proxy")


def test_a_compose_service_the_topology_does_not_know_is_drift() -> None:
    compose = _compose()
    procfile = parse_procfile(PROCFILE.read_text()).processes
    grown = copy.deepcopy(compose)
    grown["services"]["flower"] = {"image": "mher/flower"}
    shrunk = copy.deepcopy(compose)
    del shrunk["services"]["proxy"]

    with pytest.raises(DriftError, match="flower"):
        plan(grown, procfile)
    with pytest.raises(DriftError, match="proxy"):
        plan(shrunk, procfile)
    with pytest.raises(DriftError, match="release"):
        plan(compose, {**procfile, "release": "python manage.py migrate"})


def test_compose_variables_are_read_as_compose_reads_them() -> None:
    variables = {"SET": "value", "EMPTY": ""}

    assert interpolate("${SET:?x}/${EMPTY:-fallback}/${UNSET-d}/$$HOSTNAME", variables) == (
        "value/fallback/d/$HOSTNAME"
    )
    with pytest.raises(DriftError, match="set it"):
        interpolate("${EMPTY:?set it}", variables)


class _RecordHost(http.server.BaseHTTPRequestHandler):
    seen: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers["Host"]))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_the_web_health_check_asks_for_an_allowed_host() -> None:
    check = _compose()["services"]["web"]["healthcheck"]["test"]
    server = http.server.HTTPServer(("127.0.0.1", 0), _RecordHost)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    env = {**os.environ, "PORT": str(server.server_address[1]),
           "ALLOWED_HOSTS": ".movies.example.org,127.0.0.1"}  # fmt: skip

    result = subprocess.run([sys.executable, *check[2:]], cwd=ROOT, env=env, timeout=30)
    thread.join(10)
    server.server_close()

    assert check[:2] == ["CMD", "python"]
    assert result.returncode == 0
    assert _RecordHost.seen == [("/livez/", "movies.example.org")]


def test_app_services_share_one_definition() -> None:
    services = _compose()["services"]

    for name in ("migrate", *APP_SERVICES):
        assert services[name]["image"] == "thismoviedoesnotexist:latest"
        assert services[name]["environment"]["REDIS_URL"] == "redis://redis:6379/0"
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgres://")
        assert services[name]["env_file"] == [{"path": ".env", "required": False}]
    # Checkpoints are written where training and generation run, and only read elsewhere.
    # The workers draw share cards into the volume the web serves them from.
    for name in GPU_SERVICES:
        assert services[name]["volumes"] == ["models:/models", "cards:/data/cards"], name
    for name in ("migrate", *(set(APP_SERVICES) - set(GPU_SERVICES))):
        assert services[name]["volumes"] == ["models:/models:ro", "cards:/data/cards:ro"], name


def test_every_mounted_path_exists_in_the_image_and_belongs_to_the_app_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    app_stage = dockerfile.split("FROM debian")[0]
    user = re.search(r"^USER (\S+)$", app_stage, re.MULTILINE)
    assert user is not None
    made = re.search(r"mkdir -p ([^&]+)&& chown (\S+) ([^\n]+)", app_stage.replace("\\\n", " "))
    assert made is not None and made.group(2) == user.group(1)
    created, owned = set(made.group(1).split()), set(made.group(3).split())
    mounts = {
        volume.split(":")[1]
        for name, service in _compose()["services"].items()
        if name in ("migrate", "backup", *APP_SERVICES)
        for volume in service.get("volumes", [])
    }
    assert mounts and mounts <= created & owned, mounts
    env = re.search(r"^ENV (.*DATA_DIR=.*)$", app_stage, re.MULTILINE)
    assert env is not None
    paths = dict(pair.split("=", 1) for pair in env.group(1).split())
    assert {paths["DATA_DIR"], paths["MODEL_DIR"]} <= created & owned


def test_secrets_stay_out_of_the_image_and_out_of_git() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".env.*", "tests", ".pytest_cache", ".venv"} <= set(ignored)
    assert "/.env" in (ROOT / ".gitignore").read_text().split()


def test_the_proxy_trusts_only_compose_s_own_network() -> None:
    compose = _compose()
    subnet = compose["networks"]["default"]["ipam"]["config"][0]["subnet"]
    trusted = compose["services"]["web"]["environment"]["TRUSTED_PROXIES"]
    assert interpolate(trusted, {}) == subnet


def test_backups_run_on_demand_with_a_pg_dump_that_fits_the_server() -> None:
    services = _compose()["services"]
    backup = services["backup"]

    assert backup["command"][:3] == ["python", "manage.py", "backup"]
    assert backup["volumes"] == ["models:/models:ro", "backups:/backups"]
    assert "backups" in _compose()["volumes"]
    # The app image's pg_dump is Debian trixie's, PostgreSQL 17: the server must not be newer.
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11-slim-trixie AS app" in dockerfile
    assert "postgresql-client" in dockerfile
    assert int(services["postgres"]["image"].split(":")[1]) <= 17


def test_beats_health_check_reads_its_schedule_files_age(tmp_path: Path) -> None:
    check = _compose()["services"]["beat"]["healthcheck"]["test"]
    env = {**os.environ, "DATA_DIR": str(tmp_path)}

    def run() -> int:
        return subprocess.run(check[1:], cwd=ROOT, env=env, capture_output=True).returncode

    missing = run()
    (tmp_path / "celerybeat-schedule.db").write_bytes(b"")
    fresh = run()
    old = time.time() - 3600
    os.utime(tmp_path / "celerybeat-schedule.db", (old, old))

    assert (missing, fresh, run()) == (1, 0, 1)


def test_every_service_rotates_its_logs() -> None:
    for name, service in _compose()["services"].items():
        options = service["logging"]["options"]
        assert service["logging"]["driver"] == "json-file", name
        assert options["max-size"] == "10m" and options["max-file"] == "5", name


def test_the_proxy_does_not_serve_the_static_manifest() -> None:
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    manifest = caddyfile.index("handle /static/staticfiles.json")
    assert manifest < caddyfile.index("handle_path /static/*")
    assert "respond 404" in caddyfile[manifest : caddyfile.index("}", manifest)]


def test_the_gpu_workers_reserve_an_nvidia_device_and_run_one_task() -> None:
    services = _compose()["services"]

    for name in GPU_SERVICES:
        devices = services[name]["deploy"]["resources"]["reservations"]["devices"]
        assert devices[0]["driver"] == "nvidia", name
        assert "gpu" in devices[0]["capabilities"], name
        command = services[name]["command"]
        assert command[command.index("--concurrency") + 1] == "1", name
        assert command[command.index("--prefetch-multiplier") + 1] == "1", name
    queues = {
        services[name]["command"][services[name]["command"].index("-Q") + 1]
        for name in GPU_SERVICES
    }
    assert queues == {"pitch,default,gpu", "train"}


def test_the_workers_consume_every_queue_a_task_is_routed_to() -> None:
    services = _compose()["services"]
    consumed = set()
    for name in GPU_SERVICES:
        command = services[name]["command"]
        consumed.update(command[command.index("-Q") + 1].split(","))

    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    assert routed == consumed


def test_worker_healthchecks_ping_the_names_the_workers_run_under() -> None:
    services = _compose()["services"]

    for name in GPU_SERVICES:
        command = services[name]["command"]
        node = command[command.index("-n") + 1].replace("%h", "$$HOSTNAME")
        assert f"-d {node} " in services[name]["healthcheck"]["test"][1], name


def test_services_have_healthchecks_and_persistent_volumes() -> None:
    compose = _compose()
    services = compose["services"]

    for name in ("postgres", "redis", "web", "beat", "proxy", *GPU_SERVICES):
        assert services[name]["healthcheck"]["test"], name
    assert "--appendonly" in services["redis"]["command"]
    assert {"postgres-data", "redis-data", "models", "caddy-data"} <= set(compose["volumes"])
    assert "caddy-data:/data" in services["proxy"]["volumes"]  # certificates survive a restart
    assert "postgres-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]


def test_the_rate_limiter_is_reached_where_it_listens_and_holds_no_database_secret() -> None:
    services = _compose()["services"]
    limiter = services["limiter"]
    command = limiter["command"]

    port = limiter["environment"]["PORT"]  # its health check's
    assert command[command.index("--bind") + 1] == f"0.0.0.0:{port}"
    assert services["proxy"]["environment"]["LIMITER"] == f"limiter:{port}"
    assert services["proxy"]["depends_on"]["limiter"]["condition"] == "service_healthy"
    assert set(limiter["environment"]) == {"REDIS_URL", "PORT"}
    assert limiter["build"] == services["web"]["build"]  # the app's image, built, never pulled
    assert limiter["image"] == services["web"]["image"]
    assert limiter["healthcheck"]["test"][1:] == ["python", "deploy/healthcheck.py", "/healthz"]
    assert not limiter.get("ports")

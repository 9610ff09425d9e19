import json
import re
import shlex
from pathlib import Path

import yaml
from honcho.environ import parse_procfile  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
PROCFILE = ROOT / "Procfile"
DOCKERFILE = ROOT / "Dockerfile"
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

    assert {"postgres", "redis", "migrate", *APP_SERVICES} <= set(services)


def test_every_procfile_process_is_a_compose_service_with_the_same_command() -> None:
    procfile = _procfile()
    services = _compose()["services"]

    assert list(procfile) == list(APP_SERVICES)
    for name, command in procfile.items():
        assert _without_address(services[name]["command"]) == _without_address(command), name


def test_the_image_runs_the_procfiles_web_command() -> None:
    cmd = next(line for line in DOCKERFILE.read_text().splitlines() if line.startswith("CMD "))

    assert _without_address(json.loads(cmd[4:])) == _without_address(_procfile()["web"])
    assert _compose()["services"]["web"]["command"][-4:-2] == ["--bind", "0.0.0.0:8000"]


def test_app_services_share_one_definition() -> None:
    services = _compose()["services"]

    for name in ("migrate", *APP_SERVICES):
        assert services[name]["image"] == "thismoviedoesnotexist:latest"
        assert services[name]["environment"]["REDIS_URL"] == "redis://redis:6379/0"
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgres://")
        assert "models:/models" in services[name]["volumes"]


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
    assert queues == {"default,gpu", "train"}


def test_worker_healthchecks_ping_the_names_the_workers_run_under() -> None:
    services = _compose()["services"]

    for name in GPU_SERVICES:
        command = services[name]["command"]
        node = command[command.index("-n") + 1].replace("%h", "$$HOSTNAME")
        assert f"-d {node} " in services[name]["healthcheck"]["test"][1], name


def test_services_have_healthchecks_and_persistent_volumes() -> None:
    compose = _compose()
    services = compose["services"]

    for name in ("postgres", "redis", "web", *GPU_SERVICES):
        assert services[name]["healthcheck"]["test"], name
    assert "--appendonly" in services["redis"]["command"]
    assert {"postgres-data", "redis-data", "models"} <= set(compose["volumes"])
    assert "postgres-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]

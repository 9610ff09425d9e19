from pathlib import Path

import yaml

COMPOSE = Path(__file__).resolve().parent.parent / "docker-compose.yml"


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_it_names_every_service() -> None:
    services = _compose()["services"]

    assert {"postgres", "redis", "web", "worker", "gpu-worker", "beat"} <= set(services)


def test_app_services_share_one_definition() -> None:
    services = _compose()["services"]

    for name in ("web", "worker", "gpu-worker", "beat"):
        assert services[name]["image"] == "thismoviedoesnotexist:latest"
        assert services[name]["environment"]["REDIS_URL"] == "redis://redis:6379/0"
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgres://")
        assert "models:/models" in services[name]["volumes"]


def test_the_gpu_worker_reserves_an_nvidia_device_and_runs_one_task() -> None:
    gpu = _compose()["services"]["gpu-worker"]

    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia"
    assert "gpu" in devices[0]["capabilities"]
    command = gpu["command"]
    assert command[command.index("--concurrency") + 1] == "1"
    assert command[command.index("--prefetch-multiplier") + 1] == "1"


def test_services_have_healthchecks_and_persistent_volumes() -> None:
    compose = _compose()
    services = compose["services"]

    for name in ("postgres", "redis", "web", "worker", "gpu-worker"):
        assert services[name]["healthcheck"]["test"], name
    assert "--appendonly" in services["redis"]["command"]
    assert {"postgres-data", "redis-data", "models"} <= set(compose["volumes"])
    assert "postgres-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]

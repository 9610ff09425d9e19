"""The production topology (deploy/topology.py): compose's services from Debian packages and the
virtualenv, checked through the Caddy proxy, slow-client attack and rate limits included."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.topology import prerequisites

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

pytestmark = pytest.mark.slow
# Lines deploy/topology.py must print as PASS (it prints FAIL, and exits 1, for any other outcome).
CHECKS = (
    "GET / over HTTPS: 200",
    "htmx 'Another one': 200",
    "vote POST with the CSRF token: 200",
    "admin login page 200, login POST 302",
    "rate limit at the proxy: /best/ from one address",
    "/healthz/ through the proxy: 200",
    "compose's health check for beat: passes",
    "compose's health check for proxy: passes",
    "2 slow sockets",
    "10 slow sockets",
    "every service still running",
)


@pytest.mark.skipif(
    bool(os.environ.get("DATABASE_URL")),
    reason="runs once per `dev.py test`, in the SQLite leg: it starts its own PostgreSQL and Redis",
)
def test_the_production_topology_serves_through_the_proxy() -> None:
    missing = prerequisites()
    if missing and not IN_CI:
        pytest.skip(f"needs {', '.join(missing)} (CI installs them; see dev.py test)")

    run = subprocess.run(
        [sys.executable, "deploy/topology.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=480,
        # The topology brings its own database and Redis; the suite's must not leak into it.
        env={k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
    )

    report = run.stdout + run.stderr[-3000:]
    assert run.returncode == 0, report
    assert "FAIL" not in run.stdout, report
    passed = [line[len("PASS ") :] for line in run.stdout.splitlines() if line.startswith("PASS ")]
    for check in CHECKS:
        assert any(line.startswith(check) for line in passed), report

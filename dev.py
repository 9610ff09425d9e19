#!/usr/bin/env python3
"""Set up and run This Movie Does Not Exist with nothing but Python 3.11 and pip.

    python3 dev.py run     # virtualenv + deps, migrate, then web server, Celery workers and beat
    python3 dev.py test    # virtualenv + deps, ruff, lint-imports, mypy, pytest on SQLite,
                           # then PostgreSQL + Redis
    python3 dev.py manage ARGS...   # manage.py inside the virtualenv

Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

from deploy.services import ensure_machine_postgres, ensure_machine_redis

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("VENV_DIR", ROOT / ".venv"))
BIN = VENV / "bin"
PYTHON = BIN / "python"
STAMP = VENV / ".tmdne-installed"
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test"
REDIS_TEST_URL = "redis://127.0.0.1:6379/15"


def say(message: str) -> None:
    print(f"[dev] {message}", flush=True)


def _requirements(with_dev: bool) -> tuple[list[str], list[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    requirements = list(project["project"]["dependencies"])
    if with_dev:
        requirements += project["project"]["optional-dependencies"]["dev"]
    no_deps = project["tool"]["thismoviedoesnotexist"]["no-deps"]
    return requirements, no_deps


def _fingerprint(requirements: list[str]) -> str:
    return hashlib.sha256("\n".join(requirements).encode()).hexdigest()


def ensure_venv(with_dev: bool) -> None:
    """Create .venv and install the pinned requirements, skipping work already done."""
    requirements, no_deps = _requirements(with_dev)
    wanted = _fingerprint(requirements + no_deps)
    # An environment with the dev tools also serves `run`; one without them does not serve `test`.
    good_enough = {wanted, _fingerprint(sum(_requirements(True), []))}
    if STAMP.exists() and STAMP.read_text().strip() in good_enough:
        return
    if not PYTHON.exists():
        say(f"creating virtualenv in {VENV}")
        venv.EnvBuilder(with_pip=True).create(VENV)
    say("installing pinned requirements (first run takes a few minutes)")
    pip = [str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, *requirements], check=True)
    subprocess.run([*pip, "--no-deps", *no_deps], check=True)
    STAMP.write_text(wanted)


def manage(*args: str, env: dict[str, str] | None = None) -> None:
    subprocess.run([str(PYTHON), str(ROOT / "manage.py"), *args], check=True, env=env, cwd=ROOT)


def ensure_postgres() -> bool:
    return ensure_machine_postgres(say)


def ensure_redis() -> bool:
    return ensure_machine_redis(say)


def ensure_chromium() -> bool:
    """Debian's Chromium for the browser tests; installed with apt-get where we are allowed to."""
    if Path("/usr/bin/chromium").exists():
        return True
    if shutil.which("apt-get") and os.geteuid() == 0:
        say("installing Debian's chromium for the browser tests")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (["update", "-qq"], ["install", "-y", "-qq", "chromium"]):
            subprocess.run(["apt-get", *command], check=False, stdout=subprocess.DEVNULL, env=env)
    return Path("/usr/bin/chromium").exists()


def ensure_proxy() -> bool:
    """Debian's caddy for the production topology test; installed with apt-get where allowed."""
    if shutil.which("caddy"):
        return True
    if shutil.which("apt-get") and os.geteuid() == 0:
        say("installing Debian's caddy for the production topology test")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (["update", "-qq"], ["install", "-y", "-qq", "caddy"]):
            subprocess.run(["apt-get", *command], check=False, stdout=subprocess.DEVNULL, env=env)
    return shutil.which("caddy") is not None


def _pytest(label: str, env: dict[str, str], extra: list[str]) -> int:
    say(f"pytest on {label}")
    code = subprocess.run([str(PYTHON), "-m", "pytest", *extra], env=env, cwd=ROOT).returncode
    if code == 5:
        say(f"pytest collected no tests on {label}: that is a failure")
        return 1
    return code


def _static_checks() -> bool:
    """The import-linter contracts and mypy, both configured in pyproject.toml."""
    # lint-imports finds the packages through sys.path: site/ for config, titles and web.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "site"), str(ROOT)])}
    checks = {
        "lint-imports (import contracts)": [str(BIN / "lint-imports")],
        "mypy (type check)": [str(PYTHON), "-m", "mypy"],
    }
    for label, command in checks.items():
        say(f"running {label}")
        if subprocess.run(command, cwd=ROOT, env=env).returncode != 0:
            say(f"{label} failed: fix the errors above")
            return False
    return True


def command_test(args: argparse.Namespace) -> int:
    ensure_venv(with_dev=True)
    in_ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    for check in (["check", "."], ["format", "--check", "."]):
        if subprocess.run([str(BIN / "ruff"), *check], cwd=ROOT).returncode != 0:
            say(f"ruff {check[0]} failed")
            return 1
    if not _static_checks():
        return 1
    base_env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    base_env["TMDNE_BROWSER"] = "1" if ensure_chromium() else ""
    if in_ci and not base_env["TMDNE_BROWSER"]:
        say("CI needs /usr/bin/chromium for the browser tests and could not install it")
        return 1
    if not ensure_proxy() and in_ci:
        say("CI needs Debian's caddy for the production topology test and could not install it")
        return 1
    failures = 0
    # Two processes on the embedded leg: its cache and broker are per process or per test folder;
    # the services leg stays in one, since its tests share one Redis database and broker.
    parallel = [] if "-n" in args.pytest_args else ["-n", "2", "--dist", "loadfile"]
    sqlite_args = [*parallel, *args.pytest_args]
    failures += _pytest("SQLite + filesystem broker", base_env, sqlite_args) != 0
    if args.sqlite_only:
        return 1 if failures else 0
    if ensure_postgres() and ensure_redis():
        services_env = {**base_env, "DATABASE_URL": POSTGRES_URL, "REDIS_URL": REDIS_TEST_URL}
        failures += _pytest("PostgreSQL + Redis", services_env, args.pytest_args) != 0
    elif in_ci:
        say("CI must also run against PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379)")
        failures += 1
    else:
        say("PostgreSQL or Redis is not available here: skipped that run (CI runs it)")
    return 1 if failures else 0


def command_run(args: argparse.Namespace) -> int:
    ensure_venv(with_dev=False)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.setdefault("SITE_HTTPS", "0")
    env.setdefault("WEB_CONCURRENCY", "2")  # gunicorn's worker count
    # The Procfile runs the virtualenv's gunicorn and celery; honcho hands PORT to web, the first.
    env.update(PATH=os.pathsep.join([str(BIN), env.get("PATH", "")]))
    env.update(WEB_HOST=args.host, PORT=str(args.port))
    # gunicorn's workers write their request counts here for /metrics to sum; empty at each start.
    metrics = Path(env.get("DATA_DIR", ROOT / "data")) / "metrics"
    shutil.rmtree(metrics, ignore_errors=True)
    metrics.mkdir(parents=True)
    env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(metrics))
    manage("migrate", "--no-input", "-v", "0", env=env)
    manage("setup_moderators", "-v", "0", env=env)
    manage("collectstatic", "--no-input", "-v", "0", env=env)
    if args.titles is not None:
        # Import the titles and queue the first fine-tune; the workers started below train it.
        titles = str(Path(args.titles).expanduser().resolve())
        try:
            manage("bootstrap", "--titles", titles, env=env)
        except subprocess.CalledProcessError:
            say("nothing was started: fix the titles file named above and run again")
            return 1
    say(f"site on http://{args.host}:{args.port}/  (admin: /admin/; Ctrl-C stops everything)")
    say("broker: " + ("Redis at " + env["REDIS_URL"] if env.get("REDIS_URL") else "filesystem"))
    # honcho starts the Procfile's processes and, on Ctrl-C, SIGTERM or one exiting, stops them all.
    # `--env /dev/null`: the settings come from this environment, not from compose's .env file.
    honcho = [str(BIN / "honcho"), "start", "--procfile", str(ROOT / "Procfile")]
    honcho += ["--app-root", str(ROOT), "--env", os.devnull]
    os.chdir(ROOT)
    os.execve(honcho[0], honcho, env)


def command_manage(args: argparse.Namespace) -> int:
    ensure_venv(with_dev=False)
    return subprocess.run([str(PYTHON), str(ROOT / "manage.py"), *args.rest], cwd=ROOT).returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="set up and run the site, workers and beat")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    run.add_argument(
        "--titles",
        metavar="CSV",
        help="import this Netflix titles CSV and, unless a model is active or training, "
        "queue the first fine-tune; it serves once it passes the quality gate",
    )
    run.set_defaults(func=command_run)
    test = commands.add_parser("test", help="set up and run the whole test suite")
    test.add_argument("--sqlite-only", action="store_true", help="skip the PostgreSQL + Redis run")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed on to pytest")
    test.set_defaults(func=command_test)
    manage_parser = commands.add_parser("manage", help="run manage.py in the virtualenv")
    manage_parser.add_argument("rest", nargs=argparse.REMAINDER)
    manage_parser.set_defaults(func=command_manage)
    args = parser.parse_args()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

"""docker-compose.yml's production topology without Docker, checked through the proxy.

    .venv/bin/python deploy/topology.py     # start everything, check, stop; exit 1 on a failure

Every compose service gets its counterpart here, from Debian packages and the virtualenv: a
private PostgreSQL cluster, a private redis-server (compose's arguments), the migrate command,
the Procfile's web, worker, train-worker and beat lines, and Debian's caddy with compose's
command and deploy/Caddyfile (Caddy's internal CA instead of ACME). The environment is compose's,
interpolated with test values (DEBUG off, ALLOWED_HOSTS=tmdne.test, SITE_HTTPS on), service
addresses rewritten to private ports on 127.0.0.1. A compose service with no counterpart, or a
Procfile line with no compose service, stops the script before anything starts.

Checks, all through the proxy unless said: the home page, htmx's "another one", a vote with its
CSRF token, the admin login, static files, the body limit, /healthz/ (and compose's own health
checks), and slow clients (2, then 10 sockets holding a partial request) while normal visitors'
p99 stays under a second. Every wait has a deadline; everything started is stopped at the end.
"""

from __future__ import annotations

import argparse
import http.client
import http.cookies
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from honcho.environ import parse_procfile  # type: ignore[import-untyped]

if not __package__:  # run as a script (python deploy/topology.py): its package is the root's
    sys.path[:0] = [str(Path(__file__).resolve().parent.parent / part) for part in ("", "site")]
from config.proxy_limits import ROUTE_LIMITS  # noqa: E402
from deploy.services import (  # noqa: E402
    LOOPBACK,
    PrivateCluster,
    free_port,
    port_open,
    redis_command,
    wait_for,
)

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
PROCFILE = ROOT / "Procfile"
BIN = Path(sys.executable).parent
SITE_HOST = "tmdne.test"
MODERATOR = ("moderator", "topology-moderator-password-7Qx")
WEB_WORKERS = 2  # the attack report's two sync workers
# A visitor stuck behind a slow socket waits seconds (gunicorn's sync worker until the proxy's
# 5 s cut-off); a second is far below that and above a busy 2-core CI box's scheduling noise.
SLOW_P99_LIMIT_MS = 1000.0

# How each compose service is started here. A compose service missing from this map is drift.
COUNTERPARTS = {
    "postgres": "a private cluster from Debian's postgresql (initdb, pg_ctl)",
    "redis": "Debian's redis-server with compose's arguments",
    "migrate": "compose's command, with the virtualenv's python",
    "web": "the Procfile's web line",
    "worker": "the Procfile's worker line",
    "train-worker": "the Procfile's train-worker line",
    "beat": "the Procfile's beat line",
    "limiter": "compose's command, with the virtualenv's gunicorn",
    "proxy": "Debian's caddy with compose's command and deploy/Caddyfile",
    "backup": "not started: on demand (profile backup); tests/test_backup_restore.py runs it",
}
PROCFILE_SERVICES = ("web", "worker", "train-worker", "beat")


class DriftError(RuntimeError):
    """docker-compose.yml, the Procfile and this script no longer describe the same services."""


def load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    compose: dict[str, Any] = yaml.safe_load(path.read_text())
    return compose


def load_procfile(path: Path = PROCFILE) -> dict[str, str]:
    processes: dict[str, str] = parse_procfile(path.read_text()).processes
    return processes


def plan(compose: dict[str, Any], procfile: dict[str, str]) -> list[str]:
    """Compose's services in start order (depends_on first); DriftError when they disagree."""
    services: dict[str, Any] = compose["services"]
    if missing := [name for name in services if name not in COUNTERPARTS]:
        raise DriftError(f"compose services with no counterpart in deploy/topology.py: {missing}")
    if extra := [name for name in COUNTERPARTS if name not in services]:
        raise DriftError(f"deploy/topology.py starts services compose does not have: {extra}")
    if unmatched := sorted(set(procfile) ^ set(PROCFILE_SERVICES)):
        raise DriftError(f"Procfile processes and compose's app services differ: {unmatched}")
    order: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            raise DriftError(f"depends_on cycle: {' -> '.join((*path, name))}")
        if name not in order:
            for dependency in services[name].get("depends_on") or []:
                visit(dependency, (*path, name))
            order.append(name)

    for name, service in services.items():
        if not service.get("profiles"):  # profiled services run on demand, not on `up`
            visit(name, ())
    return order


_VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}|\$(\w+)")


def interpolate(value: str, variables: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR:?error} and $$, as `docker compose` reads them."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(4)
        operator, argument = match.group(2), match.group(3) or ""
        current = variables.get(name)
        unset = current is None or (current == "" and operator in (":-", ":?"))
        if operator in ("?", ":?") and unset:
            raise DriftError(f"compose needs {name}: {argument}")
        if operator in ("-", ":-") and unset:
            return argument
        return current or ""

    return _VARIABLE.sub(one, value)


PROXY_ATTEMPTS = 3


def prerequisites() -> list[str]:
    """What this machine lacks to run the topology (empty when it has everything)."""
    missing = [tool for tool in ("caddy", "redis-server", "redis-cli") if not shutil.which(tool)]
    if not PrivateCluster.installed():
        missing.append("PostgreSQL server (initdb)")
    if os.geteuid() == 0 and not shutil.which("runuser"):
        missing.append("runuser (initdb refuses root)")
    return missing


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    log: Path


@dataclass
class Topology:
    """compose's services as local processes; use as a context manager (start, then stop all)."""

    workdir: Path
    compose: dict[str, Any] = field(default_factory=load_compose)
    procfile: dict[str, str] = field(default_factory=load_procfile)
    web_workers: int = WEB_WORKERS
    ports: dict[str, int] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    postgres: PrivateCluster | None = None
    _tls: ssl.SSLContext | None = None

    def __post_init__(self) -> None:
        self.order = plan(self.compose, self.procfile)
        for name in ("postgres", "redis", "web", "limiter", "http", "https", "proxy-health"):
            self.ports[name] = free_port()
        self.variables = {
            "SECRET_KEY": "topology-" + "k" * 50,
            "ALLOWED_HOSTS": SITE_HOST,
            "POSTGRES_PASSWORD": "topology-db-password",
            "SITE_ADDRESS": SITE_HOST,
            "TLS_ISSUER": "internal",  # Caddy's own CA: no ACME from a test
        }
        # compose's service addresses, as this script runs them.
        self.addresses = {
            "postgres:5432": f"{LOOPBACK}:{self.ports['postgres']}",
            "redis:6379": f"{LOOPBACK}:{self.ports['redis']}",
            "web:8000": f"{LOOPBACK}:{self.ports['web']}",
            "limiter:8001": f"{LOOPBACK}:{self.ports['limiter']}",
        }

    # -- environments -------------------------------------------------------------------------

    def _compose_env(self, name: str) -> dict[str, str]:
        environment = self.compose["services"][name].get("environment") or {}
        env = {}
        for key, value in environment.items():
            value = interpolate(str(value), self.variables)
            for container, local in self.addresses.items():
                value = value.replace(container, local)
            env[key] = value
        return env

    def app_env(self) -> dict[str, str]:
        """The x-app environment, plus what the Dockerfile sets (paths, workers) for this host."""
        keep = ("PATH", "LANG", "LC_ALL", "TMPDIR", "HOME")
        env = {key: value for key, value in os.environ.items() if key in keep}
        env.update(self._compose_env("web"))
        env.update(
            PATH=os.pathsep.join([str(BIN), env.get("PATH", "/usr/bin:/bin")]),
            PYTHONPATH=os.pathsep.join([str(ROOT / "site"), str(ROOT)]),
            PYTHONUNBUFFERED="1",
            DATA_DIR=str(self.workdir / "data"),
            MODEL_DIR=str(self.workdir / "models"),
            STATIC_ROOT=str(self.workdir / "static"),
            WEB_CONCURRENCY=str(self.web_workers),
            WEB_HOST=LOOPBACK,
            PORT=str(self.ports["web"]),
            HOSTNAME=socket.gethostname(),  # compose's worker health checks ping worker@$HOSTNAME
            PGHOST=LOOPBACK,  # compose's pg_isready check, pointed at the private cluster
            PGPORT=str(self.ports["postgres"]),
        )
        return env

    def limiter_env(self) -> dict[str, str]:
        """compose's limiter environment (Redis and nothing of the database's), on this host."""
        app = self.app_env()
        kept = ("PATH", "PYTHONPATH", "PYTHONUNBUFFERED", "HOME")
        env: dict[str, str] = {key: app[key] for key in kept if key in app}
        env.update(self._compose_env("limiter"), PORT=str(self.ports["limiter"]))
        return env

    def proxy_env(self) -> dict[str, str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.workdir)}
        env.update(self._compose_env("proxy"))
        env.update(
            STATIC_ROOT=str(self.workdir / "static"),
            XDG_DATA_HOME=str(self.workdir / "caddy-data"),
            XDG_CONFIG_HOME=str(self.workdir / "caddy-config"),
            HTTP_PORT=str(self.ports["http"]),
            HTTPS_PORT=str(self.ports["https"]),
            PROXY_BIND=LOOPBACK,
            PROXY_HEALTH_PORT=str(self.ports["proxy-health"]),
        )
        return env

    @property
    def ca_file(self) -> Path:
        return self.workdir / "caddy-data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"

    # -- starting and stopping ----------------------------------------------------------------

    def __enter__(self) -> Topology:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.workdir.chmod(0o755)  # the postgres user reaches its cluster below
        for volume in ("data", "models"):  # the image's /data and compose's models volume
            (self.workdir / volume).mkdir(exist_ok=True)
        starters: dict[str, Callable[[], None]] = {
            "postgres": self._start_postgres,
            "redis": self._start_redis,
            "migrate": self._migrate,
            "limiter": self._start_limiter,
            "proxy": self._start_proxy,
        }
        for name in self.order:
            began = time.monotonic()
            starters.get(name, lambda name=name: self._start_procfile(name))()
            self._healthy(name)
            self.timings[name] = time.monotonic() - began
            say(f"{name} up ({self.timings[name]:.1f} s): {COUNTERPARTS[name]}")

    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> Service:
        log = self.workdir / f"{name}.log"
        with log.open("ab") as output:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: stop() reaches its children
            )
        self.services[name] = Service(name, process, log)
        return self.services[name]

    def _start_postgres(self) -> None:
        environment = self._compose_env("postgres")
        user, database = environment["POSTGRES_USER"], environment["POSTGRES_DB"]
        self.postgres = PrivateCluster(self.workdir / "pg", self.ports["postgres"], user)
        self.postgres.init()
        self.postgres.ctl("start")
        self.postgres.createdb(database)

    def _start_redis(self) -> None:
        directory = self.workdir / "redis"
        directory.mkdir()
        base = list(self.compose["services"]["redis"]["command"])
        self._spawn("redis", redis_command(self.ports["redis"], directory, base=base), {})

    def _migrate(self) -> None:
        env = self.app_env()
        # The image's build step (Dockerfile: collectstatic), then compose's migrate command.
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        command = self.compose["services"]["migrate"]["command"]
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"migrate failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
        self.django(SEED.format(user=MODERATOR[0], password=MODERATOR[1]))

    def _start_procfile(self, name: str) -> None:
        # As honcho runs a Procfile line: through the shell, which expands ${PORT:-8000} and such.
        self._spawn(name, ["sh", "-c", "exec " + self.procfile[name]], self.app_env())

    def _start_limiter(self) -> None:
        command = list(self.compose["services"]["limiter"]["command"])
        command[command.index("--bind") + 1] = f"{LOOPBACK}:{self.ports['limiter']}"
        self._spawn("limiter", command, self.limiter_env())

    def _start_proxy(self) -> None:
        command = list(self.compose["services"]["proxy"]["command"])
        for _attempt in range(PROXY_ATTEMPTS):
            log = self.workdir / "proxy.log"
            offset = log.stat().st_size if log.exists() else 0
            service = self._spawn("proxy", command, self.proxy_env())
            if not self._lost_its_port(service, offset):
                return
            # Ports are picked at start-up; an outgoing connection's ephemeral port can take one
            # before the proxy binds it: pick others and start it again.
            say("proxy: a port was taken meanwhile; starting it on others")
            for name in ("http", "https", "proxy-health"):
                self.ports[name] = free_port()

    def _lost_its_port(self, service: Service, offset: int) -> bool:
        """Whether the proxy exited because its port was taken (its log since `offset` says so)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and service.process.poll() is None:
            if self._started("proxy"):
                return False
            time.sleep(0.2)
        if service.process.poll() is None:
            return False
        with service.log.open("rb") as log:
            log.seek(offset)
            return b"address already in use" in log.read()

    def _healthy(self, name: str) -> None:
        """compose's health check for the service where it has one, else a sign of life."""
        service = self.services.get(name)
        check = (self.compose["services"][name].get("healthcheck") or {}).get("test")
        deadline = {"worker": 120.0, "train-worker": 120.0}.get(name, 60.0)
        if service is not None:
            wait_for(lambda: self._alive(service) and self._started(name), deadline, name)
        if check:
            wait_for(lambda: self.healthcheck(name) == 0, deadline, f"{name}'s health check")

    def _alive(self, service: Service) -> bool:
        if service.process.poll() is not None:
            tail = service.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{service.name} exited with {service.process.returncode}:\n{tail}")
        return True

    def _started(self, name: str) -> bool:
        text = self.services[name].log.read_text(errors="replace")
        if name == "proxy":
            return self.ca_file.exists() and port_open(self.ports["https"])
        gunicorn = "Booting worker"
        signs = {
            "web": gunicorn,
            "limiter": gunicorn,
            "beat": "beat: Starting",
            "worker": " ready.",
        }
        return signs.get(name, signs["worker"] if "worker" in name else "") in text

    def healthcheck(self, name: str) -> int:
        """Runs compose's healthcheck test for `name` here, the way docker runs it."""
        test = list(self.compose["services"][name]["healthcheck"]["test"])
        kind, arguments = test[0], test[1:]
        # CMD-SHELL goes through sh, after compose's own interpolation ($$HOSTNAME -> $HOSTNAME).
        shell = kind == "CMD-SHELL"
        command = ["sh", "-c", interpolate(arguments[0], {})] if shell else arguments
        if command[0] == "redis-cli":
            command = [*command[:1], "-p", str(self.ports["redis"]), *command[1:]]
        env = {"proxy": self.proxy_env, "limiter": self.limiter_env}.get(name, self.app_env)()
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=60)
        return result.returncode

    def django(self, code: str) -> str:
        env = {**self.app_env(), "DJANGO_SETTINGS_MODULE": "config.settings"}
        script = "import django\ndjango.setup()\n" + textwrap.dedent(code)
        result = subprocess.run(
            [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise RuntimeError(result.stderr[-2000:])
        return result.stdout

    def gunicorn_workers(self) -> list[int]:
        """The web service's worker processes (children of the gunicorn master)."""
        master = self.services["web"].process.pid
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        return [int(pid) for pid in children]

    def stop(self) -> None:
        for name in reversed(list(self.services)):
            process = self.services[name].process
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for name in reversed(list(self.services)):
            process = self.services[name].process
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        if self.postgres is not None and (self.postgres.directory / "postmaster.pid").exists():
            self.postgres.ctl("stop")

    # -- talking to it ------------------------------------------------------------------------

    def visitor(self, source: str = LOOPBACK) -> Visitor:
        if self._tls is None:
            self._tls = ssl.create_default_context(cafile=str(self.ca_file))
        return Visitor(self.ports["https"], self._tls, source=source)

    def exited(self) -> list[str]:
        """Long-running services that have stopped (migrate runs once and is not one of them)."""
        services = self.services.items()
        return [name for name, service in services if service.process.poll() is not None]


SEED = """
from django.contrib.auth import get_user_model
from generator.models import GeneratedDescription
GeneratedDescription.objects.bulk_create([
    GeneratedDescription(title=f"Topology Test Film {{i}}", kind="movie",
                         text=f"A proxy, a queue and a database walk into production, take {{i}}.",
                         text_hash=f"topology-{{i}}", status="approved")
    for i in range(12)
])
get_user_model().objects.create_superuser("{user}", "moderator@tmdne.test", "{password}")
"""


class _TLSToLoopback(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1 whatever the host name, which is still sent as SNI and Host."""

    def connect(self) -> None:
        source = self.source_address  # type: ignore[attr-defined]
        sock = socket.create_connection((LOOPBACK, self.port), self.timeout, source)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: str
    seconds: float


@dataclass
class Visitor:
    """A browser-like client of the proxy: cookies kept, one kept-alive TLS connection."""

    port: int
    context: ssl.SSLContext
    cookies: dict[str, str] = field(default_factory=dict)
    timeout: float = 10.0
    source: str = LOOPBACK  # another 127.0.0.x is another client to the proxy
    _connection: _TLSToLoopback | None = None

    @property
    def origin(self) -> str:
        return f"https://{SITE_HOST}:{self.port}"

    def request(
        self,
        method: str,
        path: str,
        *,
        form: dict[str, str] | None = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{key}={value}" for key, value in self.cookies.items())
        if form is not None:
            body = urllib.parse.urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        if method == "POST":
            sent.setdefault("Origin", self.origin)
            sent.setdefault("Referer", self.origin + "/")
        began = time.monotonic()
        reused = self._connection is not None
        try:
            response, text = self._send(method, path, body, sent)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if not reused:
                raise
            response, text = self._send(method, path, body, sent)  # the kept-alive one had closed
        for header in response.headers.get_all("Set-Cookie") or []:
            for morsel in http.cookies.SimpleCookie(header).values():
                self.cookies[morsel.key] = morsel.value
        return Answer(response.status, response.headers, text, time.monotonic() - began)

    def _send(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[http.client.HTTPResponse, str]:
        if self._connection is None:
            self._connection = _TLSToLoopback(
                SITE_HOST,
                self.port,
                timeout=self.timeout,
                context=self.context,
                source_address=(self.source, 0),
            )
        try:
            self._connection.request(method, path, body=body, headers=headers)
            response = self._connection.getresponse()
            text = response.read().decode("utf-8", "replace")
        except BaseException:
            self.close()
            raise
        if response.will_close:
            self.close()
        return response, text

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def get(self, path: str, headers: dict[str, str] | None = None) -> Answer:
        return self.request("GET", path, headers=headers)


# -- slow clients ------------------------------------------------------------------------------


@dataclass
class SlowClients:
    """`count` sockets that each send part of a request and then nothing, reopened when cut off.

    Half go to the HTTPS port (TLS done, then a partial request), half to the HTTP port; they
    alternate between an unfinished request line and unfinished headers.
    """

    targets: list[tuple[int, ssl.SSLContext | None]]
    count: int
    seconds: float
    opened: int = 0
    cut_off_after: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    PARTS = (b"GET / HT", f"GET / HTTP/1.1\r\nHost: {SITE_HOST}\r\n".encode())

    def _open(self, index: int) -> tuple[socket.socket, float]:
        port, context = self.targets[index % len(self.targets)]
        sock = socket.create_connection((LOOPBACK, port), timeout=5)
        if context is not None:
            sock = context.wrap_socket(sock, server_hostname=SITE_HOST)
        sock.sendall(self.PARTS[(index // len(self.targets)) % len(self.PARTS)])
        sock.setblocking(False)
        self.opened += 1
        return sock, time.monotonic()

    def _run(self) -> None:
        sockets = [self._open(index) for index in range(self.count)]
        self.ready.set()
        deadline = time.monotonic() + self.seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            for index, (sock, since) in enumerate(sockets):
                try:
                    closed = sock.recv(4096) == b""
                except (BlockingIOError, ssl.SSLWantReadError):
                    closed = False
                except OSError:
                    closed = True
                if closed:
                    self.cut_off_after.append(time.monotonic() - since)
                    sock.close()
                    sockets[index] = self._open(index)  # the attacker comes straight back
            self._stop.wait(0.05)
        for sock, _since in sockets:
            sock.close()

    @contextmanager
    def held(self) -> Iterator[SlowClients]:
        self.ready = threading.Event()
        thread = threading.Thread(target=self._run, daemon=True)
        thread.start()
        try:
            if not self.ready.wait(15):
                raise TimeoutError("slow sockets did not open")
            yield self
        finally:
            self._stop.set()
            thread.join(15)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def timed_visits(
    topology: Topology, count: int, seconds: float, pages_each: int = 10
) -> tuple[list[float], int]:
    """Up to `count` loads of / within `seconds`, by new visitors of `pages_each` pages each (a
    browser's kept-alive connection): (ms for each answered one, failures)."""
    latencies: list[float] = []
    failures = 0
    deadline = time.monotonic() + seconds
    visitor = topology.visitor()
    for index in range(count):
        if time.monotonic() > deadline:
            break
        if index % pages_each == 0:
            visitor.close()
            visitor = topology.visitor()
            visitor.timeout = 3
        try:
            answer = visitor.get("/")
            ok = answer.status == 200 and "data-description-id" in answer.body
            latencies.append(answer.seconds * 1000)
        except OSError:
            ok = False
        failures += not ok
    visitor.close()
    return latencies, failures


def slow_client_check(topology: Topology, count: int, seconds: float = 12) -> tuple[bool, str]:
    """p99 of normal visitors while `count` slow sockets are held open against the proxy."""
    context = ssl.create_default_context(cafile=str(topology.ca_file))
    targets = [(topology.ports["https"], context), (topology.ports["http"], None)]
    with SlowClients(targets, count, seconds + 10).held() as slow:
        latencies, failures = timed_visits(topology, 200, seconds)
    p99 = percentile(latencies, 0.99) if latencies else float("inf")
    cut_off = slow.cut_off_after
    cut = f", cut off by the proxy after {min(cut_off):.1f} s" if cut_off else ""
    ok = failures == 0 and p99 < SLOW_P99_LIMIT_MS and len(latencies) >= 20
    return ok, (
        f"{count} slow sockets ({slow.opened} opened{cut}): {len(latencies)} normal requests, "
        f"{failures} failed, p50 {percentile(latencies, 0.5):.0f} ms, p99 {p99:.0f} ms "
        f"(limit {SLOW_P99_LIMIT_MS:.0f})"
    )


# -- the checks --------------------------------------------------------------------------------

CARD = re.compile(r'data-description-id="(\d+)"')
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
STYLESHEET = re.compile(r'<link[^>]+href="(/static/[^"]+\.css)"')


def check_pages(topology: Topology) -> list[tuple[bool, str]]:
    results: list[tuple[bool, str]] = []
    visitor = topology.visitor()
    home = visitor.get("/")
    card = CARD.search(home.body)
    results.append(
        (
            home.status == 200 and card is not None and "Topology Test Film" in home.body
            and "max-age" in home.headers.get("Strict-Transport-Security", ""),
            f"GET / over HTTPS: {home.status}, a seeded description, HSTS "
            f"{home.headers.get('Strict-Transport-Security')!r} ({home.seconds * 1000:.0f} ms)",
        )
    )  # fmt: skip
    plain = http.client.HTTPConnection(LOOPBACK, topology.ports["http"], timeout=5)
    plain.request("GET", "/", headers={"Host": SITE_HOST})
    redirect = plain.getresponse()
    plain.close()
    location = redirect.headers.get("Location", "")
    results.append(
        (
            redirect.status in (301, 308) and location.startswith("https://tmdne.test"),
            f"GET / over plain HTTP: {redirect.status} to {location}",
        )
    )
    partial = visitor.get("/", headers={"HX-Request": "true", "HX-Trigger": "another-one"})
    pushed = partial.headers.get("HX-Push-Url", "")
    results.append(
        (
            partial.status == 200 and "<html" not in partial.body and pushed.startswith("/d/"),
            f"htmx 'Another one': {partial.status}, the card partial only, HX-Push-Url {pushed}",
        )
    )
    shown = CARD.search(partial.body)
    description = shown.group(1) if shown else "0"
    token = visitor.cookies.get("csrftoken", "")
    refused = topology.visitor().request(
        "POST", f"/d/{description}/vote/", form={"value": "up"}, headers={"HX-Request": "true"}
    )
    vote = visitor.request(
        "POST",
        f"/d/{description}/vote/",
        form={"value": "up"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    results.append(
        (
            bool(token) and vote.status == 200 and 'aria-pressed="true"' in vote.body
            and refused.status == 403,
            f"vote POST with the CSRF token: {vote.status}, recorded; without one: "
            f"{refused.status}",
        )
    )  # fmt: skip
    results.append(_check_admin(topology))
    results.append(check_rate_limit(topology))
    results.append(_check_static(visitor, home.body))
    too_big = visitor.request(
        "POST",
        f"/d/{description}/vote/",
        body=b"value=up&" + b"x" * 2_000_000,
        headers={"X-CSRFToken": token, "Content-Type": "application/x-www-form-urlencoded"},
    )
    results.append((too_big.status == 413, f"a 2 MB POST body: {too_big.status} from the proxy"))
    health = visitor.get("/healthz/")
    compose_check = topology.healthcheck("web")
    results.append(
        (
            health.status == 200 and compose_check == 0,
            f"/healthz/ through the proxy: {health.status}; compose's web health check "
            f"(deploy/healthcheck.py, Host from ALLOWED_HOSTS): exit {compose_check}",
        )
    )
    return results


def check_rate_limit(topology: Topology, path: str = "/best/") -> tuple[bool, str]:
    """One client asks for a limited list until the proxy refuses it; the refusals never reach
    gunicorn, headers it sends cannot make it someone else, and another client is still served."""
    flooder = topology.visitor(source="127.0.0.2")
    limit = next(limit for limit in ROUTE_LIMITS if limit.applies_to("GET", path))
    statuses: list[int] = []
    refused: Answer | None = None
    for number in range(2 * limit.per_minute + 1):  # a window may end during the burst, once
        spoofed = f"10.9.{number // 250}.{number % 250}"
        forged = {"X-Client-Address": spoofed, "X-Forwarded-For": spoofed}
        answer = flooder.get(path, headers=forged)
        statuses.append(answer.status)
        if answer.status == 429:
            refused = answer
            break
    served = statuses.count(200)
    other = topology.visitor().get(path)
    others = 1 if other.status == 200 else 0
    reached = _access_log_count(topology, path, at_least=served + others) - others
    retry_after = refused.headers.get("Retry-After", "") if refused else ""
    return (
        refused is not None and set(statuses[:-1]) == {200} and reached == served
        and retry_after.isdigit() and 1 <= int(retry_after) <= 60 and other.status == 200,
        f"rate limit at the proxy: {path} from one address, spoofed headers and all: {served} "
        f"served, then {statuses[-1]} with Retry-After {retry_after!r}; gunicorn saw {reached} of "
        f"them; another address: {other.status}",
    )  # fmt: skip


def _access_log_count(topology: Topology, path: str, at_least: int, within: float = 5.0) -> int:
    """How many requests for `path` gunicorn's access log (the web service's log) records,
    waiting up to `within` seconds for `at_least`: gunicorn logs a request after answering it."""
    deadline = time.monotonic() + within
    while True:
        log = topology.services["web"].log.read_text(errors="replace")
        count = log.count(f'"GET {path} HTTP/')
        if count >= at_least or time.monotonic() >= deadline:
            return count
        time.sleep(0.05)


def _check_admin(topology: Topology) -> tuple[bool, str]:
    moderator = topology.visitor()
    login_page = moderator.get("/admin/login/?next=/admin/")
    token = CSRF_INPUT.search(login_page.body)
    login = moderator.request(
        "POST",
        "/admin/login/?next=/admin/",
        form={
            "csrfmiddlewaretoken": token.group(1) if token else "",
            "username": MODERATOR[0],
            "password": MODERATOR[1],
            "next": "/admin/",
        },
        headers={"Referer": f"{moderator.origin}/admin/login/"},
    )
    index = moderator.get("/admin/")
    secure = "Secure" in (login.headers.get("Set-Cookie") or "")
    ok = (
        login_page.status == 200
        and login.status == 302
        and login.headers.get("Location") == "/admin/"
        and "sessionid" in moderator.cookies
        and secure
        and index.status == 200
        and "Log out" in index.body
    )
    return ok, (
        f"admin login page {login_page.status}, login POST {login.status} to "
        f"{login.headers.get('Location')}, secure session cookie: {secure}, /admin/ {index.status}"
    )


def _check_static(visitor: Visitor, page: str) -> tuple[bool, str]:
    stylesheet = STYLESHEET.search(page)
    if stylesheet is None:
        return False, "no stylesheet on the home page"
    css = visitor.get(stylesheet.group(1), headers={"Accept-Encoding": "gzip"})
    cache = css.headers.get("Cache-Control", "")
    encoding = css.headers.get("Content-Encoding")
    manifest = visitor.get("/static/staticfiles.json").status
    metrics = visitor.get("/metrics").status  # for the machine and its operators only
    ok = css.status == 200 and "immutable" in cache and encoding == "gzip"
    ok = ok and manifest == 404 and metrics == 404
    return ok, (
        f"static {stylesheet.group(1)} from the proxy: {css.status}, {cache!r}, "
        f"encoding {css.headers.get('Content-Encoding')}; the manifest: {manifest}, "
        f"/metrics: {metrics}"
    )


def say(message: str) -> None:
    print(f"[topology] {message}", flush=True)


def run_checks(topology: Topology) -> bool:
    results = check_pages(topology)
    results += [(topology.healthcheck(name) == 0, f"compose's health check for {name}: passes")
                for name in topology.order
                if topology.compose["services"][name].get("healthcheck")]  # fmt: skip
    latencies, failures = timed_visits(topology, 100, 10)
    print(
        f"INFO baseline, no slow sockets: {len(latencies)} normal requests, {failures} failed, "
        f"p50 {percentile(latencies, 0.5):.0f} ms, p99 {percentile(latencies, 0.99):.0f} ms",
        flush=True,
    )
    for count in (2, 10):
        results.append(slow_client_check(topology, count))
    exited = topology.exited()
    results.append((not exited, f"every service still running at the end (exited: {exited})"))
    for ok, line in results:
        print(f"{'PASS' if ok else 'FAIL'} {line}", flush=True)
    passed = sum(ok for ok, _line in results)
    print(f"{passed} passed, {len(results) - passed} failed", flush=True)
    return passed == len(results)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep-workdir", action="store_true", help="keep logs and data")
    args = parser.parse_args()
    if missing := prerequisites():
        say(f"missing: {', '.join(missing)}")
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="tmdne-topology-"))
    say(f"services in start order: {' '.join(plan(load_compose(), load_procfile()))}")
    try:
        with Topology(workdir) as topology:
            ok = run_checks(topology)
    except Exception:
        for log in sorted(workdir.glob("*.log")):
            say(f"--- {log.name} (tail)\n" + log.read_text(errors="replace")[-1500:])
        raise
    finally:
        if args.keep_workdir:
            say(f"logs and data kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

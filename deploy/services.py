"""Starting the services the site runs on, and waiting for them: one harness for `dev.py`,
`deploy/topology.py`, `bench/faults.py` and `bench/serve.py`.

Standard library only: `dev.py` uses it before any virtualenv exists.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

LOOPBACK = "127.0.0.1"
POSTGRES_PORT = 5432
REDIS_PORT = 6379


def port_open(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(predicate: Callable[[], bool], seconds: float, what: str) -> None:
    """Polls `predicate` until it holds; TimeoutError naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.3)
    raise TimeoutError(f"timed out after {seconds:.0f} s waiting for {what}")


def wait_for_port(port: int, seconds: float, what: str, host: str = LOOPBACK) -> None:
    wait_for(lambda: port_open(port, host), seconds, what)


# -- the machine's own services (dev.py test and run) -------------------------------------------


def ensure_machine_postgres(say: Callable[[str], None]) -> bool:
    """The machine's PostgreSQL clusters on 127.0.0.1:5432, started when installed but down."""
    if port_open(POSTGRES_PORT):
        return True
    clusters = Path("/etc/postgresql")
    if shutil.which("pg_ctlcluster") and clusters.is_dir():
        for version in sorted(p.name for p in clusters.iterdir()):
            say(f"starting PostgreSQL {version}")
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"],
                check=False,
            )
    return _came_up(POSTGRES_PORT, 30)


def ensure_machine_redis(say: Callable[[str], None]) -> bool:
    """A Redis on 127.0.0.1:6379 that keeps nothing on disk, started when installed but down."""
    if port_open(REDIS_PORT):
        return True
    if shutil.which("redis-server"):
        say("starting Redis")
        command = redis_command(REDIS_PORT, Path("/tmp"))
        subprocess.run([*command, "--appendonly", "no", "--daemonize", "yes"], check=False)
    return _came_up(REDIS_PORT, 15)


def _came_up(port: int, seconds: float) -> bool:
    try:
        wait_for_port(port, seconds, f"port {port}")
    except TimeoutError:
        return False
    return True


# -- private services on spare ports (the topology and the fault benchmark) ----------------------


def redis_command(
    port: int, directory: Path, *, base: list[str] | None = None, persistent: bool = False
) -> list[str]:
    """`base` (default: a redis-server that saves no snapshots) on `port` of the loopback, its
    files in `directory`; `persistent` syncs an append-only file on every write, so queued work
    survives a restart."""
    durability = ["--appendonly", "yes", "--appendfsync", "always"] if persistent else []
    local = ["--port", str(port), "--bind", LOOPBACK, "--dir", str(directory)]
    return [*(base or ["redis-server", "--save", ""]), *local, *durability]


class PrivateCluster:
    """A throwaway PostgreSQL cluster in `directory` on `port`, trusting local connections.

    Run as root, its files belong to the postgres user and its tools run as that user (initdb
    refuses root).
    """

    def __init__(self, directory: Path, port: int, user: str = "postgres") -> None:
        self.directory, self.port, self.user = directory, port, user
        self.bin = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
        self.log = directory.parent / f"{directory.name}.log"

    @staticmethod
    def installed() -> bool:
        return bool(sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb")))

    def init(self) -> None:
        self.directory.mkdir()
        self.log.touch()
        if os.geteuid() == 0:
            for path in (self.directory, self.log):
                shutil.chown(path, "postgres")
        self._run("initdb", "-D", str(self.directory), "-A", "trust", "-U", self.user, "-E", "UTF8")

    def _run(self, tool: str, *arguments: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(
            [*prefix, str(self.bin / tool), *arguments], check=True, capture_output=True, cwd="/"
        )

    def ctl(self, action: str) -> None:
        """pg_ctl start, stop or restart, waiting until it is done."""
        options = f"-p {self.port} -k {self.directory} -c listen_addresses={LOOPBACK}"
        self._run(
            "pg_ctl", "-D", str(self.directory), "-o", options, "-w", "-t", "60",
            "-m", "fast", "-l", str(self.log), action,
        )  # fmt: skip

    def createdb(self, name: str) -> None:
        self._run("createdb", "-h", LOOPBACK, "-p", str(self.port), "-U", self.user, name)

    def url(self, database: str = "postgres") -> str:
        return f"postgres://{self.user}@{LOOPBACK}:{self.port}/{database}"

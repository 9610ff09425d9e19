"""Backups that restore: the database and the active run's checkpoint, in one folder.

`create(folder)` writes the database (SQLite's online backup API, or `pg_dump --format=custom`
for PostgreSQL), a tar of the active run's checkpoint directory (weights, tokenizer and the
critics saved beside them) and a manifest with each file's SHA-256. `restore(folder)` checks the
manifest, loads the database back (SQLite's backup API into the live database, or `pg_restore
--clean`) and unpacks the checkpoint under MODEL_DIR, pointing the active run at it. Stop the web
server and the workers before a restore: it replaces what they read.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from generator.models import ModelRun

MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
POSTGRES_FILE = "database.pgdump"
CHECKPOINT_FILE = "checkpoint.tar.gz"


class BackupError(RuntimeError):
    """A backup or restore that cannot go on; the message says why."""


@dataclass(frozen=True)
class Manifest:
    created_at: str
    vendor: str  # "sqlite" or "postgresql"
    files: dict[str, str]  # file name -> SHA-256
    active_run: int | None
    checkpoint: str  # the active run's checkpoint, relative to MODEL_DIR where it lay under it

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        try:
            return cls(**json.loads((folder / MANIFEST).read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            raise BackupError(f"{folder}: not a backup ({exc})") from None


def create(folder: Path) -> Manifest:
    """Back up into `folder` (created; it must not hold a backup already)."""
    if (folder / MANIFEST).exists():
        raise BackupError(f"{folder} already holds a backup")
    folder.mkdir(parents=True, exist_ok=True)
    files = [_dump_database(folder)]
    run = ModelRun.objects.active()
    checkpoint = ""
    if run is not None and run.checkpoint_path:
        source = Path(run.checkpoint_path)
        if not source.is_dir():
            raise BackupError(f"run #{run.pk}'s checkpoint {source} is not on this machine")
        checkpoint = _relative_to_models(source)
        with tarfile.open(folder / CHECKPOINT_FILE, "w:gz") as archive:
            archive.add(source, arcname="checkpoint")
        files.append(CHECKPOINT_FILE)
    manifest = Manifest(
        created_at=timezone.now().isoformat(),
        vendor=connection.vendor,
        files={name: _sha256(folder / name) for name in files},
        active_run=run.pk if run is not None else None,
        checkpoint=checkpoint,
    )
    (folder / MANIFEST).write_text(json.dumps(asdict(manifest), indent=1) + "\n")
    return manifest


def restore(folder: Path) -> Manifest:
    """Restore the backup in `folder` over this site's database and MODEL_DIR."""
    manifest = Manifest.read(folder)
    if manifest.vendor != connection.vendor:
        raise BackupError(
            f"{folder} holds a {manifest.vendor} database; this site runs {connection.vendor}"
        )
    for name, digest in manifest.files.items():
        if not (folder / name).is_file() or _sha256(folder / name) != digest:
            raise BackupError(f"{folder / name} is missing or damaged (SHA-256 differs)")
    _load_database(folder, manifest.vendor)
    if CHECKPOINT_FILE in manifest.files and manifest.active_run is not None:
        target = settings.MODEL_DIR / (manifest.checkpoint or f"restored/run-{manifest.active_run}")
        _unpack(folder / CHECKPOINT_FILE, target)
        ModelRun.objects.filter(pk=manifest.active_run).update(checkpoint_path=str(target))
    return manifest


def prune(parent: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` backups under `parent`; returns those deleted."""
    backups = sorted(
        (path for path in parent.iterdir() if (path / MANIFEST).is_file()),
        key=lambda path: datetime.fromisoformat(Manifest.read(path).created_at),
    )
    doomed = backups[: max(0, len(backups) - keep)]
    for path in doomed:
        shutil.rmtree(path)
    return doomed


def _dump_database(folder: Path) -> str:
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        target = sqlite3.connect(folder / SQLITE_FILE)
        try:
            connection.connection.backup(target)
        finally:
            target.close()
        return SQLITE_FILE
    if connection.vendor == "postgresql":
        _run_pg("pg_dump", "--format=custom", "--no-owner", "--file", str(folder / POSTGRES_FILE))
        return POSTGRES_FILE
    raise BackupError(f"no backup for a {connection.vendor} database")


def _load_database(folder: Path, vendor: str) -> None:
    if vendor == "sqlite":
        connection.ensure_connection()
        source = sqlite3.connect(folder / SQLITE_FILE)
        try:
            source.backup(connection.connection)
        finally:
            source.close()
        return
    connection.close()  # pg_restore drops what this connection may hold open
    _run_pg("pg_restore", "--clean", "--if-exists", "--no-owner", str(folder / POSTGRES_FILE))


def _run_pg(tool: str, *arguments: str) -> None:
    if shutil.which(tool) is None:
        raise BackupError(f"{tool} is not installed here (PostgreSQL's client tools)")
    database: dict[str, Any] = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": str(database.get("PASSWORD") or "")}
    target = [
        *("--host", str(database.get("HOST") or "localhost")),
        *("--port", str(database.get("PORT") or 5432)),
        *("--username", str(database.get("USER") or "postgres")),
        *("--dbname", str(database["NAME"])),
    ]
    done = subprocess.run([tool, *target, *arguments], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{tool} failed: {done.stderr.strip()[-500:]}")


def _unpack(archive_path: Path, target: Path) -> None:
    staging = target.with_name(target.name + ".restoring")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with tarfile.open(archive_path, "r:gz") as archive:
        archive.extractall(staging, filter="data")  # no links out, no absolute paths
    if target.exists():
        shutil.rmtree(target)
    (staging / "checkpoint").rename(target)
    staging.rmdir()


def _relative_to_models(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path(settings.MODEL_DIR).resolve()))
    except ValueError:
        return ""  # outside MODEL_DIR: restored under MODEL_DIR/restored/


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()

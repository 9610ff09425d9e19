from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from generator.backups import BackupError, create, prune


class Command(BaseCommand):
    help = (
        "Back up the database and the active run's checkpoint into a new folder under --into "
        "(default DATA_DIR/backups), then keep only the newest --keep backups there."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--into", type=Path, help="where backups go (default DATA_DIR/backups)")
        parser.add_argument(
            "--keep", type=int, default=7, help="backups kept there, newest first (default 7)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["keep"] < 1:
            raise CommandError("--keep must be at least 1")
        parent: Path = options["into"] or settings.DATA_DIR / "backups"
        folder = parent / timezone.now().strftime("%Y%m%d-%H%M%S")
        try:
            manifest = create(folder)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        sizes = ", ".join(
            f"{name} {(folder / name).stat().st_size / 1e6:.1f} MB" for name in manifest.files
        )
        self.stdout.write(f"Backed up to {folder}: {sizes}")
        for old in prune(parent, options["keep"]):
            self.stdout.write(f"Deleted the older backup {old}")

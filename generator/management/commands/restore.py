from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from generator.backups import BackupError, restore


class Command(BaseCommand):
    help = (
        "Restore a backup folder (manage.py backup) over this site's database and MODEL_DIR. "
        "Stop the web server and the workers first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("folder", type=Path, help="a folder manage.py backup wrote")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            manifest = restore(options["folder"])
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        run = f"; active run #{manifest.active_run}" if manifest.active_run else ""
        self.stdout.write(f"Restored the backup of {manifest.created_at}{run}")

"""A backup restores: database and active checkpoint back up, are wiped, come back, and serve.

Runs on whichever database the suite runs on: SQLite in the first leg, PostgreSQL in the second.
"""

import json
import shutil
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from generator.backups import CHECKPOINT_FILE, MANIFEST
from generator.ml.sampling import Sampler
from generator.models import GeneratedDescription, ModelRun
from tests.factories import make_pool
from tests.pages import card_id

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_top_up_nudge")]


@pytest.fixture
def site(settings: Any, tmp_path: Path, trained_checkpoint: Path) -> ModelRun:
    settings.MODEL_DIR = tmp_path / "models"
    checkpoint = settings.MODEL_DIR / "runs" / "run-00001" / "final"
    shutil.copytree(trained_checkpoint, checkpoint)
    run = ModelRun.objects.create(
        base="tiny-gpt2", status="done", is_active=True, checkpoint_path=str(checkpoint)
    )
    make_pool(6, run=run)
    return run


def _backup(into: Path) -> Path:
    call_command("backup", "--into", str(into), stdout=StringIO())
    (folder,) = [path for path in into.iterdir() if (path / MANIFEST).is_file()]
    return folder


def test_back_up_wipe_restore_and_serve(site: ModelRun, settings: Any, tmp_path: Path) -> None:
    folder = _backup(tmp_path / "backups")
    texts = sorted(GeneratedDescription.objects.values_list("pk", "text"))

    GeneratedDescription.objects.all().delete()
    ModelRun.objects.all().delete()
    shutil.rmtree(settings.MODEL_DIR)
    call_command("restore", str(folder), stdout=StringIO())

    assert sorted(GeneratedDescription.objects.values_list("pk", "text")) == texts
    run = ModelRun.objects.active()
    assert run is not None and run.pk == site.pk
    assert run.checkpoint_path == site.checkpoint_path  # back under MODEL_DIR where it was
    assert Sampler(run.checkpoint_path, device="cpu").model is not None
    page = Client().get("/")
    assert page.status_code == 200
    assert card_id(page.content.decode()) in {pk for pk, _text in texts}


def test_a_damaged_backup_is_refused_and_changes_nothing(site: ModelRun, tmp_path: Path) -> None:
    folder = _backup(tmp_path / "backups")
    with (folder / CHECKPOINT_FILE).open("ab") as archive:
        archive.write(b"rot")
    GeneratedDescription.objects.all().delete()

    with pytest.raises(CommandError, match="missing or damaged"):
        call_command("restore", str(folder))

    assert not GeneratedDescription.objects.exists()


def test_old_backups_beyond_keep_are_deleted(site: ModelRun, tmp_path: Path) -> None:
    into = tmp_path / "backups"
    for day in ("01", "02"):
        old = into / f"202601{day}-000000"
        old.mkdir(parents=True)
        manifest: dict[str, object] = {"created_at": f"2026-01-{day}T00:00:00+00:00"}
        manifest.update(vendor="sqlite", files={}, active_run=None, checkpoint="")
        (old / MANIFEST).write_text(json.dumps(manifest))

    call_command("backup", "--into", str(into), "--keep", "2", stdout=StringIO())

    assert sorted(path.name for path in into.iterdir())[0] == "20260102-000000"
    assert len(list(into.iterdir())) == 2

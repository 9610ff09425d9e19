"""whitenoise serves the collected static files but never the manifest of their hashed names."""

from pathlib import Path
from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def collected(tmp_path: Path, settings: Any) -> Path:
    root = tmp_path / "static"
    (root / "css").mkdir(parents=True)
    (root / "css" / "site.0123456789ab.css").write_text("body { color: black; }")
    for name in ("staticfiles.json", "staticfiles.json.gz", "staticfiles.json.br"):
        (root / name).write_text('{"paths": {"css/site.css": "css/site.0123456789ab.css"}}')
    settings.STATIC_ROOT = str(root)
    settings.DEBUG = False
    return root


@pytest.mark.usefixtures("collected")
def test_the_manifest_is_not_served_but_the_files_are() -> None:
    client = Client()  # a new handler: whitenoise reads STATIC_ROOT when it starts

    css = client.get("/static/css/site.0123456789ab.css")
    manifest = client.get("/static/staticfiles.json")
    compressed = client.get("/static/staticfiles.json", headers={"Accept-Encoding": "gzip, br"})

    assert css.status_code == 200
    assert manifest.status_code == 404
    assert compressed.status_code == 404
    assert client.get("/static/staticfiles.json.gz").status_code == 404


@pytest.mark.usefixtures("collected")
def test_the_manifest_is_not_served_in_autorefresh_mode_either(settings: Any) -> None:
    settings.WHITENOISE_AUTOREFRESH = True

    assert Client().get("/static/staticfiles.json").status_code == 404
    assert Client().get("/static/css/site.0123456789ab.css").status_code == 200

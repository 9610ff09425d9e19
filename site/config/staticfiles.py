"""whitenoise, minus the manifest of hashed names that collectstatic leaves in STATIC_ROOT.

The manifest maps every static file to its current name; the site never needs it over HTTP,
and it would hand anyone a full inventory of the static tree.
"""

from __future__ import annotations

from typing import Any

from django.contrib.staticfiles.storage import ManifestFilesMixin
from whitenoise.middleware import WhiteNoiseMiddleware  # type: ignore[import-untyped]


class WhiteNoiseWithoutManifest(WhiteNoiseMiddleware):
    def _is_manifest(self, url: str) -> bool:
        return url == f"{self.static_prefix}{ManifestFilesMixin.manifest_name}"

    def add_file_to_dictionary(self, url: str, path: str, stat_cache: Any = None) -> None:
        if not self._is_manifest(url):
            super().add_file_to_dictionary(url, path, stat_cache=stat_cache)

    def find_file(self, url: str) -> Any:
        # Autorefresh (DEBUG) looks files up per request instead of at start-up.
        return None if self._is_manifest(url) else super().find_file(url)

import os
import sys
from pathlib import Path

SITE_DIR = Path(__file__).resolve().parent.parent
sys.path[:0] = [p for p in (str(SITE_DIR), str(SITE_DIR.parent)) if p not in sys.path]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

application = get_asgi_application()

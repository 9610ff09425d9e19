"""The site's settings with bench/serve.py's reference view routed (never used in production)."""

from config.settings import *  # noqa: F403 - every setting, as production has it

ROOT_URLCONF = "bench.serve_urls"

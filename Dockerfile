# Two images from one file: `app` (web, workers and beat; GPU workers run it on an NVIDIA host)
# and `proxy` (Debian's caddy with deploy/Caddyfile and the collected static files).
FROM python:3.11-slim-trixie AS app
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 VENV_DIR=/opt/venv PATH=/opt/venv/bin:$PATH
WORKDIR /app
# pg_dump and pg_restore for manage.py backup/restore: trixie's client is PostgreSQL 17, which
# dumps compose's postgres:16 (pg_dump refuses only servers newer than itself).
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml dev.py ./
RUN python dev.py manage --version
COPY . .
RUN SECRET_KEY=build-only-key-not-used-at-runtime-0123456789abcdefghijklmnop \
    python manage.py collectstatic --no-input -v 0
# Every path compose mounts a volume on: a new named volume takes the image's owner, so the app
# user can write checkpoints and data (tests/test_compose_file.py checks each mount is here).
RUN useradd --create-home tmdne && mkdir -p /data /data/cards /models /backups \
    && chown tmdne /data /data/cards /models /backups
USER tmdne
ENV DATA_DIR=/data MODEL_DIR=/models PYTHONPATH=/app/site:/app WEB_CONCURRENCY=3
# Each gunicorn worker writes its request counts here, and /metrics sums them (compose: tmpfs).
ENV PROMETHEUS_MULTIPROC_DIR=/tmp/metrics
RUN mkdir -p /tmp/metrics
EXPOSE 8000
# The Procfile's web line (tests/test_compose_file.py checks); WEB_CONCURRENCY sets gunicorn's workers.
CMD ["gunicorn", "--chdir", "site", "config.wsgi", "--bind", "0.0.0.0:8000", "--worker-class", "sync", "--no-control-socket", "--access-logfile", "-"]

# Bookworm's caddy (2.6), the same package deploy/topology.py tests the Caddyfile with.
FROM debian:bookworm-slim AS proxy
# curl: compose's health check for the proxy.
RUN apt-get update && apt-get install -y --no-install-recommends caddy ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY deploy/Caddyfile deploy/Caddyfile
COPY --from=app /app/staticfiles staticfiles
ENV STATIC_ROOT=/app/staticfiles XDG_DATA_HOME=/data XDG_CONFIG_HOME=/config
EXPOSE 80 443 443/udp
CMD ["caddy", "run", "--config", "deploy/Caddyfile", "--adapter", "caddyfile"]

# The default target (`docker build .`) stays the app image.
FROM app

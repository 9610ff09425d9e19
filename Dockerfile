# One image for web, workers and beat. GPU workers run the same image on an NVIDIA host.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 VENV_DIR=/opt/venv PATH=/opt/venv/bin:$PATH
WORKDIR /app
COPY pyproject.toml dev.py ./
RUN python dev.py manage --version
COPY . .
RUN SECRET_KEY=build-only-key-not-used-at-runtime-0123456789abcdefghijklmnop \
    python manage.py collectstatic --no-input -v 0
RUN useradd --create-home tmdne && mkdir -p /data && chown tmdne /data
USER tmdne
ENV DATA_DIR=/data MODEL_DIR=/models PYTHONPATH=/app/site:/app WEB_CONCURRENCY=3
EXPOSE 8000
# The Procfile's web line (tests/test_compose_file.py checks); WEB_CONCURRENCY sets gunicorn's workers.
CMD ["gunicorn", "--chdir", "site", "config.wsgi", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]

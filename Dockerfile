# One image for both processes:
#   API (default):  gunicorn --config python:service.gunicorn_conf service.wsgi:app
#   worker:         python -m worker.main
# Build:  docker build -t keras-training-service .

# ---- builder: resolve and install the pinned runtime dependencies into a venv ----
FROM python:3.11-slim-bookworm AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1

RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"

# Only the requirements file, so code edits do not invalidate this (slow) layer.
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt

# ---- runtime: the venv and the application code, nothing else ----
FROM python:3.11-slim-bookworm AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH="/opt/venv/bin:$PATH" \
    HOST=0.0.0.0 \
    PORT=8000 \
    ARTIFACT_ROOT=/data/artifacts \
    ARTIFACT_CACHE=/data/cache \
    TF_CPP_MIN_LOG_LEVEL=2 \
    GUNICORN_CMD_ARGS="--worker-tmp-dir /dev/shm"

# Unprivileged user; it owns only the directories the app writes (code and venv stay
# root-owned, so a compromised process cannot change them). The defaults of ARTIFACT_ROOT
# and ARTIFACT_CACHE are relative to /app, which it cannot write: both are set above. A
# new named volume mounted on /data/artifacts starts with this ownership. A home directory
# so Keras (~/.keras) and matplotlib (~/.config, ~/.cache) can write theirs.
RUN groupadd --system --gid 10001 app \
    && useradd --system --no-log-init --uid 10001 --gid app \
        --create-home --home-dir /home/app --shell /usr/sbin/nologin app \
    && mkdir -p /data/artifacts /data/cache \
    && chown app:app /data/artifacts /data/cache

COPY --from=builder /opt/venv /opt/venv

# service/ brings the dashboard's templates and static files and the API description's
# text (the description itself is generated at start-up); /docs serves Swagger UI from
# the swagger-ui-bundle-v2 package in the venv.
WORKDIR /app
COPY service/ ./service/
COPY worker/ ./worker/

USER 10001:10001

VOLUME ["/data/artifacts"]
EXPOSE 8000

# Liveness of the API (TensorFlow is imported in each gunicorn worker before it serves).
# The worker container has no HTTP server: its compose service disables this check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"]

CMD ["gunicorn", "--config", "python:service.gunicorn_conf", "service.wsgi:app"]

# Two images from one file:
#   keras-training-service (the last stage, the default): every process
#     API (default):  gunicorn --config python:service.gunicorn_conf service.wsgi:app
#     worker:         python -m worker.main
#   keras-training-service-serving (--target serving): API_ROLE=serving only, without
#     TensorFlow (requirements-serving.txt)
# Build:  docker build -t keras-training-service .
#         docker build --target serving -t keras-training-service-serving .
# BASE_IMAGE: any Debian bookworm image with python3.11 and venv as `python`; where no
# registry is reachable, scripts/container-env.sh builds one from Debian's packages.
ARG BASE_IMAGE=python:3.11-slim-bookworm

# ---- builders: the pinned dependencies in a venv, serving ones first ----
FROM ${BASE_IMAGE} AS serving-builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1

RUN python -m venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH"

# Only the requirements files, so code edits do not invalidate these (slow) layers.
COPY requirements-serving.txt /tmp/requirements-serving.txt
RUN pip install --no-cache-dir -r /tmp/requirements-serving.txt

# The serving venv, trimmed to what runs (the serving image's size target is 300 MB):
# no pip or setuptools, no test suites, no ONNX Runtime model-conversion tools, no
# source maps or type stubs, botocore's API models only for what s3fs calls (S3, STS
# and SSO logins), and no bytecode, which the read-only root could not cache anyway (a
# process compiles what it imports, in memory, at start).
FROM serving-builder AS serving-venv
WORKDIR /opt/venv/lib/python3.11/site-packages
RUN pip uninstall --yes --quiet pip setuptools \
    && rm -rf onnxruntime/transformers onnxruntime/quantization onnxruntime/tools \
    && find . -depth -type d \( -name tests -o -name __pycache__ \) -exec rm -rf {} + \
    && find . \( -name "*.js.map" -o -name "*.pyi" \) -delete \
    && find botocore/data -mindepth 1 -maxdepth 1 -type d \
        ! -name s3 ! -name sts ! -name sso ! -name sso-oidc -exec rm -rf {} +

# The training dependencies on top: the serving layer is shared by both images.
FROM serving-builder AS builder
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt

# ---- what both images run on: the user, the directories, the settings ----
FROM ${BASE_IMAGE} AS app

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

WORKDIR /app
VOLUME ["/data/artifacts"]
EXPOSE 8000

# Liveness of the API. The worker container has no HTTP server: its compose service
# disables this check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"]

# ---- serving: the model routes on ONNX Runtime, no TensorFlow ----
FROM app AS serving
ENV API_ROLE=serving
COPY --from=serving-venv /opt/venv /opt/venv
COPY service/ ./service/
USER 10001:10001
CMD ["gunicorn", "--config", "python:service.gunicorn_conf", "service.wsgi:app"]

# ---- runtime (the default): every process ----
FROM app AS runtime
COPY --from=builder /opt/venv /opt/venv

# service/ brings the dashboard's templates and static files and the API description's
# text (the description itself is generated at start-up); /docs serves Swagger UI from
# the swagger-ui-bundle-v2 package in the venv.
COPY service/ ./service/
COPY worker/ ./worker/
USER 10001:10001
CMD ["gunicorn", "--config", "python:service.gunicorn_conf", "service.wsgi:app"]

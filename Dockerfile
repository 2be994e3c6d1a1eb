# syntax=docker/dockerfile:1
# ghapp, the GitHub App server: `docker build -t ghapp:0.1.0 .`, then docs/deploy.md.
# Configure with the environment or `--env-file .env` (what `ghapp setup --key-in-env` writes).
#
# The base image is pinned by digest (the multi-platform index of python:3.12-slim); the tag is
# kept for people. Bump both together, deliberately:
#   docker buildx imagetools inspect python:3.12-slim
ARG PYTHON_IMAGE=python:3.12-slim@sha256:78387bc3881b8273120a12ebe6c1ab22b018ccc2c9adf565ae1ac9b536e184ea

# ---- build: a virtual environment with ghapp and its server extra, nothing else ------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY ghapp ./ghapp
COPY rules ./rules
# Bytecode is compiled here: the runtime's root filesystem may be read-only.
RUN python -m venv /opt/ghapp \
    && /opt/ghapp/bin/pip install ".[server]" \
    && /opt/ghapp/bin/pip uninstall --yes pip

# ---- runtime: the interpreter and that environment, run by an unprivileged user -----------
FROM ${PYTHON_IMAGE} AS runtime
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="ghapp" \
      org.opencontainers.image.description="GitHub App for pull-request governance: ownership, security coverage and deploy safety" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.documentation="docs/deploy.md" \
      org.opencontainers.image.base.name="docker.io/library/python:3.12-slim"

ENV PATH=/opt/ghapp/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=3000 \
    DATABASE_URL=sqlite:////data/ghapp.db

RUN useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin ghapp \
    && mkdir /data && chown 10001:10001 /data
COPY --from=build /opt/ghapp /opt/ghapp

# SQLite lives on this volume by default; point DATABASE_URL at PostgreSQL to scale out.
VOLUME ["/data"]
WORKDIR /data
USER 10001:10001
EXPOSE 3000

# Docker has one health state, which orchestrators act on by restarting: it is liveness, so it
# probes /healthz. /readyz (database, migrations, key) is for load balancers and Kubernetes
# readiness, where failing means "send no traffic", not "restart".
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)"]

CMD ["ghapp", "serve"]

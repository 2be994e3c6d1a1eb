# ghapp: the GitHub App server. Configure with the environment (APP_ID, PRIVATE_KEY or
# PRIVATE_KEY_PATH, WEBHOOK_SECRET, GITHUB_API_URL, DATABASE_URL, PORT, LOG_LEVEL).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PORT=3000

WORKDIR /app
COPY pyproject.toml README.md ./
COPY ghapp ./ghapp
COPY rules ./rules
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin ghapp \
    && mkdir -p /data && chown ghapp /data

# SQLite lives on a volume by default; point DATABASE_URL at PostgreSQL to scale out.
ENV DATABASE_URL=sqlite:////data/ghapp.db
VOLUME ["/data"]
USER ghapp
EXPOSE 3000

# No curl in slim images: probe with the Python that is already there.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)"]

CMD ["ghapp", "serve"]

"""Operating `ghapp serve`: readiness that follows the database, and secrets that never print.

The database password is a marker (`pw-s3cret`; the test PostgreSQL trusts loopback, so any
password connects) that must not appear in any log line, error, readiness answer, `/metrics`
scrape or `ghapp deliveries` output, whether the database is up, down, or never reachable.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import text

from ghapp.store.db import make_engine
from ghapp.store.migrations import downgrade, migrate
from tests.fakegithub.harness import (
    APP_ID,
    LOOPBACK,
    WEBHOOK_SECRET,
    AppProcess,
    ServerThread,
    free_port,
    send_webhook,
    wait_for,
)
from tests.store.conftest import _POSTGRES, NO_POSTGRES
from tests.store.test_faults import TcpProxy

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "pw-s3cret"


def app_env(fake_url: str, key_path: Path, database_url: str) -> dict[str, str]:
    return {
        "APP_ID": str(APP_ID),
        "PRIVATE_KEY_PATH": str(key_path),
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "GITHUB_API_URL": fake_url,
        "HOST": LOOPBACK,
        "PORT": str(free_port()),
        "RECONCILE_INTERVAL": "0",
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "debug",  # the most talkative level must still hide the password
    }


def readyz(app: AppProcess) -> tuple[int, dict[str, object]]:
    response = httpx.get(f"{app.url}/readyz", timeout=15)
    return response.status_code, response.json()


def run_ghapp(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    return subprocess.run(
        [sys.executable, "-m", "ghapp", *args],
        env=full_env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def key_path(app_key: tuple[str, str], tmp_path: Path) -> Path:
    path = tmp_path / "app.pem"
    path.write_text(app_key[0])
    return path


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh schema in the test database (dropped afterwards)."""
    if _POSTGRES is None:
        pytest.skip(NO_POSTGRES)
    schema = f"ghapp_t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(_POSTGRES)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def password_url(port: int, schema: str) -> str:
    """The test database through `port`, as user:PASSWORD, tables in `schema`."""
    user = urlsplit(str(_POSTGRES)).username
    return f"postgresql://{user}:{PASSWORD}@{LOOPBACK}:{port}/test?options=-csearch_path%3D{schema}"


@pytest.mark.postgres
def test_readyz_follows_the_database_away_and_back_and_no_output_shows_its_password(
    fake_server: ServerThread, key_path: Path, pg_schema: str, tmp_path: Path
) -> None:
    proxy = TcpProxy(5432)
    proxy.start()
    env = app_env(fake_server.url, key_path, password_url(proxy.port, pg_schema))
    app = AppProcess(ROOT, env, tmp_path / "serve.log")
    app.start(timeout=30)
    outputs: list[str] = []
    try:
        assert readyz(app) == (200, {"ready": True})

        proxy.stop()  # the database goes away
        _, body = wait_for(lambda: _not_ready(app), 30, 0.2, "readyz to answer 503")
        assert str(body["reason"]).startswith("database unreachable")
        delivery = send_webhook(f"{app.url}/api/github/webhooks", WEBHOOK_SECRET, "ping", {})
        assert delivery.status_code == 200  # ping needs no database
        pushed = send_webhook(
            f"{app.url}/api/github/webhooks",
            WEBHOOK_SECRET,
            "push",
            {"ref": "refs/heads/main", "repository": {"full_name": "acme/shop"}},
        )
        assert pushed.status_code == 503  # GitHub records a failure and redelivers
        scrape = httpx.get(f"{app.url}/metrics", timeout=15)
        assert scrape.status_code == 200
        outputs += [str(body), pushed.text, scrape.text]
        down = run_ghapp(["deliveries", "list", "--status", "all"], env)
        assert down.returncode == 2 and "cannot open the database" in down.stderr
        assert down.stderr.count("\n") == 1  # one line, not a traceback
        outputs += [down.stdout, down.stderr]

        proxy.start()  # the database returns on the same address
        wait_for(lambda: readyz(app)[0] == 200, 30, 0.2, "readyz to answer 200 again")
        up = run_ghapp(["deliveries", "list", "--status", "all", "--format", "json"], env)
        assert up.returncode == 0, up.stderr
        outputs += [up.stdout, up.stderr, httpx.get(f"{app.url}/metrics", timeout=15).text]
    finally:
        app.stop()
        proxy.stop()
    outputs.append(app.log())
    assert "database unreachable" in app.log()
    for output in outputs:
        assert PASSWORD not in output


def _not_ready(app: AppProcess) -> tuple[int, dict[str, object]] | None:
    status, body = readyz(app)
    return (status, body) if status == 503 else None


@pytest.mark.postgres
def test_an_unreachable_database_stops_serve_and_operator_commands_in_one_masked_line(
    fake_server: ServerThread, key_path: Path, pg_schema: str
) -> None:
    env = app_env(fake_server.url, key_path, password_url(free_port(), pg_schema))
    env["LOG_LEVEL"] = "info"  # the error line alone on stderr
    for command in (["serve"], ["deliveries"], ["audit"], ["worker"]):
        result = run_ghapp(command, env)
        assert result.returncode == 2, (command, result.stderr)
        assert result.stderr.startswith("ghapp: error: cannot open the database postgresql://")
        assert f":***@{LOOPBACK}" in result.stderr and result.stderr.count("\n") == 1
        assert PASSWORD not in result.stdout + result.stderr


def test_operator_commands_run_with_only_database_url(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path}/ops.db"
    env = {"DATABASE_URL": database}
    clean = {k: "" for k in ("APP_ID", "PRIVATE_KEY", "PRIVATE_KEY_PATH", "WEBHOOK_SECRET")}
    for command in (["deliveries", "list", "--status", "all"], ["audit"]):
        result = run_ghapp(command, {**clean, **env})
        assert result.returncode == 0, result.stderr


def test_readyz_is_503_while_migrations_are_not_applied(
    fake_server: ServerThread, key_path: Path, tmp_path: Path
) -> None:
    database = f"sqlite:///{tmp_path}/ghapp.db"
    app = AppProcess(ROOT, app_env(fake_server.url, key_path, database), tmp_path / "serve.log")
    app.start()
    engine = make_engine(database)
    try:
        assert readyz(app)[0] == 200
        downgrade(engine, "base")  # as if the schema had been dropped under the running app
        status, body = readyz(app)
        assert status == 503 and str(body["reason"]).startswith("migrations not applied")
        migrate(engine)
        assert readyz(app) == (200, {"ready": True})
    finally:
        app.stop()
        engine.dispose()


def test_a_garbled_key_stops_serve_at_start_up_in_one_line(
    fake_server: ServerThread, tmp_path: Path
) -> None:
    garbled = tmp_path / "garbled.pem"
    garbled.write_text(
        "-----BEGIN RSA PRIVATE KEY-----\nZ2FyYmxlZA==\n-----END RSA PRIVATE KEY-----\n"
    )
    env = app_env(fake_server.url, garbled, f"sqlite:///{tmp_path}/ghapp.db")
    result = run_ghapp(["serve"], env)
    assert result.returncode == 2
    assert result.stderr == (
        "ghapp: error: invalid configuration: PRIVATE_KEY_PATH is not a usable private key: "
        "the key cannot be loaded (Could not deserialize key data)\n"
    )


def test_serve_logs_one_format_with_time_and_level_and_no_library_chatter(
    fake_server: ServerThread, key_path: Path, tmp_path: Path
) -> None:
    import json

    env = app_env(fake_server.url, key_path, f"sqlite:///{tmp_path}/ghapp.db")
    env["LOG_LEVEL"] = "info"
    app = AppProcess(ROOT, env, tmp_path / "serve.log")
    app.start()
    try:
        send_webhook(f"{app.url}/api/github/webhooks", WEBHOOK_SECRET, "ping", {})
    finally:
        app.stop()
    lines = [json.loads(line) for line in app.log().splitlines() if line.strip()]
    assert lines and all({"time", "level", "logger", "msg"} <= set(line) for line in lines)
    loggers = {line["logger"].split(".")[0] for line in lines}
    assert "alembic" not in loggers and "httpx" not in loggers
    assert any(line["msg"] == "ping" for line in lines)

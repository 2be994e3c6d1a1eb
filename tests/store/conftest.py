"""Store fixtures: a migrated engine per back end (SQLite file; PostgreSQL schema per test)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from ghapp.app.delivery import Delivery
from ghapp.store.db import make_engine
from ghapp.store.migrations import migrate

POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


def postgres_url() -> str | None:
    """The test database URL when PostgreSQL answers at 127.0.0.1:5432, else None."""
    import psycopg

    for user in ("postgres", "root"):
        try:
            with psycopg.connect(
                host="127.0.0.1", port=5432, dbname="test", user=user, connect_timeout=2
            ):
                return f"postgresql://{user}@127.0.0.1:5432/test"
        except psycopg.Error:
            continue
    return None


_POSTGRES = postgres_url()
NO_POSTGRES = "PostgreSQL not reachable at 127.0.0.1:5432 (database test, trust auth)"


@pytest.fixture
def pg_schema() -> Iterator[tuple[str, str]]:
    """(url, schema): a fresh schema in the test database, dropped afterwards."""
    if _POSTGRES is None:
        pytest.skip(NO_POSTGRES)
    schema = f"ghapp_t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(_POSTGRES)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _POSTGRES, schema
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ghapp.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str | None]]:
    """(url, schema) for each back end."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ghapp.db'}", None
    else:
        yield request.getfixturevalue("pg_schema")


@pytest.fixture
def engine(backend: tuple[str, str | None]) -> Iterator[Engine]:
    """A migrated engine on each back end."""
    url, schema = backend
    eng = make_engine(url, schema=schema)
    migrate(eng)
    yield eng
    eng.dispose()


def make_delivery(
    delivery_id: str | None = None,
    *,
    event: str = "push",
    action: str | None = None,
    payload: dict[str, object] | None = None,
    received_at: float = 1_700_000_000.0,
) -> Delivery:
    """A delivery with a JSON payload (default: a push to octo/repo)."""
    body = payload if payload is not None else {"repository": {"full_name": "octo/repo"}}
    return Delivery(
        id=delivery_id or uuid.uuid4().hex,
        event=event,
        action=action,
        installation_id=42,
        repository="octo/repo",
        payload=json.dumps(body).encode(),
        received_at=datetime.fromtimestamp(received_at, UTC),
    )


def pr_delivery(
    number: int, head: str, updated_at: str, *, action: str = "synchronize", delivery_id: str = ""
) -> Delivery:
    """A pull_request delivery for octo/repo#number at `head`, GitHub-stamped `updated_at`."""
    return make_delivery(
        delivery_id or f"{number}-{head}-{action}",
        event="pull_request",
        action=action,
        payload={
            "action": action,
            "repository": {"full_name": "octo/repo"},
            "pull_request": {"number": number, "head": {"sha": head}, "updated_at": updated_at},
        },
    )

"""Migrations are versioned, run on start-up, idempotent and safe for concurrent replicas."""

from __future__ import annotations

import sqlite3
import threading
import traceback
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect

from ghapp.store.db import make_engine, normalize_url
from ghapp.store.migrations import current_revision, downgrade, head_revision, migrate
from ghapp.store.schema import metadata


def test_migrate_brings_the_database_to_the_head_revision(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    tables = set(inspect(engine).get_table_names())
    assert set(metadata.tables) <= tables


def test_migrate_twice_is_a_no_op(engine: Engine) -> None:
    migrate(engine)
    assert current_revision(engine) == head_revision()


def test_the_migrated_schema_matches_the_table_definitions(engine: Engine) -> None:
    inspector = inspect(engine)
    for table in metadata.tables.values():
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        assert columns == {c.name for c in table.columns}, table.name


def test_downgrade_to_base_removes_every_table(engine: Engine) -> None:
    downgrade(engine, "base")
    assert current_revision(engine) is None
    assert not set(metadata.tables) & set(inspect(engine).get_table_names())


def test_replicas_starting_together_migrate_once(backend: tuple[str, str | None]) -> None:
    url, schema = backend
    engines = [make_engine(url, schema=schema) for _ in range(3)]
    errors: list[BaseException] = []

    def start(engine: Engine) -> None:
        try:
            migrate(engine)
        except BaseException as exc:  # collected and asserted below, with where it happened
            errors.append(exc)
            traceback.print_exc()

    threads = [threading.Thread(target=start, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert current_revision(engines[0]) == head_revision()
    for engine in engines:
        engine.dispose()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, "sqlite:///ghapp.db"),
        ("", "sqlite:///ghapp.db"),
        ("sqlite:///tmp/x.db", "sqlite:///tmp/x.db"),
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_database_urls_map_to_our_drivers(given: str | None, expected: str) -> None:
    assert normalize_url(given) == expected


def test_an_unsupported_database_url_is_a_clear_error() -> None:
    from ghapp.store.db import StoreError

    with pytest.raises(StoreError, match="unsupported DATABASE_URL"):
        normalize_url("mysql://u@h/db")


def test_a_new_file_switches_to_wal_once_a_writer_in_rollback_mode_commits(
    tmp_path: Path,
) -> None:
    # SQLite refuses this switch at once (no busy timeout) while another connection writes.
    path = tmp_path / "new.db"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("CREATE TABLE t (x)")
    threading.Timer(0.3, lambda: writer.execute("COMMIT")).start()
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        engine.dispose()
        writer.close()

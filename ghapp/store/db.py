"""Engines for the two back ends: SQLite (default) and PostgreSQL (psycopg 3).

SQLite runs in WAL mode with `synchronous=FULL`: every commit is fsynced, so an acknowledged
delivery survives a power cut, not only a process crash. The cost (one fsync per commit) is paid
once per group commit by the sink, not once per delivery. Every SQLite transaction starts with
`BEGIN IMMEDIATE`, so a transaction that reads then writes (a claim) holds the write lock from
its first statement and two processes can never claim the same row.

Commits that acknowledge a delivery are always fully durable. Workers' state changes (claim,
heartbeat, complete, fail) run on `relaxed(engine)`: SQLite `synchronous=NORMAL`, PostgreSQL
`synchronous_commit=off`. A crash of the machine (not of a process) may then forget the last few
hundred milliseconds of those changes, and the affected jobs simply run again (their side effects
are idempotent); it can never lose an acknowledged delivery, because the log is written in order
and every intake commit flushes everything before it. This halves the fsyncs per job.

PostgreSQL URLs are rewritten to the psycopg 3 driver. `schema=` puts every table (and alembic's
version table) in that schema through `search_path`, which is how tests isolate parallel runs.
"""

from __future__ import annotations

import re
import sqlite3
import time
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

DEFAULT_DATABASE_URL = "sqlite:///ghapp.db"
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class StoreError(Exception):
    """A store problem an operator can act on (bad URL, unreachable database, ...)."""


def normalize_url(url: str | None) -> str:
    """Map a DATABASE_URL to the SQLAlchemy URL we run with (psycopg 3 for PostgreSQL)."""
    url = (url or "").strip() or DEFAULT_DATABASE_URL
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith(("sqlite:", "postgresql+psycopg:")):
        return url
    raise StoreError(f"unsupported DATABASE_URL {url!r}: use sqlite:///PATH or postgresql://...")


def is_sqlite(engine: Engine) -> bool:
    """True for the SQLite back end."""
    return engine.dialect.name == "sqlite"


RELAXED = "ghapp_relaxed_durability"


def relaxed(engine: Engine) -> Engine:
    """The same engine (and pool) whose transactions skip the commit flush (see above)."""
    return engine.execution_options(**{RELAXED: True})


def make_engine(url: str | None, *, schema: str | None = None, pool_size: int = 5) -> Engine:
    """Create an engine for DATABASE_URL (None or empty: the default SQLite file)."""
    sa_url = make_url(normalize_url(url))
    if sa_url.get_backend_name() == "sqlite":
        return _sqlite_engine(str(sa_url))
    connect_args: dict[str, Any] = {"connect_timeout": 5}
    if schema is not None:
        if not _SCHEMA_NAME.match(schema):
            raise StoreError(f"invalid schema name {schema!r}")
        connect_args["options"] = f"-csearch_path={schema}"
    engine = create_engine(
        sa_url,
        connect_args=connect_args,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
    )

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if conn.get_execution_options().get(RELAXED):
            # The first statement opens the transaction; SET LOCAL ends with it.
            conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")

    return engine


def _switch_to_wal(cursor: Any, attempts: int = 200) -> None:
    """`PRAGMA journal_mode=WAL`, retried: while another connection holds a write lock on a
    file still in rollback mode, SQLite refuses the switch at once, without the busy timeout
    (replicas starting together on a new file)."""
    for attempt in range(attempts):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05)


def _sqlite_engine(url: str) -> Engine:
    # timeout: how long a writer waits for the lock before "database is locked".
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so BEGIN is ours to issue.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        # The busy timeout first: switching a new file to WAL waits for other starting replicas.
        cursor.execute("PRAGMA busy_timeout=30000")
        _switch_to_wal(cursor)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Outside a transaction, so it takes effect for the one about to begin.
        level = "NORMAL" if conn.get_execution_options().get(RELAXED) else "FULL"
        conn.exec_driver_sql(f"PRAGMA synchronous={level}")
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine

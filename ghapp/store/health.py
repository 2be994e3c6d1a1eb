"""Is the database usable by this version of ghapp: reachable, and migrated to its schema?"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Engine

from ghapp.store.migrations import current_revision, head_revision


@lru_cache(maxsize=1)
def _head() -> str:
    return head_revision()


def database_problem(engine: Engine) -> str | None:
    """None when the database answers and is at this code's newest migration, else why not."""
    try:
        current = current_revision(engine)
    except Exception as exc:  # any driver error means "not reachable": report, never raise
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"database unreachable: {reason}"
    if current != _head():
        return (
            f"migrations not applied: the database is at {current or 'no revision'}, "
            f"this version needs {_head()} (restart one replica to migrate)"
        )
    return None

"""The durable AuditLog (ghapp.commands.audit.AuditLog) and publishing Memory
(ghapp.app.memory.Memory) on the same database as the queue.

The audit log is append-only: `record` inserts, nothing updates or deletes.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.dialects import postgresql, sqlite

from ghapp.commands.audit import AuditEntry, active_waivers
from ghapp.core.policy.policy import Waiver
from ghapp.store.schema import audit_log, memory

a = audit_log.c
_MAX_INT = 2**31 - 1  # the `pr` column


def _fit(text: str, limit: int | None = None) -> str:
    """`text` without NUL (PostgreSQL text cannot hold it), cut to `limit` characters."""
    text = text.replace("\x00", "\ufffd")
    return text if limit is None else text[:limit]


def _timestamp(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


class DurableAuditLog:
    """An AuditLog in the `ghapp_audit_log` table."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, entry: AuditEntry) -> None:
        """Append one entry (committed before returning)."""
        # Commenters write these fields: store a safe form of anything the columns cannot hold.
        pr = entry.pr if entry.pr is not None and 0 < entry.pr <= _MAX_INT else None
        with self.engine.begin() as conn:
            conn.execute(
                audit_log.insert().values(
                    at=_timestamp(entry.at),
                    actor=_fit(entry.actor, 200),
                    repository=_fit(entry.repository, 300),
                    pr=pr,
                    command=_fit(entry.command, 100),
                    arguments=json.dumps(list(entry.arguments)),
                    outcome=entry.outcome,
                    detail=_fit(entry.detail),
                    source=_fit(entry.source, 200),
                    data=json.dumps(dict(entry.data), default=str),
                )
            )

    def query(
        self,
        repo: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        *,
        pr: int | None = None,
    ) -> Sequence[AuditEntry]:
        """Entries, newest first, filtered by repository, actor (any case), time and PR."""
        query = select(audit_log)
        if repo is not None:
            query = query.where(a.repository == repo)
        if actor is not None:
            query = query.where(func.lower(a.actor) == actor.lower())
        if since is not None:
            query = query.where(a.at >= _timestamp(since))
        if pr is not None:
            query = query.where(a.pr == pr)
        query = query.order_by(a.at.desc(), a.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [_entry(row) for row in conn.execute(query)]

    def waivers_for(self, repo: str, pr: int, today: date) -> tuple[Waiver, ...]:
        """The PR waivers of `repo#pr` still valid on `today`."""
        query = (
            select(audit_log)
            .where(a.repository == repo, a.pr == pr, a.command == "waive")
            .order_by(a.at, a.id)
        )
        with self.engine.connect() as conn:
            entries = [_entry(row) for row in conn.execute(query)]
        return active_waivers(entries, pr, today)


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(
        actor=row.actor,
        at=datetime.fromtimestamp(row.at, UTC),
        repository=row.repository,
        pr=row.pr,
        command=row.command,
        arguments=tuple(json.loads(row.arguments)),
        outcome=row.outcome,
        detail=row.detail,
        source=row.source,
        data=MappingProxyType(json.loads(row.data)),
    )


class DurableMemory:
    """ghapp.app.memory.Memory in the `ghapp_memory` table, shared by every replica."""

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock

    async def recall(self, key: str) -> str | None:
        """The value stored under `key`, or None."""
        return await asyncio.to_thread(self._recall, key)

    async def remember(self, key: str, value: str) -> None:
        """Store `value` under `key` (replacing any previous value)."""
        await asyncio.to_thread(self._remember, key, value)

    def _recall(self, key: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(memory.c.value).where(memory.c.key == key)).scalar()

    def _remember(self, key: str, value: str) -> None:
        insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        statement = insert(memory).values(key=key, value=value, updated_at=self.clock())
        with self.engine.begin() as conn:
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["key"],
                    set_={
                        "value": statement.excluded.value,
                        "updated_at": statement.excluded.updated_at,
                    },
                )
            )

"""The organisation dashboard's tables: a row per service of each repository's latest
default-branch evaluation (`ghapp_compliance_services`), and a daily snapshot per organisation
for the trend (`ghapp_compliance_snapshots`).

Rows are written in the transaction that saves the evaluation (`EvaluationStore.save`), never
replaced by an older evaluation than the one they came from, so the page reads them without
parsing stored reports: 20,000 services are one indexed query of short columns, and only the
rows shown (or exported) are decoded.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from ghapp.core.compliance import ServiceRow, service_rows, summarise
from ghapp.core.reportjson import report_from_json
from ghapp.store.schema import compliance_services, compliance_snapshots

c = compliance_services.c
s = compliance_snapshots.c
_INSERT_CHUNK = 500


class ServiceEntry(NamedTuple):
    """What the page filters and counts on, without the row's JSON (`rows` reads that); a
    named tuple, as 20,000 of them are built per page view."""

    id: int
    repository: str
    service: str
    owner: str | None
    tier: str | None
    data: tuple[str, ...]
    compliant: bool
    failing: tuple[str, ...]
    head_sha: str
    evaluated_at: float


@dataclass(frozen=True)
class Snapshot:
    """An organisation's compliance on one day."""

    day: str
    services: int
    compliant: int
    by_owner: dict[str, tuple[int, int]]  # owner -> (services, compliant)
    by_rule: dict[str, int]


def org_of(repository: str) -> str:
    return repository.split("/", 1)[0].lower()


class ComplianceStore:
    """Reads and writes of the two tables."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        statement = insert(compliance_snapshots)
        columns = ("services", "compliant", "by_owner", "by_rule", "taken_at")
        self._upsert_snapshot = statement.on_conflict_do_update(
            index_elements=["org", "day"], set_={k: statement.excluded[k] for k in columns}
        )

    # -- writing --------------------------------------------------------------------------------
    def replace(
        self,
        conn: Connection,
        repository: str,
        head_sha: str,
        evaluated_at: float,
        rows: Sequence[ServiceRow],
    ) -> bool:
        """Make `rows` the repository's services (in the caller's transaction), unless rows of
        a later evaluation are stored already; whether they were written."""
        if conn.dialect.name == "postgresql":  # two replicas saving one repository: one waits
            key = func.hashtext(f"ghapp compliance {repository}")
            conn.execute(select(func.pg_advisory_xact_lock(key)))
        newest = conn.execute(
            select(func.max(c.evaluated_at)).where(c.repository == repository)
        ).scalar()
        if newest is not None and newest > evaluated_at:
            return False
        conn.execute(delete(compliance_services).where(c.repository == repository))
        values = list(
            {v["service"]: v for v in (_values(r, head_sha, evaluated_at) for r in rows)}.values()
        )
        for start in range(0, len(values), _INSERT_CHUNK):
            conn.execute(compliance_services.insert(), values[start : start + _INSERT_CHUNK])
        return True

    def rows_of_report(self, repository: str, report: dict[str, Any]) -> tuple[ServiceRow, ...]:
        """The service rows of a stored report (`Report.to_json()`)."""
        return service_rows(repository, report_from_json(report))

    def forget(self, org: str, keep: Iterable[str]) -> int:
        """Delete the rows of `org`'s repositories not in `keep` (the app left them); how many."""
        kept = {r.lower() for r in keep}
        with self.engine.begin() as conn:
            stored = conn.execute(
                select(c.repository).where(c.org == org.lower()).distinct()
            ).scalars()
            gone = [r for r in stored if r.lower() not in kept]
            deleted = 0
            for start in range(0, len(gone), _INSERT_CHUNK):
                chunk = gone[start : start + _INSERT_CHUNK]
                result = conn.execute(delete(compliance_services).where(c.repository.in_(chunk)))
                deleted += int(result.rowcount or 0)
        return deleted

    def take_snapshot(self, org: str, day: str, now: float) -> Snapshot:
        """Record (or update) `org`'s numbers for `day` from the current rows."""
        snapshot = self.live_snapshot(org, day)
        with self.engine.begin() as conn:
            conn.execute(
                self._upsert_snapshot,
                {
                    "org": org.lower(),
                    "day": day,
                    "services": snapshot.services,
                    "compliant": snapshot.compliant,
                    "by_owner": json.dumps({k: list(v) for k, v in snapshot.by_owner.items()}),
                    "by_rule": json.dumps(snapshot.by_rule),
                    "taken_at": now,
                },
            )
        return snapshot

    # -- reading --------------------------------------------------------------------------------
    def entries(self, org: str) -> list[ServiceEntry]:
        """Every service of `org`, by repository and service name (case-insensitively, the
        same on every database whatever its collation)."""
        query = select(
            c.id,
            c.repository,
            c.service,
            c.owner,
            c.tier,
            c.data,
            c.compliant,
            c.failing,
            c.head_sha,
            c.evaluated_at,
        ).where(c.org == org.lower())
        with self.engine.connect() as conn:
            found = [
                ServiceEntry(
                    id=row.id,
                    repository=row.repository,
                    service=row.service,
                    owner=row.owner,
                    tier=row.tier,
                    data=tuple(d for d in row.data.split(",") if d),
                    compliant=bool(row.compliant),
                    failing=tuple(row.failing.split()),
                    head_sha=row.head_sha,
                    evaluated_at=row.evaluated_at,
                )
                for row in conn.execute(query)
            ]
        return sorted(found, key=lambda e: (e.repository.casefold(), e.service.casefold(), e.id))

    def rows(self, ids: Sequence[int]) -> list[ServiceRow]:
        """The full rows of these entries, in the order given (deleted ones left out)."""
        found = self.rows_by_id(ids)
        return [found[i] for i in ids if i in found]

    def rows_by_id(self, ids: Sequence[int]) -> dict[int, ServiceRow]:
        """The full row of each of these entries that still exists."""
        found: dict[int, ServiceRow] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), _INSERT_CHUNK):
                chunk = list(ids[start : start + _INSERT_CHUNK])
                for row in conn.execute(select(c.id, c.row).where(c.id.in_(chunk))):
                    found[row.id] = ServiceRow.from_json(json.loads(row.row))
        return found

    def live_snapshot(self, org: str, day: str) -> Snapshot:
        """`org`'s numbers now, as a snapshot of `day`."""
        entries = self.entries(org)
        by_owner: dict[str, list[int]] = {}
        for entry in entries:
            counts = by_owner.setdefault(entry.owner or "(unowned)", [0, 0])
            counts[0] += 1
            counts[1] += entry.compliant
        rows = [ServiceRow(e.repository, e.service, failing=e.failing) for e in entries]
        return Snapshot(
            day=day,
            services=len(entries),
            compliant=sum(1 for e in entries if e.compliant),
            by_owner={k: (v[0], v[1]) for k, v in sorted(by_owner.items())},
            by_rule=summarise(rows)["by_rule"],
        )

    def snapshots(self, org: str, since: str) -> list[Snapshot]:
        """`org`'s daily snapshots from `since` (YYYY-MM-DD) on, oldest first."""
        query = (
            select(compliance_snapshots).where(s.org == org.lower(), s.day >= since).order_by(s.day)
        )
        with self.engine.connect() as conn:
            return [
                Snapshot(
                    day=row.day,
                    services=row.services,
                    compliant=row.compliant,
                    by_owner={
                        k: (int(v[0]), int(v[1])) for k, v in json.loads(row.by_owner).items()
                    },
                    by_rule={str(k): int(v) for k, v in json.loads(row.by_rule).items()},
                )
                for row in conn.execute(query)
            ]

    def orgs(self) -> list[str]:
        """Organisations with at least one service row."""
        with self.engine.connect() as conn:
            return list(conn.execute(select(c.org).distinct().order_by(c.org)).scalars())

    def repositories(self) -> set[str]:
        """Repositories with service rows."""
        with self.engine.connect() as conn:
            return set(conn.execute(select(c.repository).distinct()).scalars())


def _values(row: ServiceRow, head_sha: str, evaluated_at: float) -> dict[str, Any]:
    return {
        "org": org_of(row.repository),
        "repository": row.repository,
        "service": _column(row.service, 300),
        "owner": _column(row.owner, 300) if row.owner else None,
        "tier": _column(row.tier, 100) if row.tier else None,
        "data": "," + ",".join(_column(d, 100) for d in row.data) + "," if row.data else "",
        "compliant": row.compliant,
        "failing": " " + " ".join(row.failing) + " " if row.failing else "",
        "row": json.dumps(row.to_json(), ensure_ascii=False),
        "head_sha": head_sha,
        "evaluated_at": evaluated_at,
    }


def _column(value: str, size: int) -> str:
    # What a manifest says may be longer than the column, or hold a NUL PostgreSQL refuses.
    return value.replace("\x00", "\ufffd")[:size]

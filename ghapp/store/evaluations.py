"""Stored evaluations (`ghapp_evaluations`): what the details page and the dashboard read.

`save` replaces the row of the same repository, head SHA and kind, so a re-check keeps one row.
Rows older than the retention period are pruned (at most once a minute, on save), except each
repository's latest default-branch evaluation, which the organisation dashboard needs however
old it is. Saving a default-branch evaluation also replaces that repository's rows of the
dashboard (ghapp.store.compliance), in the same transaction.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, and_, delete, func, not_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased

from ghapp.app.checkrun import EvaluationRecord
from ghapp.core.model import Report
from ghapp.core.reportjson import report_from_json
from ghapp.store.compliance import ComplianceStore
from ghapp.store.schema import evaluations

logger = logging.getLogger("ghapp.store.evaluations")
e = evaluations.c
PRUNE_EVERY = 60.0  # seconds between retention passes of one process
DAY = 86_400.0


@dataclass(frozen=True)
class StoredEvaluation:
    """A row read back: the record's fields, with the report parsed."""

    record: EvaluationRecord

    @property
    def report(self) -> Report | None:
        data = self.record.report
        return report_from_json(data) if data is not None else None


class EvaluationStore:
    """ghapp.app.checkrun.EvaluationSink on the database, plus the reads pages need."""

    def __init__(
        self,
        engine: Engine,
        *,
        retention_days: float = 90.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.retention_days = retention_days
        self.clock = clock
        self._last_prune = 0.0
        self._lock = threading.Lock()
        self.compliance = ComplianceStore(engine)

    def save(self, record: EvaluationRecord) -> None:
        """Insert or replace the row for (repository, head SHA, kind), and the dashboard's rows
        of a default-branch evaluation; prune now and then."""
        values = _row(record)
        insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        statement = insert(evaluations).values(**values)
        update = {k: statement.excluded[k] for k in values if k not in _KEY}
        rows = None
        if record.default_branch and record.report is not None:
            try:
                rows = self.compliance.rows_of_report(record.repository, record.report)
            except Exception:  # the evaluation is kept even if its dashboard rows cannot be
                logger.exception("no dashboard rows for %s", record.repository)
        with self.engine.begin() as conn:
            conn.execute(statement.on_conflict_do_update(index_elements=_KEY, set_=update))
            if rows is not None:
                self.compliance.replace(
                    conn, record.repository, record.head_sha, values["evaluated_at"], rows
                )
        self._maybe_prune()

    def default_branch_times(self) -> dict[str, float]:
        """Each repository's latest default-branch evaluation time (failed ones too)."""
        query = (
            select(e.repository, func.max(e.evaluated_at))
            .where(e.default_branch.is_(True))
            .group_by(e.repository)
        )
        with self.engine.connect() as conn:
            return {str(repo): float(at) for repo, at in conn.execute(query)}

    def backfill_compliance(self) -> int:
        """Dashboard rows for repositories whose latest default-branch evaluation has none
        (evaluations stored before the dashboard existed); how many repositories."""
        missing = set(self.default_branch_times()) - self.compliance.repositories()
        done = 0
        for stored in self.latest_default_branch(sorted(missing)) if missing else ():
            record = stored.record
            if record.report is None:
                continue
            rows = self.compliance.rows_of_report(record.repository, record.report)
            at = _row(record)["evaluated_at"]
            with self.engine.begin() as conn:
                done += self.compliance.replace(conn, record.repository, record.head_sha, at, rows)
        return done

    def latest(self, repository: str, head_sha: str) -> StoredEvaluation | None:
        """The newest evaluation of this commit (any kind)."""
        query = (
            select(evaluations)
            .where(e.repository == repository, e.head_sha == head_sha)
            .order_by(e.evaluated_at.desc(), e.id.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _stored(row) if row is not None else None

    def latest_default_branch(
        self, repositories: Iterable[str] | None = None
    ) -> list[StoredEvaluation]:
        """The latest default-branch evaluation of each repository (all, or those named)."""
        newest = (
            select(e.repository, func.max(e.evaluated_at).label("at"))
            .where(e.default_branch.is_(True))
            .group_by(e.repository)
            .subquery()
        )
        query = (
            select(evaluations)
            .join(
                newest,
                and_(e.repository == newest.c.repository, e.evaluated_at == newest.c.at),
            )
            .where(e.default_branch.is_(True))
            .order_by(e.repository)
        )
        if repositories is not None:
            query = query.where(e.repository.in_(list(repositories)))
        with self.engine.connect() as conn:
            return [_stored(row) for row in conn.execute(query)]

    def prune(self) -> int:
        """Delete rows past retention (keeping each repository's latest default-branch row);
        how many were deleted. Retention 0 keeps everything."""
        if self.retention_days <= 0:
            return 0
        cutoff = self.clock() - self.retention_days * DAY
        other = aliased(evaluations)
        newest_default = (
            select(func.max(other.c.evaluated_at))
            .where(other.c.repository == e.repository, other.c.default_branch.is_(True))
            .scalar_subquery()
        )
        keep = and_(e.default_branch.is_(True), e.evaluated_at == newest_default)
        with self.engine.begin() as conn:
            result = conn.execute(delete(evaluations).where(e.evaluated_at < cutoff, not_(keep)))
        return int(result.rowcount or 0)

    def _maybe_prune(self) -> None:
        with self._lock:
            now = self.clock()
            if now - self._last_prune < PRUNE_EVERY:
                return
            self._last_prune = now
        self.prune()


_KEY = ["repository", "head_sha", "kind"]


def _row(record: EvaluationRecord) -> dict[str, Any]:
    moment = record.evaluated_at
    at = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    return {
        "repository": record.repository,
        "head_sha": record.head_sha,
        "kind": record.kind,
        "ref": record.ref,
        "default_branch": record.default_branch,
        "pr_number": record.pr_number,
        "base_sha": record.base_sha,
        "installation_id": record.installation_id,
        "conclusion": record.conclusion,
        "title": record.title[:300],
        "report": json.dumps(record.report, ensure_ascii=False) if record.report else None,
        "error": record.error,
        "evaluated_at": at,
    }


def _stored(row: Any) -> StoredEvaluation:
    return StoredEvaluation(
        EvaluationRecord(
            repository=row.repository,
            head_sha=row.head_sha,
            kind=row.kind,
            evaluated_at=datetime.fromtimestamp(row.evaluated_at, UTC),
            conclusion=row.conclusion,
            title=row.title,
            report=json.loads(row.report) if row.report else None,
            error=row.error,
            installation_id=row.installation_id,
            pr_number=row.pr_number,
            base_sha=row.base_sha,
            ref=row.ref,
            default_branch=bool(row.default_branch),
        )
    )

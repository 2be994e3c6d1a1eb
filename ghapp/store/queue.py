"""The durable job queue: one row per delivery is both its record and its queue entry.

Theory of operation
-------------------
Intake inserts a row (`enqueue_many`, ON CONFLICT DO NOTHING on the delivery id, so a repeated
`X-GitHub-Delivery` is acknowledged but never queued twice, whichever replica sees it).

A worker `claim`s one row in a single transaction: an eligible row is pending and due, or running
with an expired lease (its worker died). PostgreSQL skips rows other claimers hold
(`FOR UPDATE SKIP LOCKED`); SQLite serialises claimers with `BEGIN IMMEDIATE`. The claim sets a
lease that the worker renews (`heartbeat`) while the job runs; `complete`, `fail` and `release`
only act while the caller still holds the lease, so a worker that lost it cannot undo the work of
the one that took over. Workers `reclaim` at once the leases of workers known to be dead (same
machine, process gone: ghapp.store.liveness), so a restart after a crash does not wait for them.

Pull-request evaluations carry a coalescing key ("owner/name#123") and GitHub's time of that PR
state. A claim of such a job takes the newest eligible job of its key instead and marks the older
ones superseded; it never starts a key that already has a live running job (one evaluation per
PR at a time), and it skips a job older than the newest head already evaluated for the PR
(`ghapp_pr_heads`), so a late, older event can never overwrite a newer result.

A failure is retried with exponential backoff and jitter (or the delay the error asked for);
after `max_attempts` attempts the job is dead-lettered until an operator `retry`s it. A failure
that no retry can fix (the payload's shape) is dead-lettered at its first attempt. A job whose
worker died on every attempt is dead-lettered by the claim that would start one more; the claim
returns it marked `given_up`, so the worker can report it (ghapp.store.worker).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from ghapp.app.delivery import Delivery
from ghapp.app.webhooks import EVALUATION_ACTIONS, coalescing_of
from ghapp.store.db import relaxed
from ghapp.store.schema import (
    DEAD,
    PENDING,
    RUNNING,
    deliveries,
    pr_heads,
)
from ghapp.store.statements import (
    _COMPLETE,
    _DUE,
    _EVALUATED,
    _FAIL,
    _HEARTBEAT,
    _KEY_LIVE,
    _LEASE,
    _NEWEST,
    _ORPHANED,
    _POISONED,
    _RELEASE,
    _SKIP,
    _SUPERSEDE,
    _TRY_KEY_LOCK,
)

d = deliveries.c
# Rows per INSERT: keeps SQLite under its bound-parameter limit.
_INSERT_CHUNK = 500
# SQLite's default wal_autocheckpoint, restored after an intake commit that deferred it.
_AUTOCHECKPOINT_PAGES = 1000


@dataclass(frozen=True)
class RetryPolicy:
    """How failures are retried: `max_attempts` in all, exponential backoff with jitter."""

    max_attempts: int = 8
    base_delay: float = 2.0
    max_delay: float = 900.0

    def backoff(self, attempts: int, rng: random.Random) -> float:
        """Delay before attempt `attempts + 1`: half fixed, half random ("equal jitter")."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** max(0, attempts - 1))
        return float(ceiling / 2 + rng.uniform(0, ceiling / 2))


@dataclass(frozen=True)
class Job:
    """A claimed delivery, with the lease that lets this worker finish it."""

    seq: int
    delivery: Delivery
    attempts: int
    lease_owner: str
    coalesce_key: str | None
    head_sha: str | None
    event_at: float | None
    # Set when the claim dead-lettered the job instead of leasing it (its worker died on every
    # attempt): why. The worker does not run it; it tells the processor it was given up.
    given_up: str | None = None


@dataclass(frozen=True)
class DeliveryRecord:
    """One row as `ghapp deliveries` shows it."""

    delivery_id: str
    event: str
    action: str | None
    repository: str | None
    status: str
    attempts: int
    received_at: float
    available_at: float
    last_error: str | None
    coalesce_key: str | None


@dataclass(frozen=True)
class QueueStats:
    """Jobs per status and the age of the oldest pending one (for metrics)."""

    counts: dict[str, int]
    oldest_pending_age: float | None


def coalescing_fields(delivery: Delivery) -> tuple[str | None, str | None, float | None]:
    """(key, head sha, GitHub's time of the PR state) for a PR evaluation; Nones otherwise.

    Intake's `parse_delivery` already computed them from its one JSON parse; a delivery built
    elsewhere (reconciliation, tests) has its payload parsed here.
    """
    if delivery.coalescing is not None:
        return delivery.coalescing
    if delivery.event != "pull_request" or delivery.action not in EVALUATION_ACTIONS:
        return None, None, None  # the common non-PR case needs no parse at all
    try:
        payload = json.loads(delivery.payload)
    except ValueError:
        return None, None, None
    return coalescing_of(delivery.event, delivery.action, payload, delivery.received_at)


class Queue:
    """Enqueue, claim, heartbeat, complete, fail, dead-letter and retry deliveries."""

    def __init__(
        self,
        engine: Engine,
        *,
        lease_seconds: float = 60.0,
        retry: RetryPolicy | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.engine = engine
        self._worker_engine = relaxed(engine)  # claim/heartbeat/complete/fail: see ghapp.store.db
        self.lease_seconds = lease_seconds
        self.retry_policy = retry or RetryPolicy()
        self.clock = clock
        self.rng = rng or random.Random()
        self._postgres = engine.dialect.name == "postgresql"
        insert = postgresql.insert if self._postgres else sqlite.insert
        self._insert_delivery = (
            insert(deliveries)
            .on_conflict_do_nothing(index_elements=["delivery_id"])
            .returning(d.delivery_id)
        )
        head = insert(pr_heads)
        # Only move forward: an older evaluation never replaces a newer one.
        self._upsert_head = head.on_conflict_do_update(
            index_elements=["coalesce_key"],
            set_={
                name: head.excluded[name]
                for name in ("head_sha", "event_at", "evaluated_at", "delivery_id")
            },
            where=pr_heads.c.event_at <= head.excluded.event_at,
        )

    # -- intake -------------------------------------------------------------------------------

    def enqueue(self, delivery: Delivery) -> bool:
        """Store and queue one delivery; False when its id was stored before."""
        return self.enqueue_many([delivery])[0]

    def enqueue_many(
        self, batch: Sequence[Delivery], *, defer_checkpoint: bool = False
    ) -> list[bool]:
        """Store and queue deliveries in one commit; per delivery, False for a repeated id.

        `defer_checkpoint` (SQLite): this commit does not run SQLite's automatic WAL checkpoint
        (copying the log into the database file, and its fsync, inside the commit: the slowest
        intake commits); the caller promises to call `checkpoint` soon from elsewhere.
        """
        rows = [self._row(delivery) for delivery in batch]
        inserted: set[str] = set()
        with self.engine.connect() as conn:
            # The raw connection: a PRAGMA through SQLAlchemy would begin a transaction.
            raw = conn.connection.dbapi_connection if defer_checkpoint else None
            if raw is not None and not self._postgres:
                raw.execute("PRAGMA wal_autocheckpoint=0")
            try:
                with conn.begin():
                    for start in range(0, len(rows), _INSERT_CHUNK):
                        # executemany: SQLAlchemy batches rows into multi-row INSERTs
                        chunk = rows[start : start + _INSERT_CHUNK]
                        inserted.update(conn.execute(self._insert_delivery, chunk).scalars())
            finally:
                if raw is not None and not self._postgres:
                    raw.execute(f"PRAGMA wal_autocheckpoint={_AUTOCHECKPOINT_PAGES}")
        accepted: list[bool] = []
        for delivery in batch:
            accepted.append(delivery.id in inserted)
            inserted.discard(delivery.id)  # a second copy in the same batch is a duplicate
        return accepted

    def checkpoint(self) -> None:
        """SQLite: copy the WAL into the database file without blocking writers (PASSIVE);
        what readers still need stays for a later checkpoint. No-op on PostgreSQL."""
        if self._postgres:
            return
        with self.engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            if raw is not None:
                raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _row(self, delivery: Delivery) -> dict[str, Any]:
        key, head, event_at = coalescing_fields(delivery)
        received = delivery.received_at.timestamp()
        return {
            "delivery_id": delivery.id,
            "event": delivery.event,
            "action": delivery.action,
            "installation_id": delivery.installation_id,
            "repository": delivery.repository,
            "payload": delivery.payload,
            "received_at": received,
            "status": PENDING,
            "attempts": 0,
            "available_at": received,
            "lease_owner": None,
            "lease_expires_at": None,
            "last_error": None,
            "finished_at": None,
            "coalesce_key": key,
            "head_sha": head,
            "event_at": event_at,
        }

    # -- workers ------------------------------------------------------------------------------

    def claim(self, worker_id: str) -> Job | None:
        """Lease the next due job to `worker_id` (None when there is nothing to do)."""
        jobs = self.claim_many(worker_id, 1)
        return jobs[0] if jobs else None

    def claim_many(self, worker_id: str, limit: int) -> list[Job]:
        """Lease up to `limit` due jobs to `worker_id` in one transaction (one commit)."""
        now = self.clock()
        busy_keys: list[str] = []
        jobs: list[Job] = []
        with self._worker_engine.begin() as conn:
            orphans = True  # jobs of dead workers first; once none is left, only due ones
            for _ in range(limit + 20):  # bounded: each pass leases or retires a row or a key
                if len(jobs) >= limit:
                    break
                params = {"p_now": now, "p_busy": busy_keys}
                row = conn.execute(_ORPHANED, params).first() if orphans else None
                if row is None:
                    orphans = False
                    row = conn.execute(_DUE, params).first()
                if row is None:
                    break
                if row.coalesce_key is None:
                    job = self._lease(conn, row.seq, row.status, worker_id, now)
                else:
                    job = self._claim_newest(conn, row.coalesce_key, worker_id, now)
                    if job is None:
                        busy_keys.append(row.coalesce_key)
                if job is not None:
                    jobs.append(job)
        return jobs

    def _claim_newest(self, conn: Connection, key: str, worker_id: str, now: float) -> Job | None:
        """Lease the newest eligible job of `key`, superseding older ones; None if key is busy."""
        params = {"p_key": key, "p_now": now}
        if self._postgres:
            # Serialise claimers of one PR; READ COMMITTED then shows us their committed lease.
            locked = conn.execute(_TRY_KEY_LOCK, params).scalar()
            if not locked or conn.execute(_KEY_LIVE, params).scalar():
                return None
        newest = conn.execute(_NEWEST, params).first()
        if newest is None:
            return None
        params.update(p_seq=newest.seq, p_event_at=newest.event_at)
        conn.execute(_SUPERSEDE, params)
        evaluated = conn.execute(_EVALUATED, params).scalar()
        if evaluated is not None and newest.event_at < evaluated:
            conn.execute(_SKIP, params)
            return None
        return self._lease(conn, newest.seq, newest.status, worker_id, now)

    def _lease(
        self, conn: Connection, seq: int, status: str, worker_id: str, now: float
    ) -> Job | None:
        params = {
            "p_seq": seq,
            "p_status": status,
            "p_owner": worker_id,
            "p_until": now + self.lease_seconds,
            "p_now": now,
        }
        row = conn.execute(_LEASE, params).first()
        if row is None:
            return None
        given_up = None
        if row.attempts > self.retry_policy.max_attempts:
            # Its worker died (lease expired) on every attempt: a poison job, stop retrying it.
            given_up = row.last_error or "its worker died on every attempt"
            params.update(p_attempts=self.retry_policy.max_attempts, p_error=given_up)
            conn.execute(_POISONED, params)
            given_up = f"gave up after {self.retry_policy.max_attempts} attempts: {given_up}"
        return Job(
            seq=row.seq,
            delivery=Delivery(
                id=row.delivery_id,
                event=row.event,
                action=row.action,
                installation_id=row.installation_id,
                repository=row.repository,
                payload=bytes(row.payload),
                received_at=datetime.fromtimestamp(row.received_at, UTC),
            ),
            attempts=row.attempts,
            lease_owner=worker_id,
            coalesce_key=row.coalesce_key,
            head_sha=row.head_sha,
            event_at=row.event_at,
            given_up=given_up,
        )

    @staticmethod
    def _mine(job: Job, **params: Any) -> dict[str, Any]:
        return {"p_seq": job.seq, "p_owner": job.lease_owner, **params}

    def heartbeat(self, job: Job) -> bool:
        """Extend the lease; False when this worker no longer holds it."""
        now = self.clock()
        with self._worker_engine.begin() as conn:
            result = conn.execute(_HEARTBEAT, self._mine(job, p_until=now + self.lease_seconds))
            return result.rowcount == 1

    def complete(self, job: Job) -> bool:
        """Mark the job done and record the PR head it evaluated; False if the lease was lost."""
        return self.complete_many([job])[0]

    def complete_many(self, jobs: Sequence[Job]) -> list[bool]:
        """`complete` several jobs in one commit; per job, False if its lease was lost."""
        now = self.clock()
        done: list[bool] = []
        with self._worker_engine.begin() as conn:
            for job in jobs:
                result = conn.execute(_COMPLETE, self._mine(job, p_now=now))
                done.append(result.rowcount == 1)
                if done[-1] and job.coalesce_key is not None and job.event_at is not None:
                    self._record_head(conn, job, now)
        return done

    def _record_head(self, conn: Connection, job: Job, now: float) -> None:
        conn.execute(
            self._upsert_head,
            {
                "coalesce_key": job.coalesce_key,
                "head_sha": job.head_sha or "",
                "event_at": job.event_at,
                "evaluated_at": now,
                "delivery_id": job.delivery.id,
            },
        )

    def fail(
        self, job: Job, error: str, delay: float | None = None, *, permanent: bool = False
    ) -> str | None:
        """Retry later (backoff, or `delay`) or dead-letter (after the last attempt, or at once
        when `permanent`); the new status, None if the lease was lost."""
        now = self.clock()
        if permanent or job.attempts >= self.retry_policy.max_attempts:
            status, available = DEAD, now
        else:
            wait = delay if delay is not None else self.retry_policy.backoff(job.attempts, self.rng)
            status, available = PENDING, now + max(0.0, wait)
        params = self._mine(
            job,
            p_new_status=status,
            p_available=available,
            p_finished=now if status == DEAD else None,
            p_error=error[:4000].replace("\x00", "\ufffd"),  # PostgreSQL text holds no NUL
        )
        with self._worker_engine.begin() as conn:
            result = conn.execute(_FAIL, params)
        return status if result.rowcount == 1 else None

    def reclaim(self, is_dead: Callable[[str], bool]) -> int:
        """Expire now the leases whose owner `is_dead` (ghapp.store.liveness), so their jobs are
        claimed at once instead of when the lease runs out; how many jobs were freed."""
        now = self.clock()
        with self._worker_engine.begin() as conn:
            owners = conn.execute(
                select(d.lease_owner)
                .where(d.status == RUNNING, d.lease_expires_at >= now, d.lease_owner.is_not(None))
                .distinct()
            ).scalars()
            dead = [owner for owner in owners if is_dead(owner)]
            freed = 0
            for owner in dead:
                result = conn.execute(
                    update(deliveries)
                    .where(d.status == RUNNING, d.lease_owner == owner)
                    .values(lease_expires_at=now - 1)
                )
                freed += result.rowcount
        return freed

    def release(self, job: Job) -> bool:
        """Give a job back unfinished (shutdown): due now, the attempt not counted."""
        with self._worker_engine.begin() as conn:
            result = conn.execute(_RELEASE, self._mine(job, p_now=self.clock()))
            return result.rowcount == 1

    # -- operators ----------------------------------------------------------------------------

    def list(self, status: str | None = None, limit: int = 50) -> list[DeliveryRecord]:
        """The newest deliveries first, optionally only those in `status`."""
        query = select(*(c for c in deliveries.c if c.name != "payload"))
        if status is not None:
            query = query.where(d.status == status)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(d.seq.desc()).limit(limit)).all()
        return [
            DeliveryRecord(
                delivery_id=row.delivery_id,
                event=row.event,
                action=row.action,
                repository=row.repository,
                status=row.status,
                attempts=row.attempts,
                received_at=row.received_at,
                available_at=row.available_at,
                last_error=row.last_error,
                coalesce_key=row.coalesce_key,
            )
            for row in rows
        ]

    def retry(self, delivery_id: str) -> bool:
        """Requeue a dead-lettered delivery with a fresh attempt budget; False if not dead."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(deliveries)
                .where(d.delivery_id == delivery_id, d.status == DEAD)
                .values(status=PENDING, attempts=0, available_at=self.clock(), finished_at=None)
            )
            return result.rowcount == 1

    def known(self, delivery_ids: Iterable[str]) -> set[str]:
        """The ids among `delivery_ids` that are stored (reconciliation skips those)."""
        wanted = list(delivery_ids)
        found: set[str] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), _INSERT_CHUNK):
                chunk = wanted[start : start + _INSERT_CHUNK]
                found.update(
                    conn.execute(select(d.delivery_id).where(d.delivery_id.in_(chunk))).scalars()
                )
        return found

    def live(self, coalesce_key: str) -> bool:
        """Whether a job of this pull request (its coalescing key) is pending or running."""
        with self.engine.connect() as conn:
            query = select(d.seq).where(
                d.coalesce_key == coalesce_key, d.status.in_([PENDING, RUNNING])
            )
            return conn.execute(query.limit(1)).first() is not None

    def waiting(self, event: str) -> int:
        """Jobs of `event` pending or running (e.g. how much refresh work is queued already)."""
        with self.engine.connect() as conn:
            query = select(func.count()).where(d.event == event, d.status.in_([PENDING, RUNNING]))
            return int(conn.execute(query).scalar() or 0)

    def stats(self) -> QueueStats:
        """Jobs per status and the age of the oldest pending job."""
        with self.engine.connect() as conn:
            grouped = conn.execute(select(d.status, func.count()).group_by(d.status)).all()
            oldest = conn.execute(
                select(func.min(d.received_at)).where(d.status.in_([PENDING, RUNNING]))
            ).scalar()
        age = None if oldest is None else max(0.0, self.clock() - oldest)
        return QueueStats({str(k): int(v) for k, v in grouped}, age)

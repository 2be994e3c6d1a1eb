"""The queue's SQL statements, built once with bind parameters so SQLAlchemy caches their
compiled form (a claim runs several per job; building them per call cost more than the SQL).
Parameter names start with `p_` so they never clash with column names in UPDATE ... SET.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    Integer,
    String,
    Text,
    and_,
    bindparam,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import aliased

from ghapp.store.schema import (
    DEAD,
    DONE,
    PENDING,
    RUNNING,
    SKIPPED,
    SUPERSEDED,
    deliveries,
    pr_heads,
)

d = deliveries.c


_other = aliased(deliveries)
_NOW = bindparam("p_now", type_=Float(53))
_KEY = bindparam("p_key", type_=String())
_SEQ = bindparam("p_seq", type_=BigInteger())
_OWNER = bindparam("p_owner", type_=String())
_CLEARED = {"lease_owner": None, "lease_expires_at": None}


def _eligible(table: Any) -> Any:
    due = and_(table.c.status == PENDING, table.c.available_at <= _NOW)
    orphaned = and_(table.c.status == RUNNING, table.c.lease_expires_at < _NOW)
    return or_(due, orphaned)


def _live(key: Any) -> Any:
    return exists().where(
        _other.c.coalesce_key == key, _other.c.status == RUNNING, _other.c.lease_expires_at >= _NOW
    )


def _candidate(state: Any) -> Any:
    # One query per state (not an OR) so the (status, seq) index gives rows in order.
    free_key = or_(
        d.coalesce_key.is_(None),
        and_(~_live(d.coalesce_key), d.coalesce_key.not_in(bindparam("p_busy", expanding=True))),
    )
    return (
        select(d.seq, d.status, d.coalesce_key)
        .where(state, free_key)
        .order_by(d.seq)
        .limit(1)
        .with_for_update(skip_locked=True, of=deliveries)
    )


_ORPHANED = _candidate(and_(d.status == RUNNING, d.lease_expires_at < _NOW))
_DUE = _candidate(and_(d.status == PENDING, d.available_at <= _NOW))

_TRY_KEY_LOCK = select(func.pg_try_advisory_xact_lock(func.hashtext(_KEY)))
_KEY_LIVE = select(_live(_KEY))
_NEWEST = (
    select(d.seq, d.status, d.event_at)
    .where(d.coalesce_key == _KEY, _eligible(deliveries))
    .order_by(d.event_at.desc(), d.seq.desc())
    .limit(1)
    .with_for_update(skip_locked=True)
)
_SUPERSEDE = (
    update(deliveries)
    .where(
        d.coalesce_key == _KEY,
        d.seq != _SEQ,
        d.event_at <= bindparam("p_event_at", type_=Float(53)),
        or_(d.status == PENDING, and_(d.status == RUNNING, d.lease_expires_at < _NOW)),
    )
    .values(status=SUPERSEDED, finished_at=_NOW, **_CLEARED)
)
_EVALUATED = select(pr_heads.c.event_at).where(pr_heads.c.coalesce_key == _KEY)
_SKIP = update(deliveries).where(d.seq == _SEQ).values(status=SKIPPED, finished_at=_NOW, **_CLEARED)
_LEASE = (
    update(deliveries)
    .where(d.seq == _SEQ, d.status == bindparam("p_status", type_=String()))
    .values(
        status=RUNNING,
        lease_owner=_OWNER,
        lease_expires_at=bindparam("p_until", type_=Float(53)),
        attempts=d.attempts + 1,
    )
    .returning(*deliveries.c)
)
_POISONED = (
    update(deliveries)
    .where(d.seq == _SEQ)
    .values(
        status=DEAD,
        attempts=bindparam("p_attempts", type_=Integer()),
        finished_at=_NOW,
        last_error=bindparam("p_error", type_=Text()),
        **_CLEARED,
    )
)
_MINE = and_(d.seq == _SEQ, d.lease_owner == _OWNER, d.status == RUNNING)
_HEARTBEAT = (
    update(deliveries).where(_MINE).values(lease_expires_at=bindparam("p_until", type_=Float(53)))
)
_COMPLETE = (
    update(deliveries)
    .where(_MINE)
    .values(status=DONE, finished_at=_NOW, last_error=None, **_CLEARED)
)
_FAIL = (
    update(deliveries)
    .where(_MINE)
    .values(
        status=bindparam("p_new_status", type_=String()),
        available_at=bindparam("p_available", type_=Float(53)),
        finished_at=bindparam("p_finished", type_=Float(53)),
        last_error=bindparam("p_error", type_=Text()),
        **_CLEARED,
    )
)
_RELEASE = (
    update(deliveries)
    .where(_MINE)
    .values(status=PENDING, attempts=d.attempts - 1, available_at=_NOW, **_CLEARED)
)

"""The durable audit log and publishing memory behave like their in-memory versions."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

from sqlalchemy import Engine

from ghapp.commands.audit import AuditEntry, MemoryAuditLog, waiver_data
from ghapp.core.policy.policy import Waiver
from ghapp.store.audit import DurableAuditLog, DurableMemory


def entries() -> list[AuditEntry]:
    waiver = Waiver("scan/missing-sast", "vendor code", "@org/sec", until=date(2024, 6, 30))
    expired = Waiver("k8s/latest-tag", "demo", "@org/sec", until=date(2024, 1, 31))
    return [
        AuditEntry("alice", datetime(2024, 5, 1, tzinfo=UTC), "octo/repo", 7, "owners"),
        AuditEntry(
            "Bob",
            datetime(2024, 5, 2, tzinfo=UTC),
            "octo/repo",
            7,
            "waive",
            ("scan/missing-sast",),
            data=waiver_data(waiver),
            source="comment:1",
        ),
        AuditEntry(
            "bob",
            datetime(2024, 5, 3, tzinfo=UTC),
            "octo/repo",
            7,
            "waive",
            data=waiver_data(expired),
        ),
        AuditEntry(
            "carol",
            datetime(2024, 5, 4, tzinfo=UTC),
            "octo/other",
            None,
            "claim-ownership",
            outcome="refused",
            detail="not a member",
        ),
    ]


def test_query_matches_the_in_memory_log(engine: Engine) -> None:
    durable, memory = DurableAuditLog(engine), MemoryAuditLog()
    for entry in entries():
        durable.record(entry)
        memory.record(entry)
    for filters in (
        {},
        {"repo": "octo/repo"},
        {"actor": "BOB"},
        {"since": datetime(2024, 5, 3, tzinfo=UTC)},
        {"limit": 2},
    ):
        assert list(durable.query(**filters)) == list(memory.query(**filters)), filters


def test_expired_waivers_are_not_returned(engine: Engine) -> None:
    log = DurableAuditLog(engine)
    for entry in entries():
        log.record(entry)
    waivers = log.waivers_for("octo/repo", 7, date(2024, 6, 1))
    assert [w.rule for w in waivers] == ["scan/missing-sast"]
    assert log.waivers_for("octo/repo", 7, date(2024, 7, 1)) == ()


def test_memory_remembers_and_replaces(engine: Engine) -> None:
    store = DurableMemory(engine)

    async def run() -> list[str | None]:
        first = await store.recall("check:octo/repo@abc")
        await store.remember("check:octo/repo@abc", "1")
        await store.remember("check:octo/repo@abc", "2")
        return [first, await store.recall("check:octo/repo@abc")]

    assert asyncio.run(run()) == [None, "2"]

"""DurableSink: committed before accept returns, deduplicated, group-committed."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Engine

from ghapp.store.db import make_engine
from ghapp.store.metrics import Metrics
from ghapp.store.queue import Queue
from ghapp.store.sink import DurableSink
from tests.store.conftest import make_delivery


def test_accept_commits_before_returning(engine: Engine, backend: tuple[str, str | None]) -> None:
    sink = DurableSink(Queue(engine))
    assert asyncio.run(sink.accept(make_delivery("d-1"))) is True
    # A fresh engine (another process, in effect) sees the row.
    other = make_engine(backend[0], schema=backend[1])
    assert [r.delivery_id for r in Queue(other).list()] == ["d-1"]
    other.dispose()


def test_a_repeated_delivery_is_acknowledged_but_not_queued(engine: Engine) -> None:
    metrics = Metrics()
    sink = DurableSink(Queue(engine), metrics=metrics)

    async def twice() -> list[bool]:
        return [await sink.accept(make_delivery("d-1")), await sink.accept(make_delivery("d-1"))]

    assert asyncio.run(twice()) == [True, False]
    text = metrics.render().decode()
    assert 'ghapp_deliveries_total{event="push",outcome="deduplicated"} 1.0' in text


def test_concurrent_accepts_share_commits(engine: Engine) -> None:
    metrics = Metrics()
    sink = DurableSink(Queue(engine), metrics=metrics)

    async def burst() -> list[bool]:
        return await asyncio.gather(*(sink.accept(make_delivery(f"d-{i}")) for i in range(200)))

    assert all(asyncio.run(burst()))
    commits = metrics.registry.get_sample_value("ghapp_intake_commit_seconds_count")
    assert commits is not None and commits < 200
    assert len(Queue(engine).list(limit=500)) == 200


def test_accept_raises_when_the_database_is_unreachable() -> None:
    queue = Queue(make_engine("postgresql://postgres@127.0.0.1:1/none"))
    sink = DurableSink(queue)
    with pytest.raises(Exception, match=r"(?i)connect"):
        asyncio.run(sink.accept(make_delivery("d-1")))


def test_one_unstorable_delivery_does_not_fail_the_rest(engine: Engine) -> None:
    sink = DurableSink(Queue(engine))
    bad = make_delivery("x" * 500)  # longer than the id column allows on PostgreSQL

    async def burst() -> list[object]:
        calls = [
            sink.accept(make_delivery("ok-1")),
            sink.accept(bad),
            sink.accept(make_delivery("ok-2")),
        ]
        return await asyncio.gather(*calls, return_exceptions=True)

    results = asyncio.run(burst())
    assert results[0] is True and results[2] is True
    if engine.dialect.name == "postgresql":
        assert isinstance(results[1], Exception)

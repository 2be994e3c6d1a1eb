"""Retry only what can succeed: a failure no retry can fix is dead-lettered at its first attempt
with the reason, and a signed delivery whose values a database cannot hold is stored in a safe
form or refused with a 4xx, never a 503 that GitHub would redeliver forever."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from ghapp.app.delivery import Delivery, PermanentFailure
from ghapp.app.webhooks import parse_delivery
from ghapp.store.queue import Queue, RetryPolicy
from ghapp.store.sink import DurableSink, Unstorable
from ghapp.store.worker import run_workers
from tests.store.conftest import make_delivery

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class Refuses:
    def __init__(self) -> None:
        self.calls = 0

    async def process(self, delivery: Delivery) -> None:
        self.calls += 1
        raise PermanentFailure("the payload does not have the expected shape: pull_request")


def test_a_permanent_failure_is_dead_lettered_at_once_with_its_reason(engine: Engine) -> None:
    queue = Queue(engine, retry=RetryPolicy(8, base_delay=0.01, max_delay=0.02))
    queue.enqueue(make_delivery("shape"))
    processor = Refuses()

    async def drain() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_workers(queue, processor, concurrency=1, stop=stop, poll_interval=0.01)
        )
        for _ in range(300):
            if queue.list(status="dead"):
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)  # a retry, if there were one, would be due by now
        stop.set()
        await task

    asyncio.run(drain())
    [record] = queue.list()
    assert (record.status, record.attempts, processor.calls) == ("dead", 1, 1)
    assert record.last_error == (
        "PermanentFailure: the payload does not have the expected shape: pull_request"
    )


def signed(delivery_id: str, payload: dict[str, object], event: str = "pull_request") -> Delivery:
    headers = {"X-GitHub-Delivery": delivery_id, "X-GitHub-Event": event}
    return parse_delivery(headers, json.dumps(payload).encode(), NOW)


HOSTILE_PAYLOADS = {
    "nul-repository": {"action": "opened", "repository": {"full_name": "acme/sh\u0000op"}},
    "huge-installation": {"action": "opened", "installation": {"id": 2**70}},
    "long-repository": {"action": "opened", "repository": {"full_name": "a/" + "b" * 400}},
    "nul-action": {"action": "op\u0000ened"},
    "nul-head": {
        "action": "opened",
        "repository": {"full_name": "acme/shop"},
        "pull_request": {"number": 1, "head": {"sha": "\u0000" * 80}},
    },
}


@pytest.mark.parametrize("name", sorted(HOSTILE_PAYLOADS))
def test_payload_values_no_column_can_hold_are_left_out_and_the_rest_is_stored(
    engine: Engine, name: str
) -> None:
    delivery = signed(name, HOSTILE_PAYLOADS[name])
    assert Queue(engine).enqueue(delivery) is True
    [record] = Queue(engine).list()
    assert record.delivery_id == name
    assert record.repository in (None, "acme/shop")
    assert record.action in (None, "opened")
    assert record.coalesce_key in (None, "acme/shop#1")


def test_a_delivery_the_database_refuses_is_a_4xx_not_a_503(engine: Engine) -> None:
    # Built past intake's checks: the database itself must refuse, and intake must say 4xx.
    delivery = dataclasses.replace(make_delivery("bad"), installation_id=2**70)
    sink = DurableSink(Queue(engine))

    async def accept() -> bool:
        return await sink.accept(delivery)

    with pytest.raises(Unstorable) as refused:
        asyncio.run(accept())
    assert 400 <= refused.value.status < 500
    assert asyncio.run(DurableSink(Queue(engine)).accept(make_delivery("good"))) is True

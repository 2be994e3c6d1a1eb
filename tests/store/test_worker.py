"""Workers: run each job once, retry with backoff, dead-letter, keep long jobs leased."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from ghapp.app.delivery import Delivery, PermanentFailure
from ghapp.logs import JsonFormatter, capture_context
from ghapp.store.metrics import Metrics
from ghapp.store.queue import Queue, RetryPolicy
from ghapp.store.worker import Worker, run_workers
from tests.store.conftest import make_delivery, pr_delivery


class Transient(Exception):
    def __init__(self, delay: float | None = None) -> None:
        super().__init__("GitHub answered 502")
        self.delay = delay


class Recorder:
    """A processor that records deliveries and fails the first `failures` calls."""

    def __init__(self, failures: int = 0, error: Callable[[], Exception] = Transient) -> None:
        self.calls: list[str] = []
        self.failures = failures
        self.error = error

    async def process(self, delivery: Delivery) -> None:
        self.calls.append(delivery.id)
        if len(self.calls) <= self.failures:
            raise self.error()


def fast_queue(engine: Engine, attempts: int = 3, lease: float = 30) -> Queue:
    return Queue(
        engine, lease_seconds=lease, retry=RetryPolicy(attempts, base_delay=0.02, max_delay=0.05)
    )


async def drain(
    queue: Queue, processor: object, until: Callable[[], bool], workers: int = 2
) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_workers(queue, processor, concurrency=workers, stop=stop, poll_interval=0.01)  # type: ignore[arg-type]
    )
    for _ in range(500):
        if until():
            break
        await asyncio.sleep(0.01)
    stop.set()
    await task


def done(queue: Queue, count: int) -> Callable[[], bool]:
    return lambda: sum(r.status in ("done", "dead") for r in queue.list(limit=1000)) >= count


def test_each_job_runs_once(engine: Engine) -> None:
    queue = fast_queue(engine)
    queue.enqueue_many([make_delivery(f"d-{i}") for i in range(20)])
    recorder = Recorder()
    asyncio.run(drain(queue, recorder, done(queue, 20), workers=4))
    assert sorted(recorder.calls) == sorted(f"d-{i}" for i in range(20))


def test_a_transient_failure_is_retried_until_it_succeeds(engine: Engine) -> None:
    queue = fast_queue(engine, attempts=3)
    queue.enqueue(make_delivery("d-1"))
    recorder = Recorder(failures=2)
    asyncio.run(drain(queue, recorder, done(queue, 1)))
    assert recorder.calls == ["d-1"] * 3
    assert [r.status for r in queue.list()] == ["done"]


def test_a_job_that_keeps_failing_is_dead_lettered(engine: Engine) -> None:
    queue = fast_queue(engine, attempts=3)
    queue.enqueue(make_delivery("d-1"))
    metrics = Metrics()
    recorder = Recorder(failures=99, error=lambda: ValueError("bug"))

    async def run() -> None:
        stop = asyncio.Event()
        worker = Worker(queue, recorder, metrics=metrics, poll_interval=0.01)
        task = asyncio.create_task(worker.run(stop))
        for _ in range(300):
            if done(queue, 1)():
                break
            await asyncio.sleep(0.01)
        stop.set()
        await task

    asyncio.run(run())
    assert recorder.calls == ["d-1"] * 3
    [record] = queue.list(status="dead")
    assert record.last_error == "ValueError: bug"
    assert (
        metrics.registry.get_sample_value("ghapp_jobs_total", {"outcome": "dead", "event": "push"})
        == 1
    )


def test_the_delay_an_error_asks_for_is_honoured(engine: Engine) -> None:
    queue = fast_queue(engine)
    queue.enqueue(make_delivery("d-1"))
    recorder = Recorder(failures=1, error=lambda: Transient(delay=3600))
    asyncio.run(drain(queue, recorder, lambda: len(recorder.calls) >= 1))
    [record] = queue.list()
    assert record.status == "pending"
    assert record.available_at - queue.clock() > 3500


def test_a_long_job_keeps_its_lease_by_heartbeats(engine: Engine) -> None:
    queue = fast_queue(engine, lease=0.3)
    queue.enqueue(make_delivery("d-1"))

    class Slow:
        calls = 0

        async def process(self, delivery: Delivery) -> None:
            Slow.calls += 1
            await asyncio.sleep(1.0)

    asyncio.run(drain(queue, Slow(), done(queue, 1), workers=3))
    assert Slow.calls == 1
    assert [r.status for r in queue.list()] == ["done"]


def test_a_synchronous_processor_runs_off_the_event_loop(engine: Engine) -> None:
    queue = fast_queue(engine)
    queue.enqueue(make_delivery("d-1"))
    seen: list[str] = []

    class Sync:
        def process(self, delivery: Delivery) -> None:
            seen.append(delivery.id)

    asyncio.run(drain(queue, Sync(), done(queue, 1)))
    assert seen == ["d-1"]


def test_every_log_line_of_a_job_names_its_delivery(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    queue = fast_queue(engine)
    queue.enqueue(pr_delivery(7, "abc", "2024-01-01T00:00:00Z", delivery_id="d-7"))

    class Chatty:
        async def process(self, delivery: Delivery) -> None:
            logging.getLogger("ghapp.somewhere").info("evaluating")

    capture_context()
    with caplog.at_level(logging.INFO):
        asyncio.run(drain(queue, Chatty(), done(queue, 1)))
    formatter = JsonFormatter()
    lines = [json.loads(formatter.format(r)) for r in caplog.records if r.name == "ghapp.somewhere"]
    assert lines and lines[0]["msg"] == "evaluating"
    assert {k: lines[0][k] for k in ("delivery", "repository", "pr", "installation")} == {
        "delivery": "d-7",
        "repository": "octo/repo",
        "pr": "7",
        "installation": 42,
    }


class GivesUp(Recorder):
    """A processor that also hears which deliveries the queue gave up on, and why."""

    def __init__(self, failures: int = 0, error: Callable[[], Exception] = Transient) -> None:
        super().__init__(failures, error)
        self.given_up: list[tuple[str, str]] = []

    async def give_up(self, delivery: Delivery, reason: str) -> None:
        self.given_up.append((delivery.id, reason))


def test_the_processor_hears_once_of_a_job_dead_lettered_after_its_last_attempt(
    engine: Engine,
) -> None:
    queue = fast_queue(engine, attempts=3)
    queue.enqueue(make_delivery("d-1"))
    processor = GivesUp(failures=99)
    asyncio.run(drain(queue, processor, lambda: bool(processor.given_up), workers=1))
    assert processor.calls == ["d-1"] * 3
    assert processor.given_up == [
        ("d-1", "gave up after 3 attempts: Transient: GitHub answered 502")
    ]


def test_the_processor_hears_of_a_permanent_failure_with_its_reason(engine: Engine) -> None:
    queue = fast_queue(engine, attempts=3)
    queue.enqueue(make_delivery("d-1"))
    processor = GivesUp(failures=99, error=lambda: PermanentFailure("over its 1 s budget"))
    asyncio.run(drain(queue, processor, lambda: bool(processor.given_up), workers=1))
    assert processor.given_up == [("d-1", "PermanentFailure: over its 1 s budget")]


def test_a_retried_job_that_succeeds_is_never_given_up(engine: Engine) -> None:
    queue = fast_queue(engine, attempts=3)
    queue.enqueue(make_delivery("d-1"))
    processor = GivesUp(failures=2)
    asyncio.run(drain(queue, processor, done(queue, 1), workers=1))
    assert (processor.calls, processor.given_up) == (["d-1"] * 3, [])


def test_a_job_whose_worker_died_on_every_attempt_is_given_up_not_run(engine: Engine) -> None:
    clock = [1_700_000_000.0]
    queue = Queue(engine, lease_seconds=30, retry=RetryPolicy(2), clock=lambda: clock[0])
    queue.enqueue(make_delivery("d-1"))
    for _ in range(2):  # each claim's worker dies: the lease expires
        assert queue.claim("dead-worker") is not None
        clock[0] += 31
    processor = GivesUp()
    worker = Worker(queue, processor, poll_interval=0.01)
    assert asyncio.run(worker.run_once()) is True
    assert processor.calls == []
    [(delivery_id, reason)] = processor.given_up
    assert delivery_id == "d-1" and reason.startswith("gave up after 2 attempts")
    [record] = queue.list()
    assert (record.status, record.attempts) == ("dead", 2)

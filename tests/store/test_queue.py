"""The queue as a specification, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import Engine

from ghapp.store.queue import Queue, RetryPolicy, coalescing_fields
from tests.store.conftest import make_delivery, pr_delivery


class Clock:
    def __init__(self, now: float = 1_700_000_100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue(engine: Engine, clock: Clock) -> Queue:
    return Queue(
        engine,
        lease_seconds=30,
        retry=RetryPolicy(max_attempts=3, base_delay=10, max_delay=100),
        clock=clock,
        rng=random.Random(7),
    )


def statuses(queue: Queue) -> dict[str, str]:
    return {r.delivery_id: r.status for r in queue.list(limit=1000)}


def test_enqueue_stores_the_delivery_once(queue: Queue) -> None:
    delivery = make_delivery("d-1")
    assert queue.enqueue(delivery) is True
    assert queue.enqueue(delivery) is False
    assert [r.delivery_id for r in queue.list()] == ["d-1"]


def test_a_repeated_id_within_one_batch_is_a_duplicate(queue: Queue) -> None:
    first, again, other = make_delivery("a"), make_delivery("a"), make_delivery("b")
    assert queue.enqueue_many([first, again, other]) == [True, False, True]


def test_claim_returns_the_stored_delivery_with_a_lease(queue: Queue, clock: Clock) -> None:
    delivery = make_delivery("d-1", event="issue_comment", action="created")
    queue.enqueue(delivery)
    job = queue.claim("w1")
    assert job is not None
    assert job.delivery == delivery
    assert job.attempts == 1
    assert queue.claim("w2") is None  # leased


def test_jobs_are_claimed_in_arrival_order(queue: Queue) -> None:
    queue.enqueue_many([make_delivery(f"d-{i}") for i in range(3)])
    claimed = [queue.claim("w") for _ in range(3)]
    assert [job.delivery.id for job in claimed if job] == ["d-0", "d-1", "d-2"]


def test_an_expired_lease_lets_another_worker_take_the_job(queue: Queue, clock: Clock) -> None:
    queue.enqueue(make_delivery("d-1"))
    first = queue.claim("w1")
    clock.now += 31
    second = queue.claim("w2")
    assert first is not None and second is not None
    assert second.delivery.id == "d-1" and second.attempts == 2
    assert queue.complete(first) is False  # the old owner lost the lease
    assert queue.complete(second) is True
    assert statuses(queue) == {"d-1": "done"}


def test_heartbeat_keeps_the_lease(queue: Queue, clock: Clock) -> None:
    queue.enqueue(make_delivery("d-1"))
    job = queue.claim("w1")
    assert job is not None
    clock.now += 20
    assert queue.heartbeat(job) is True
    clock.now += 20
    assert queue.claim("w2") is None


def test_failure_retries_with_backoff_then_dead_letters(queue: Queue, clock: Clock) -> None:
    queue.enqueue(make_delivery("d-1"))
    for attempt in (1, 2):
        job = queue.claim("w")
        assert job is not None and job.attempts == attempt
        assert queue.fail(job, "boom") == "pending"
        assert queue.claim("w") is None  # backing off
        clock.now += 100
    job = queue.claim("w")
    assert job is not None
    assert queue.fail(job, "boom") == "dead"
    clock.now += 10_000
    assert queue.claim("w") is None
    [record] = queue.list(status="dead")
    assert (record.delivery_id, record.attempts, record.last_error) == ("d-1", 3, "boom")


def test_retry_requeues_a_dead_letter_with_a_fresh_budget(queue: Queue, clock: Clock) -> None:
    queue.enqueue(make_delivery("d-1"))
    for _ in range(3):
        job = queue.claim("w")
        assert job is not None
        queue.fail(job, "boom", delay=0)
    assert queue.retry("d-1") is True
    assert queue.retry("d-1") is False  # no longer dead
    job = queue.claim("w")
    assert job is not None and job.attempts == 1


def test_an_explicit_delay_is_honoured(queue: Queue, clock: Clock) -> None:
    queue.enqueue(make_delivery("d-1"))
    job = queue.claim("w")
    assert job is not None
    queue.fail(job, "rate limited", delay=60)
    clock.now += 59
    assert queue.claim("w") is None
    clock.now += 2
    assert queue.claim("w") is not None


@pytest.mark.parametrize(
    ("attempts", "low", "high"),
    [(1, 5, 10), (2, 10, 20), (3, 20, 40), (10, 50, 100)],
)
def test_backoff_doubles_with_jitter_up_to_the_cap(attempts: int, low: float, high: float) -> None:
    policy = RetryPolicy(base_delay=10, max_delay=100)
    rng = random.Random(1)
    delays = [policy.backoff(attempts, rng) for _ in range(50)]
    assert all(low <= delay <= high for delay in delays)
    assert len(set(delays)) > 1


def test_a_job_whose_worker_always_dies_is_dead_lettered(queue: Queue, clock: Clock) -> None:
    queue.enqueue(make_delivery("d-1"))
    for _ in range(3):
        assert queue.claim("w") is not None
        clock.now += 31  # the worker vanished without a word
    retired = queue.claim("w")  # not leased again: returned so the worker can report it
    assert retired is not None and retired.given_up == "gave up after 3 attempts: " + (
        "its worker died on every attempt"
    )
    assert statuses(queue) == {"d-1": "dead"}
    assert queue.claim("w") is None


def test_release_gives_the_job_back_without_counting_it(queue: Queue) -> None:
    queue.enqueue(make_delivery("d-1"))
    job = queue.claim("w")
    assert job is not None and queue.release(job)
    again = queue.claim("w")
    assert again is not None and again.attempts == 1


def test_a_burst_of_synchronize_events_evaluates_only_the_newest_head(queue: Queue) -> None:
    queue.enqueue_many(
        [
            pr_delivery(7, "aaa", "2024-01-01T00:00:01Z"),
            pr_delivery(7, "ccc", "2024-01-01T00:00:03Z"),
            pr_delivery(7, "bbb", "2024-01-01T00:00:02Z"),
            pr_delivery(8, "zzz", "2024-01-01T00:00:01Z"),
        ]
    )
    first = queue.claim("w")
    assert first is not None and first.head_sha == "ccc"
    second = queue.claim("w")
    assert second is not None and second.head_sha == "zzz"
    assert queue.claim("w") is None
    assert statuses(queue)["7-aaa-synchronize"] == "superseded"
    assert statuses(queue)["7-bbb-synchronize"] == "superseded"


def test_one_pull_request_is_evaluated_by_one_worker_at_a_time(queue: Queue) -> None:
    queue.enqueue(pr_delivery(7, "aaa", "2024-01-01T00:00:01Z"))
    running = queue.claim("w1")
    queue.enqueue(pr_delivery(7, "bbb", "2024-01-01T00:00:02Z"))
    assert queue.claim("w2") is None
    assert running is not None and queue.complete(running)
    newer = queue.claim("w2")
    assert newer is not None and newer.head_sha == "bbb"


def test_a_late_older_event_never_overwrites_a_newer_result(queue: Queue) -> None:
    queue.enqueue(pr_delivery(7, "new", "2024-01-01T00:00:05Z"))
    job = queue.claim("w")
    assert job is not None and queue.complete(job)
    queue.enqueue(pr_delivery(7, "old", "2024-01-01T00:00:01Z"))  # e.g. a redelivery
    assert queue.claim("w") is None
    assert statuses(queue)["7-old-synchronize"] == "skipped"


def test_other_pull_request_actions_are_not_coalesced(queue: Queue) -> None:
    queue.enqueue(pr_delivery(7, "aaa", "2024-01-01T00:00:01Z", action="closed"))
    queue.enqueue(pr_delivery(7, "bbb", "2024-01-01T00:00:02Z"))
    first, second = queue.claim("w"), queue.claim("w")
    assert first is not None and first.delivery.action == "closed"
    assert second is not None and second.head_sha == "bbb"


@pytest.mark.parametrize(
    "payload",
    [b"not json", b"[]", b'{"pull_request": {"number": "x"}}', b'{"pull_request": null}'],
)
def test_an_unreadable_pull_request_payload_is_queued_uncoalesced(payload: bytes) -> None:
    delivery = make_delivery("d", event="pull_request", action="synchronize")
    broken = type(delivery)(**{**delivery.__dict__, "payload": payload})
    assert coalescing_fields(broken) == (None, None, None)


def test_known_lists_stored_ids(queue: Queue) -> None:
    queue.enqueue(make_delivery("a"))
    assert queue.known(["a", "b"]) == {"a"}


def test_stats_count_jobs_and_the_oldest_age(queue: Queue, clock: Clock) -> None:
    queue.enqueue_many([make_delivery("a"), make_delivery("b")])
    job = queue.claim("w")
    assert job is not None and queue.complete(job)
    stats = queue.stats()
    assert stats.counts == {"done": 1, "pending": 1}
    assert stats.oldest_pending_age == pytest.approx(100.0)

"""Workers: claim a job, run the processor under a renewed lease, then complete or fail it.

A worker is an asyncio task; database calls run in threads. The processor is
`ghapp.app.processor.Processor` (duck-typed here: `process(delivery)`, async or not). An
exception with a numeric `delay` attribute (RetryableError) is retried after that many seconds;
one with a true `permanent` attribute (PermanentFailure) is dead-lettered at once; any other
exception is retried with backoff, and dead-lettered after the last attempt. Whenever a job is
dead-lettered (so too a job whose worker died on every attempt, which the claim retires), the
processor's `give_up(delivery, reason)` is called, if it has one: the app completes the check run
the job left `in_progress`.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from ghapp.app.delivery import Delivery
from ghapp.logs import bind_delivery
from ghapp.store.liveness import is_dead, lease_owner
from ghapp.store.metrics import Metrics
from ghapp.store.queue import Job, Queue
from ghapp.store.schema import DEAD

logger = logging.getLogger("ghapp.store.worker")


class Processor(Protocol):
    def process(self, delivery: Delivery) -> Any:
        """Do the work for one delivery (may be a coroutine function)."""
        ...


def new_worker_id(index: int = 0) -> str:
    """A lease owner name unique across hosts, processes and restarts, that tells a later
    worker on the same machine whether its process died (ghapp.store.liveness)."""
    return lease_owner(index)


class Worker:
    """One claim-process-finish loop."""

    def __init__(
        self,
        queue: Queue,
        processor: Processor,
        *,
        worker_id: str | None = None,
        metrics: Metrics | None = None,
        poll_interval: float = 0.5,
        wake: asyncio.Event | None = None,
        batch: int = 1,
    ) -> None:
        self.queue = queue
        self.batch = batch  # jobs claimed (and run concurrently) per transaction
        self.processor = processor
        self.worker_id = worker_id or new_worker_id()
        self.metrics = metrics
        self.poll_interval = poll_interval
        self.wake = wake

    async def run(self, stop: asyncio.Event) -> None:
        """Work until `stop` is set; a job in progress is finished first."""
        while not stop.is_set():
            try:
                ran = await self.run_once()
            except Exception:  # the database is away: keep the worker alive, try again later
                logger.exception("worker %s: claim failed", self.worker_id)
                ran = False
            if not ran:
                await self._idle(stop)

    async def _idle(self, stop: asyncio.Event) -> None:
        waiters = [asyncio.ensure_future(stop.wait())]
        if self.wake is not None:
            waiters.append(asyncio.ensure_future(self.wake.wait()))
        _, pending = await asyncio.wait(
            waiters, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED
        )
        for waiter in pending:
            waiter.cancel()
        if self.wake is not None:
            self.wake.clear()

    async def run_once(self) -> bool:
        """Claim up to `batch` jobs, run them concurrently; False when there was none."""
        jobs = await asyncio.to_thread(self.queue.claim_many, self.worker_id, self.batch)
        if not jobs:
            return False
        for job in [j for j in jobs if j.given_up is not None]:  # retired by the claim
            await self._give_up(job, str(job.given_up))
        jobs = [j for j in jobs if j.given_up is None]
        if not jobs:
            return True
        heartbeat = asyncio.create_task(self._heartbeat(jobs))
        try:
            results = await asyncio.gather(*(self._run(job) for job in jobs))
        finally:
            heartbeat.cancel()
        succeeded = [(job, started) for job, (ok, started) in zip(jobs, results, strict=True) if ok]
        if succeeded:
            done = await asyncio.to_thread(self.queue.complete_many, [j for j, _ in succeeded])
            for (job, started), completed in zip(succeeded, done, strict=True):
                outcome = "done" if completed else "lost_lease"
                self._count(job, outcome, started)
                if not completed:
                    logger.warning("job %s finished after its lease was lost", job.delivery.id)
        return True

    async def _run(self, job: Job) -> tuple[bool, float]:
        """Run the processor on one job: (succeeded, start time); failures are recorded here."""
        started = time.perf_counter()
        pr = job.coalesce_key.rpartition("#")[2] if job.coalesce_key else None
        with bind_delivery(job.delivery, pull_request=pr):
            try:
                await self._call_processor(job.delivery)
            except asyncio.CancelledError:
                await asyncio.shield(asyncio.to_thread(self.queue.release, job))
                raise
            except Exception as exc:
                delay = getattr(exc, "delay", None)
                delay = float(delay) if isinstance(delay, int | float) else None
                permanent = getattr(exc, "permanent", False) is True
                status = await asyncio.to_thread(
                    self.queue.fail, job, _describe(exc), delay, permanent=permanent
                )
                outcome = (
                    "lost_lease" if status is None else ("dead" if status == DEAD else "retry")
                )
                level = logging.ERROR if outcome == "dead" else logging.WARNING
                logger.log(level, "job failed (attempt %d): %s -> %s", job.attempts, exc, outcome)
                self._count(job, outcome, started)
                if status == DEAD:
                    await self._give_up(job, _given_up_reason(job, exc))
                return False, started
            logger.info("job processed in %.3fs", time.perf_counter() - started)
            return True, started

    async def _give_up(self, job: Job, reason: str) -> None:
        give_up = getattr(self.processor, "give_up", None)
        if give_up is None:
            return
        try:
            result = give_up(job.delivery, reason)
            if inspect.isawaitable(result):
                await result
        except Exception:  # the processor logs its own; this is a bug in it
            logger.exception("giving up on %s failed", job.delivery.id)

    def _count(self, job: Job, outcome: str, started: float) -> None:
        if self.metrics is not None:
            self.metrics.count_job(outcome, job.delivery.event, time.perf_counter() - started)

    async def _call_processor(self, delivery: Delivery) -> None:
        if inspect.iscoroutinefunction(self.processor.process):
            await self.processor.process(delivery)
        else:
            result = await asyncio.to_thread(self.processor.process, delivery)
            if inspect.isawaitable(result):
                await result

    async def _heartbeat(self, jobs: list[Job]) -> None:
        interval = max(0.05, self.queue.lease_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            for job in jobs:
                with contextlib.suppress(Exception):  # a missed beat is retried at the next one
                    if not await asyncio.to_thread(self.queue.heartbeat, job):
                        logger.warning(
                            "lease of %s lost; another worker may take it over", job.delivery.id
                        )


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _given_up_reason(job: Job, exc: BaseException) -> str:
    if getattr(exc, "permanent", False) is True:
        return _describe(exc)
    return f"gave up after {job.attempts} attempts: {_describe(exc)}"


async def run_workers(
    queue: Queue,
    processor: Processor,
    *,
    concurrency: int = 4,
    stop: asyncio.Event | None = None,
    metrics: Metrics | None = None,
    poll_interval: float = 0.5,
    wake: asyncio.Event | None = None,
    batch: int = 1,
    dead: Callable[[str], bool] = is_dead,
) -> None:
    """Run `concurrency` workers, each claiming up to `batch` jobs at a time, until `stop`.

    First, and then every half lease, the leases of workers `dead` says died are freed, so their
    jobs run again now rather than when the lease expires."""
    stop = stop or asyncio.Event()
    workers = [
        Worker(
            queue,
            processor,
            worker_id=new_worker_id(index),
            metrics=metrics,
            poll_interval=poll_interval,
            wake=wake,
            batch=batch,
        )
        for index in range(concurrency)
    ]
    logger.info("starting %d workers", concurrency)
    await _reclaim(queue, dead)
    reaper = asyncio.create_task(_reclaim_forever(queue, dead, stop))
    try:
        await asyncio.gather(*(worker.run(stop) for worker in workers))
    finally:
        reaper.cancel()


async def _reclaim(queue: Queue, dead: Callable[[str], bool]) -> None:
    try:
        freed = await asyncio.to_thread(queue.reclaim, dead)
    except Exception as exc:  # the database is away: the workers will say so too
        logger.warning("could not reclaim leases of dead workers: %r", exc)
        return
    if freed:
        logger.warning("reclaimed %d job(s) whose worker died on this machine", freed)


async def _reclaim_forever(queue: Queue, dead: Callable[[str], bool], stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=max(1.0, queue.lease_seconds / 2))
        if not stop.is_set():
            await _reclaim(queue, dead)

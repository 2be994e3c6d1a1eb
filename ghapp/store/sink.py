"""DurableSink: intake's `accept` returns only after the delivery is committed to the database.

Group commit: concurrent `accept` calls that arrive while a commit is in flight wait for the next
one, which writes all of them in one transaction (one fsync on SQLite). Nothing waits for a timer:
a lone delivery is committed at once, and under load batches grow by themselves. The database
call runs in a worker thread so the event loop keeps answering other requests meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from ghapp.app.delivery import Delivery
from ghapp.store.metrics import Metrics
from ghapp.store.queue import Queue

logger = logging.getLogger("ghapp.store.sink")
_MAX_BATCH = 1000


class DurableSink:
    """A DeliverySink backed by the durable queue (see ghapp.app.delivery.DeliverySink)."""

    def __init__(
        self,
        queue: Queue,
        *,
        metrics: Metrics | None = None,
        on_enqueued: Callable[[], None] | None = None,
    ) -> None:
        self.queue = queue
        self.metrics = metrics
        self._on_enqueued = on_enqueued  # wakes in-process workers without waiting for a poll
        self.background: Any = None  # in-process workers (ghapp.store.service.BackgroundLoop)
        self._waiting: list[tuple[Delivery, asyncio.Future[bool]]] = []
        self._flusher: asyncio.Task[None] | None = None

    def stop_workers(self, timeout: float = 30.0) -> None:
        """Stop the in-process workers, letting running jobs finish (no-op without workers)."""
        if self.background is not None:
            self.background.stop(timeout)

    async def accept(self, delivery: Delivery) -> bool:
        """Commit the delivery; False when its id was stored before. Raises when not stored."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((delivery, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting[:_MAX_BATCH], self._waiting[_MAX_BATCH:]
            started = time.perf_counter()
            try:
                results = await asyncio.to_thread(self._commit, [d for d, _ in batch])
            except Exception as exc:  # the whole batch failed: every caller answers 5xx
                logger.error("intake commit failed for %d deliveries: %r", len(batch), exc)
                for delivery, future in batch:
                    self._count("failed", delivery)
                    if not future.done():
                        future.set_exception(exc)
                continue
            if self.metrics is not None:
                self.metrics.intake_commit_seconds.observe(time.perf_counter() - started)
            for (delivery, future), result in zip(batch, results, strict=True):
                if isinstance(result, Exception):
                    self._count("failed", delivery)
                    if not future.done():
                        future.set_exception(result)
                    continue
                self._count("received" if result else "deduplicated", delivery)
                if not future.done():
                    future.set_result(result)
            if any(r is True for r in results) and self._on_enqueued is not None:
                self._on_enqueued()

    def _commit(self, batch: list[Delivery]) -> list[bool | Exception]:
        try:
            return list(self.queue.enqueue_many(batch))
        except Exception:
            if len(batch) == 1:
                raise
        # One bad delivery must not fail the others: fall back to one commit each.
        results: list[bool | Exception] = []
        for delivery in batch:
            try:
                results.append(self.queue.enqueue(delivery))
            except Exception as exc:
                results.append(exc)
        return results

    def _count(self, outcome: str, delivery: Delivery) -> None:
        if self.metrics is not None:
            self.metrics.count_delivery(outcome, delivery.event)

"""DurableSink: intake's `accept` returns only after the delivery is committed to the database.

Group commit: concurrent `accept` calls that arrive while a commit is in flight wait for the next
one, which writes all of them in one transaction (one fsync on SQLite). Nothing waits for a timer:
a lone delivery is committed at once, and under load batches grow by themselves.

The commits run in one executor job per busy period (`_drain`), not on the event loop: the job
commits a batch, hands its results back to the loop in one callback, and at once takes whatever
arrived meanwhile, until nothing is waiting. The next commit therefore never waits for a busy
event loop to notice that the previous one finished (under load that wait was as long as the
commit itself), and the loop keeps reading and verifying requests while the database works.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import DataError

from ghapp.app.delivery import Delivery
from ghapp.app.webhooks import WebhookError
from ghapp.store.metrics import Metrics
from ghapp.store.queue import Queue

logger = logging.getLogger("ghapp.store.sink")
_MAX_BATCH = 1000
# Payload bytes committed between two WAL checkpoints (SQLite by itself: ~4 MB of pages); fewer,
# larger checkpoints disturb fewer intake commits.
_CHECKPOINT_BYTES = 16 * 1024 * 1024
_Waiter = tuple[Delivery, asyncio.Future[bool]]


class Unstorable(WebhookError):
    """The database refused this delivery's values themselves: storing it again would fail the
    same way, so intake answers 4xx (not 503, which would have GitHub redeliver it forever)."""

    status = 422


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
        self._lock = threading.Lock()  # guards _waiting and _draining (loop and drain thread)
        self._waiting: list[_Waiter] = []
        self._draining = False
        # SQLite: intake commits skip the automatic WAL checkpoint; a short-lived thread runs it
        # beside the next commits instead of inside one (see Queue.enqueue_many).
        self._defer_checkpoint = queue.engine.dialect.name == "sqlite"
        self._since_checkpoint = 0  # payload bytes; only the drain thread touches it
        self._checkpointing = threading.Event()  # set while a checkpoint thread runs

    def stop_workers(self, timeout: float = 30.0) -> None:
        """Stop the in-process workers, letting running jobs finish (no-op without workers)."""
        if self.background is not None:
            self.background.stop(timeout)

    async def accept(self, delivery: Delivery) -> bool:
        """Commit the delivery; False when its id was stored before. Raises when not stored."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        with self._lock:
            self._waiting.append((delivery, future))
            start = not self._draining
            self._draining = True
        if start:
            try:
                loop.run_in_executor(None, self._drain)
            except BaseException:
                with self._lock:
                    self._draining = False
                raise
        return await future

    def _drain(self) -> None:
        """Commit batches until nothing waits (runs in an executor thread)."""
        try:
            while self._drain_one():
                pass
        except BaseException:
            # Never leave the sink believing a drain runs: the next accept starts a new one.
            with self._lock:
                self._draining = False
            raise

    def _drain_one(self) -> bool:
        with self._lock:
            if not self._waiting:
                self._draining = False
                return False
            batch, self._waiting = self._waiting[:_MAX_BATCH], self._waiting[_MAX_BATCH:]
        started = time.perf_counter()
        try:
            results: list[bool | Exception] | Exception = self._commit([d for d, _ in batch])
        except Exception as exc:  # the whole batch failed: every caller answers 5xx
            logger.error("intake commit failed for %d deliveries: %r", len(batch), exc)
            results = exc
        self._hand_back(batch, results, time.perf_counter() - started)
        if self._defer_checkpoint:
            self._since_checkpoint += sum(len(d.payload) for d, _ in batch)
            if self._since_checkpoint >= _CHECKPOINT_BYTES and not self._checkpointing.is_set():
                self._since_checkpoint = 0
                self._checkpointing.set()
                threading.Thread(target=self._checkpoint, name="ghapp-wal-checkpoint").start()
        return True

    def _checkpoint(self) -> None:
        try:
            self.queue.checkpoint()
        except Exception as exc:  # the next one retries; the WAL only grows meanwhile
            logger.warning("WAL checkpoint failed: %r", exc)
        finally:
            self._checkpointing.clear()

    def _hand_back(
        self, batch: list[_Waiter], results: list[bool | Exception] | Exception, seconds: float
    ) -> None:
        # One callback per event loop per batch (normally one loop: the server's).
        loops: dict[asyncio.AbstractEventLoop, list[int]] = {}
        for index, (_, future) in enumerate(batch):
            loops.setdefault(future.get_loop(), []).append(index)
        for loop, indexes in loops.items():
            part = [batch[i] for i in indexes]
            outcome = results if isinstance(results, Exception) else [results[i] for i in indexes]
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody awaits these
                loop.call_soon_threadsafe(self._settle, part, outcome, seconds)

    def _settle(
        self, batch: list[_Waiter], results: list[bool | Exception] | Exception, seconds: float
    ) -> None:
        """Answer the callers of one committed batch (on their event loop)."""
        if isinstance(results, Exception):
            for delivery, future in batch:
                self._count("failed", delivery)
                if not future.done():
                    future.set_exception(results)
            return
        if self.metrics is not None:
            self.metrics.intake_commit_seconds.observe(seconds)
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
            return list(self.queue.enqueue_many(batch, defer_checkpoint=self._defer_checkpoint))
        except (DataError, OverflowError):
            pass  # some delivery's values cannot be stored: find which, one commit each
        except Exception:
            if len(batch) == 1:
                raise
        # One bad delivery must not fail the others: fall back to one commit each.
        results: list[bool | Exception] = []
        for delivery in batch:
            try:
                results.append(self.queue.enqueue(delivery))
            except (DataError, OverflowError) as exc:  # its values, not the database's state
                logger.warning("delivery %r cannot be stored: %s", delivery.id, exc)
                results.append(Unstorable(f"the delivery cannot be stored: {type(exc).__name__}"))
            except Exception as exc:
                results.append(exc)
        return results

    def _count(self, outcome: str, delivery: Delivery) -> None:
        if self.metrics is not None:
            self.metrics.count_delivery(outcome, delivery.event)

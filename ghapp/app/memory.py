"""In-process implementations: the delivery sink without a database, and the app's small memory.

`MemorySink` runs deliveries on asyncio tasks in this process: dedupe by delivery id, a bounded
number of attempts with exponential backoff (or the delay a RetryableError asks for; none after
a PermanentFailure). A crash loses queued work; use the durable sink (ghapp.store) when that
matters.

`Memory` is what publishing remembers between events (check-run ids per head SHA, fingerprints
of review comments already posted, the summary comment's id): a tiny async key-value interface
the durable store can back with a table. `InMemoryMemory` is the dict version.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Protocol

from ghapp.app.delivery import Delivery
from ghapp.logs import delivery_fields, log_json

logger = logging.getLogger("ghapp.memory")
Process = Callable[[Delivery], Awaitable[None]]


class Memory(Protocol):
    async def recall(self, key: str) -> str | None:
        """The value stored under `key`, or None."""
        ...

    async def remember(self, key: str, value: str) -> None:
        """Store `value` under `key` (replacing any previous value)."""
        ...


class InMemoryMemory:
    """Memory in a bounded dict (oldest keys are forgotten first)."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._values: OrderedDict[str, str] = OrderedDict()
        self._max = max_keys

    async def recall(self, key: str) -> str | None:
        return self._values.get(key)

    async def remember(self, key: str, value: str) -> None:
        self._values[key] = value
        self._values.move_to_end(key)
        while len(self._values) > self._max:
            self._values.popitem(last=False)


class MemorySink:
    """A DeliverySink that processes deliveries on this process's event loop."""

    def __init__(
        self,
        process: Process,
        *,
        workers: int = 4,
        max_attempts: int = 5,
        base_delay: float = 1.0,
        max_delay: float = 300.0,
        max_seen: int = 50_000,
    ) -> None:
        self._process = process
        self._workers = workers
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._max_seen = max_seen
        # asyncio.Queue binds to a loop only when first awaited, so it can be made here.
        self._queue: asyncio.Queue[tuple[Delivery, int]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._pending: set[asyncio.Task[None]] = set()
        self._outstanding = 0  # accepted, not yet done or given up (retries included)
        self._idle = asyncio.Event()
        self._idle.set()
        self.failed: list[tuple[str, str]] = []  # (delivery id, error) given up on

    async def accept(self, delivery: Delivery) -> bool:
        if delivery.id in self._seen:
            return False
        self._seen[delivery.id] = None
        while len(self._seen) > self._max_seen:
            self._seen.popitem(last=False)
        self._ensure_started()
        self._outstanding += 1
        self._idle.clear()
        self._queue.put_nowait((delivery, 1))
        return True

    async def join(self) -> None:
        """Wait until every accepted delivery is processed or given up (tests, shutdown)."""
        await self._idle.wait()

    async def close(self) -> None:
        """Stop the workers (queued deliveries are dropped)."""
        for task in [*self._tasks, *self._pending]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._pending, return_exceptions=True)
        self._tasks.clear()

    def _ensure_started(self) -> None:
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._work()) for _ in range(self._workers)]

    async def _work(self) -> None:
        while True:
            delivery, attempt = await self._queue.get()
            try:
                finished = await self._run(delivery, attempt)
            except BaseException:
                finished = True
                raise
            finally:
                self._queue.task_done()
                if finished:
                    self._outstanding -= 1
                    if self._outstanding == 0:
                        self._idle.set()

    async def _run(self, delivery: Delivery, attempt: int) -> bool:
        """Process once; False when a retry was scheduled."""
        fields = delivery_fields(delivery)
        try:
            await self._process(delivery)
            return True
        except Exception as exc:
            if attempt >= self._max_attempts or getattr(exc, "permanent", False) is True:
                log_json(
                    logger,
                    logging.ERROR,
                    "delivery failed, giving up",
                    error=repr(exc),
                    attempt=attempt,
                    **fields,
                )
                self.failed.append((delivery.id, repr(exc)))
                return True
            delay = getattr(exc, "delay", None)
            if not isinstance(delay, int | float):
                delay = min(self._max_delay, self._base_delay * 2 ** (attempt - 1))
            log_json(
                logger,
                logging.WARNING,
                "delivery failed, will retry",
                error=repr(exc),
                attempt=attempt,
                delay=delay,
                **fields,
            )
            task = asyncio.create_task(self._requeue(delivery, attempt + 1, float(delay)))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)
            return False

    async def _requeue(self, delivery: Delivery, attempt: int, delay: float) -> None:
        await asyncio.sleep(delay)
        self._queue.put_nowait((delivery, attempt))

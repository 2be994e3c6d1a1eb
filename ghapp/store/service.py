"""Wiring: open the store (engine, migrations, queue, metrics) and run workers beside intake.

`ghapp serve` gets its sink from `durable_sink(settings, processor)`: the sink commits deliveries
on the server's event loop, and the in-process workers (and the periodic reconciliation pass, when
enabled) run on their own event loop in a background thread, so processing never delays an
acknowledgement and nothing depends on the ASGI server's lifespan events. On exit the workers
finish or release their jobs; a hard kill leaves leases that expire and are taken over.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import httpx

from ghapp.store.audit import DurableAuditLog, DurableMemory
from ghapp.store.db import make_engine
from ghapp.store.evaluations import EvaluationStore
from ghapp.store.metrics import Metrics
from ghapp.store.migrations import migrate
from ghapp.store.queue import Queue, RetryPolicy
from ghapp.store.reconcile import reconcile_forever
from ghapp.store.refresh import Refresher, refresh_forever
from ghapp.store.sink import DurableSink
from ghapp.store.worker import Processor, run_workers

logger = logging.getLogger("ghapp.store.service")
DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_LEASE_SECONDS = 60.0


@dataclass
class Store:
    """Everything the app needs from the database, opened and migrated."""

    queue: Queue
    metrics: Metrics
    audit: DurableAuditLog
    memory: DurableMemory
    evaluations: EvaluationStore

    @classmethod
    def open(
        cls,
        database_url: str | None,
        *,
        schema: str | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        metrics: Metrics | None = None,
        retention_days: float = 90.0,
    ) -> Store:
        """Connect, run pending migrations, and build the queue, metrics and audit log;
        evaluations are kept `retention_days` (0: forever)."""
        engine = make_engine(database_url, schema=schema)
        migrate(engine)
        queue = Queue(engine, lease_seconds=lease_seconds, retry=RetryPolicy(max_attempts))
        metrics = metrics or Metrics()
        metrics.watch_queue(queue)
        evaluations = EvaluationStore(engine, retention_days=retention_days)
        try:
            evaluations.backfill_compliance()
        except Exception:  # the dashboard fills in as evaluations come; never block a start
            logger.exception("could not fill the dashboard from stored evaluations")
        return cls(queue, metrics, DurableAuditLog(engine), DurableMemory(engine), evaluations)


class BackgroundLoop:
    """An event loop in a daemon thread running coroutines until `stop()`."""

    def __init__(self, name: str = "ghapp-workers") -> None:
        self.loop = asyncio.new_event_loop()
        self.stop_event: asyncio.Event | None = None
        self.wake_event: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._mains: list[Callable[[asyncio.Event, asyncio.Event], Coroutine[Any, Any, None]]] = []

    def add(
        self, main: Callable[[asyncio.Event, asyncio.Event], Coroutine[Any, Any, None]]
    ) -> None:
        """Run `main(stop, wake)` on the loop once started."""
        self._mains.append(main)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait()
        atexit.register(self.stop)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self.stop_event, self.wake_event = asyncio.Event(), asyncio.Event()
        self._ready.set()
        await asyncio.gather(*(main(self.stop_event, self.wake_event) for main in self._mains))

    def wake(self) -> None:
        """Tell idle workers there is new work (callable from any thread)."""
        if self.wake_event is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.wake_event.set)

    def stop(self, timeout: float = 30.0) -> None:
        """Let workers finish their jobs, then end the thread."""
        if self.stop_event is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.stop_event.set)
            self._thread.join(timeout)


def start_workers(
    store: Store,
    processor: Processor,
    *,
    concurrency: int,
    reconcile: dict[str, Any] | None = None,
) -> BackgroundLoop:
    """Run `concurrency` workers (and the reconciliation and dashboard refresh loops, given
    their settings) in a thread."""
    background = BackgroundLoop()

    async def workers(stop: asyncio.Event, wake: asyncio.Event) -> None:
        await run_workers(
            store.queue,
            processor,
            concurrency=concurrency,
            stop=stop,
            metrics=store.metrics,
            wake=wake,
        )

    background.add(workers)
    if reconcile is not None:
        options = dict(reconcile)
        api_url = options.pop("api_url")

        async def reconciler(stop: asyncio.Event, wake: asyncio.Event) -> None:
            await reconcile_forever(
                lambda: httpx.AsyncClient(base_url=api_url, timeout=30),
                queue=store.queue,
                stop=stop,
                metrics=store.metrics,
                **options,
            )

        background.add(reconciler)
        budget = getattr(getattr(processor, "github", None), "budget", None)
        if budget is not None:  # the dashboard's refresh shares the workers' view of the quota
            refresher = Refresher(store.queue, store.evaluations, budget)

            async def refresh(stop: asyncio.Event, wake: asyncio.Event) -> None:
                await refresh_forever(
                    lambda: httpx.AsyncClient(base_url=api_url, timeout=30),
                    refresher,
                    app_id=options["app_id"],
                    private_key=options["private_key"],
                    interval=options["interval"],
                    stop=stop,
                )

            background.add(refresh)
    background.start()
    return background


def durable_sink(
    settings: Any,
    processor: Processor,
    *,
    store: Store | None = None,
    reconcile_interval: float | None = None,
    reconcile_lookback: float = 86_400.0,
) -> DurableSink:
    """The sink `ghapp serve` uses: a migrated store and `settings.workers` workers.

    `reconcile_interval` (seconds) also runs the reconciliation pass that often.
    """
    store = store or Store.open(settings.database_url)
    reconcile = None
    if reconcile_interval:
        reconcile = {
            "api_url": settings.github_api_url,
            "app_id": settings.app_id,
            "private_key": settings.private_key,
            "interval": reconcile_interval,
            "lookback": reconcile_lookback,
        }
    workers = int(getattr(settings, "workers", 4))
    background = start_workers(store, processor, concurrency=workers, reconcile=reconcile)
    sink = DurableSink(store.queue, metrics=store.metrics, on_enqueued=background.wake)
    sink.background = background
    return sink

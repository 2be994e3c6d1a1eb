"""Where evaluations run: never on the event loop that answers webhooks and health checks.

Theory of operation. An evaluation is CPU-bound, and its input is written by whoever opens the
pull request. A thread is not enough to keep the server responsive: Python's `re` (and any other
C code) holds the GIL for as long as one match takes, so a pattern that backtracks froze
`/healthz`, webhook acknowledgements and every other job of the process. `ghapp serve` therefore
evaluates in a pool of worker processes (`ProcessSandbox`, on pebble's ProcessPool): the server's
process only waits on a future, each evaluation has a time budget (the worker is killed and
replaced when it is spent) and a memory budget (the worker's address space is capped), and any of
these ending an evaluation raises `EvaluationFailed`, which handlers can report and the queue
dead-letters with its reason.

Snapshots cross the process boundary packed (`PackedSnapshot`): the file list, sizes and the bytes
of the blobs already fetched (the handlers prefetch what the core reads). A read of a blob that
was not fetched raises `BlobsMissing` in the worker; the parent fetches those blobs and runs the
evaluation again, within the same time budget. So a check that reads a new kind of file is
correct at once, and only slower until the prefetch list learns about it.

`ThreadSandbox` (tests, `ghapp replay`) runs the same call in a thread of this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import copyreg
import ctypes
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

from ghapp.app.delivery import PermanentFailure
from ghapp.github.snapshot import READ_MAX_BYTES, GitHubSnapshot

logger = logging.getLogger("ghapp.sandbox")
T = TypeVar("T")
DEFAULT_TIMEOUT = 60.0  # seconds per evaluation; a normal one takes well under one
DEFAULT_MEMORY = 2 * 1024**3  # bytes of address space per worker process
_PR_SET_PDEATHSIG = 1  # prctl(2)
MAX_ROUNDS = 50  # fetch-and-retry rounds for blobs the prefetch missed (each finds one)


class EvaluationFailed(PermanentFailure):
    """An evaluation could not finish: over its time or memory budget, or its process died.

    Handlers can turn it into a check run that says so; the queue dead-letters the delivery with
    this message, since running the same input again would fail the same way."""


class BlobsMissing(Exception):
    """The core read a file whose bytes were not sent with packed snapshot number `tag`."""

    def __init__(self, tag: int, path: str) -> None:
        super().__init__(tag, path)  # the constructor's arguments: it pickles back as it was
        self.tag, self.path = tag, path

    def __str__(self) -> str:
        return f"{self.path}: not prefetched"


@dataclass(frozen=True)
class PackedSnapshot:
    """A snapshot that pickles: paths, sizes and the blobs fetched so far (see module doc)."""

    files: Mapping[str, int | None]  # path -> size
    blobs: Mapping[str, bytes]
    unreadable: frozenset[str]  # too large to read: read() says None, as the original does
    tag: int  # which argument it stands for, so the parent knows whom to ask for missing blobs

    def paths(self) -> Sequence[str]:
        return tuple(self.files)

    def size(self, path: str) -> int | None:
        return self.files.get(path)

    def read(self, path: str) -> bytes | None:
        if path not in self.files or path in self.unreadable:
            return None
        data = self.blobs.get(path)
        if data is None:
            raise BlobsMissing(self.tag, path)
        return data


class OverBudget(Exception):
    """An evaluation finished, but after its time budget ran out. pebble stops a task that
    overruns only when its watchdog next looks (about every tenth of a second), so a short
    budget would otherwise hold or not by chance; the worker measures its own run as well."""


def _within(budget: float, function: Callable[..., T], *args: Any) -> T:
    """`function(*args)` in a worker process, refused when it ran longer than `budget` s."""
    start = time.monotonic()
    result = function(*args)
    if time.monotonic() - start > budget:
        raise OverBudget(budget)
    return result


class Sandbox(Protocol):
    """Runs `function(*args)` (an evaluation) somewhere that cannot stall the event loop."""

    async def run(self, function: Callable[..., T], *args: Any) -> T: ...

    def close(self) -> None: ...


class ThreadSandbox:
    """In a thread of this process: the snapshots' lazy reads work (tests, `ghapp replay`)."""

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(function, *args)

    def close(self) -> None:
        return None


class ProcessSandbox:
    """In a pool of `processes` worker processes, each evaluation within `timeout` seconds and
    each worker within `memory` bytes of address space (None: no cap)."""

    def __init__(
        self,
        processes: int = 2,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        memory: int | None = DEFAULT_MEMORY,
    ) -> None:
        from pebble import ProcessPool

        self.timeout = timeout
        self.memory = memory
        # forkserver: never fork the server (its threads may hold locks) but start workers fast.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["ghapp.app.sandbox", "ghapp.core.evaluate"])
        self._pool = ProcessPool(
            max_workers=max(1, processes),
            initializer=_prepare_worker,
            initargs=(memory,),
            context=context,
        )

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        deadline = time.monotonic() + self.timeout
        sources = {i: a for i, a in enumerate(args) if isinstance(a, GitHubSnapshot)}
        fetched: dict[int, dict[str, bytes]] = {i: {} for i in sources}
        for _ in range(MAX_ROUNDS):
            packed = [pack(a, i, fetched[i]) if i in sources else a for i, a in enumerate(args)]
            remaining = max(0.001, deadline - time.monotonic())
            future = self._pool.schedule(_within, (remaining, function, *packed), timeout=remaining)
            try:
                result: T = await asyncio.wrap_future(future)
                return result
            except BlobsMissing as exc:
                data = await sources[exc.tag].fetch(exc.path)
                fetched[exc.tag][exc.path] = data if data is not None else b""
            except (FutureTimeout, OverBudget):
                raise EvaluationFailed(
                    f"the evaluation took longer than its {self.timeout:g} s budget and was stopped"
                ) from None
            except MemoryError:
                raise EvaluationFailed(
                    f"the evaluation needed more than its {_gib(self.memory)} memory budget"
                ) from None
            except Exception as exc:
                if type(exc).__name__ in {"ProcessExpired", "BrokenProcessPool"}:
                    raise EvaluationFailed(f"the evaluation's process died: {exc}") from None
                raise
        raise EvaluationFailed(
            f"the evaluation kept reading files not fetched ({MAX_ROUNDS} rounds)"
        )

    def close(self) -> None:
        """Stop the worker processes (running evaluations are abandoned)."""
        self._pool.stop()  # type: ignore[no-untyped-call]
        self._pool.join(timeout=5)


def pack(
    snapshot: GitHubSnapshot, tag: int, fetched: Mapping[str, bytes] | None = None
) -> PackedSnapshot:
    """The snapshot's file list with every blob of it the process-wide cache holds, plus
    `fetched` (blobs fetched for this evaluation, which the bounded cache may have dropped)."""
    files: dict[str, int | None] = {}
    blobs: dict[str, bytes] = dict(fetched or {})
    unreadable = set()
    for path, entry in snapshot.tree.entries.items():
        files[path] = entry.size
        if (entry.size or 0) > READ_MAX_BYTES:
            unreadable.add(path)
            continue
        data = snapshot.caches.blobs.get(entry.sha)
        if isinstance(data, bytes):
            blobs.setdefault(path, data)
    return PackedSnapshot(files, blobs, frozenset(unreadable), tag)


def _prepare_worker(memory: int | None) -> None:
    """Pool initializer: cap the worker's address space, so a runaway evaluation gets a
    MemoryError instead of growing until the machine swaps; and on Linux, die with the
    forkserver (which dies with the server), so a `kill -9` of the server leaves no evaluation
    running on."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if memory is None:
        return
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    except (ImportError, ValueError, OSError) as exc:  # not on this platform: time budget only
        logger.warning("cannot cap evaluation memory: %s", exc)


def _gib(memory: int | None) -> str:
    return "unbounded" if memory is None else f"{memory / 1024**3:g} GiB"


def default_processes(workers: int) -> int:
    """One evaluation process per concurrent job, but no more than there are CPUs."""
    return max(1, min(workers, os.cpu_count() or 1))


def _proxy(mapping: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(mapping)


# Catalogs and policies hold read-only mappings; let them cross the process boundary.
copyreg.pickle(MappingProxyType, lambda m: (_proxy, (dict(m),)))

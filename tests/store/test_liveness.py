"""Crash recovery in seconds: leases of workers that died on this machine are reclaimed at once,
and a lease whose holder may be alive is never taken early."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from ghapp.app.delivery import Delivery
from ghapp.store.liveness import Holder, is_dead, lease_owner
from ghapp.store.queue import Queue
from ghapp.store.worker import run_workers
from tests.store.conftest import make_delivery

ROOT = Path(__file__).resolve().parents[2]
LONG_LEASE = 600.0  # far longer than any test: only reclaiming can free it
needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")


def wait_for(condition: object, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def child_worker(
    engine: Engine, backend: tuple[str, str | None], tmp_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A worker process (long lease) that has claimed `d-crash` and blocks on it."""
    url, schema = backend
    Queue(engine).enqueue(make_delivery("d-crash"))
    marker = tmp_path / "started"
    command = [sys.executable, "-m", "tests.store.worker_child", url, schema or "-", str(marker)]
    child = subprocess.Popen(
        [*command, str(LONG_LEASE)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    try:
        assert wait_for(marker.exists), "the child worker never started the job"
        yield child
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def process(self, delivery: Delivery) -> None:
        self.calls.append(delivery.id)


async def run_until_done(queue: Queue, recorder: Recorder, seconds: float) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_workers(queue, recorder, concurrency=1, stop=stop, poll_interval=0.05)
    )
    deadline = time.monotonic() + seconds
    while not recorder.calls and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    stop.set()
    await task


@needs_proc
def test_a_job_of_a_worker_killed_on_this_machine_runs_again_at_once(
    engine: Engine, child_worker: subprocess.Popen[bytes]
) -> None:
    os.kill(child_worker.pid, signal.SIGKILL)
    child_worker.wait(timeout=10)
    queue, recorder = Queue(engine, lease_seconds=LONG_LEASE), Recorder()
    started = time.monotonic()
    asyncio.run(run_until_done(queue, recorder, 20))
    assert recorder.calls == ["d-crash"]
    assert time.monotonic() - started < 20 < LONG_LEASE
    [record] = queue.list()
    assert (record.status, record.attempts) == ("done", 2)


@needs_proc
def test_a_live_workers_lease_is_never_reclaimed(
    engine: Engine, child_worker: subprocess.Popen[bytes]
) -> None:
    queue = Queue(engine, lease_seconds=LONG_LEASE)
    assert queue.reclaim(is_dead) == 0
    assert queue.claim("thief") is None
    [record] = queue.list(status="running")
    assert record.delivery_id == "d-crash"


@needs_proc
def test_only_a_certain_death_counts() -> None:
    mine = lease_owner(0)
    holder = Holder.parse(mine)
    assert holder is not None and holder.pid == os.getpid()
    assert not is_dead(mine)  # this very process
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    boot, pidns, _ = holder.stamp.split(".")
    assert is_dead(f"{holder.host}:{gone.pid}:0:nonce:{boot}.{pidns}.1")  # no such process
    # pid 1 exists here, but was started at another time than this lease says: not that process
    assert is_dead(f"{holder.host}:1:0:nonce:{boot}.{pidns}.999999999999")
    assert not is_dead(f"other-host:{gone.pid}:0:nonce:{boot}.{pidns}.1")  # cannot tell there
    assert not is_dead(f"{holder.host}:{gone.pid}:0:nonce:{boot}.1.1")  # another container
    assert not is_dead(f"{holder.host}:{gone.pid}:0:nonce:")  # no /proc where it ran
    assert not is_dead("thief")  # a name from elsewhere

"""Evaluations in worker processes: a time and a memory budget, snapshots that cross the process
boundary, blobs the prefetch missed fetched by the parent, and the event loop never blocked."""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from ghapp.app.handlers import run_core
from ghapp.app.sandbox import EvaluationFailed, PackedSnapshot, ProcessSandbox, pack
from ghapp.core.evaluate import evaluate
from ghapp.core.snapshot import DictSnapshot, Snapshot
from ghapp.github.snapshot import READ_MAX_BYTES, Caches, GitHubSnapshot, Tree, TreeEntry
from ghapp.rules import default_catalog

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "acme-shop"


def backtracks(length: int) -> bool:
    """CPU-bound inside one C call that holds the GIL (a regex that backtracks)."""
    return re.match("(a*)*b", "a" * length) is None


def grows(megabytes: int) -> int:
    return len(bytearray(megabytes * 1024 * 1024))


def read_all(snapshot: Snapshot) -> dict[str, bytes | None]:
    return {path: snapshot.read(path) for path in snapshot.paths()}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ProcessSandbox]:
    pool = ProcessSandbox(1, timeout=3.0, memory=512 * 1024 * 1024)
    yield pool
    pool.close()


def test_an_evaluation_over_its_time_budget_is_stopped_and_the_next_one_runs(
    sandbox: ProcessSandbox,
) -> None:
    async def scenario() -> tuple[float, bool]:
        started = time.monotonic()
        with pytest.raises(EvaluationFailed, match="longer than its 3 s budget"):
            await sandbox.run(backtracks, 64)  # would take centuries
        return time.monotonic() - started, await sandbox.run(backtracks, 8)

    elapsed, answer = asyncio.run(scenario())
    assert 3.0 <= elapsed < 30
    assert answer is True


def test_an_evaluation_that_ends_after_its_budget_fails_even_before_the_watchdog_looks() -> None:
    # pebble stops an overrunning task only when its watchdog next looks (every ~0.1 s): an
    # evaluation of 30 ms under a 10 ms budget would complete by chance without the worker's
    # own measure.
    pool = ProcessSandbox(1, timeout=0.01, memory=None)
    try:
        for _ in range(5):
            with pytest.raises(EvaluationFailed, match=r"longer than its 0\.01 s budget"):
                asyncio.run(pool.run(time.sleep, 0.03))
    finally:
        pool.close()


def test_the_event_loop_keeps_running_while_an_evaluation_holds_a_cpu(
    sandbox: ProcessSandbox,
) -> None:
    async def scenario() -> int:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.05)
                ticks += 1

        ticker = asyncio.create_task(tick())
        with pytest.raises(EvaluationFailed):
            await sandbox.run(backtracks, 64)
        ticker.cancel()
        return ticks

    # Three seconds of evaluation: a loop stuck behind the GIL would not tick at all.
    assert asyncio.run(scenario()) >= 10


def test_an_evaluation_over_its_memory_budget_fails_cleanly(sandbox: ProcessSandbox) -> None:
    with pytest.raises(EvaluationFailed, match="memory budget"):
        asyncio.run(sandbox.run(grows, 2048))
    assert asyncio.run(sandbox.run(grows, 16)) == 16 * 1024 * 1024


def test_the_core_evaluates_in_a_worker_process_as_it_does_here(sandbox: ProcessSandbox) -> None:
    if not EXAMPLE.is_dir():
        pytest.skip("examples/acme-shop is absent")
    files = {str(p.relative_to(EXAMPLE)): p.read_bytes() for p in EXAMPLE.rglob("*") if p.is_file()}
    args = (evaluate, default_catalog(), DictSnapshot(files), None, None, None, date(2026, 1, 1))
    here = run_core(*args)
    there = asyncio.run(sandbox.run(run_core, *args))
    assert there == here


class Blobs:
    """A client answering git blob requests from a dict, counting them."""

    def __init__(self, blobs: dict[str, bytes]) -> None:
        self.blobs = blobs
        self.requests: list[str] = []

    async def request(self, method: str, path: str, **_: Any) -> dict[str, Any]:
        sha = path.rsplit("/", 1)[1]
        self.requests.append(sha)
        return {"encoding": "base64", "content": base64.b64encode(self.blobs[sha]).decode()}


def github_snapshot(files: dict[str, bytes], client: Blobs, caches: Caches) -> GitHubSnapshot:
    entries = {p: TreeEntry(f"sha-{p}", len(data)) for p, data in files.items()}
    client.blobs.update({f"sha-{p}": data for p, data in files.items()})
    tree = Tree("c0ffee", entries)
    return GitHubSnapshot(client, "acme/shop", tree, caches, asyncio.get_running_loop())  # type: ignore[arg-type]


def test_a_blob_the_prefetch_missed_is_fetched_by_the_parent_and_read(
    sandbox: ProcessSandbox,
) -> None:
    files = {"a.yml": b"a: 1\n", "notes.txt": b"not prefetched\n"}
    client = Blobs({})

    async def scenario() -> dict[str, bytes | None]:
        snapshot = github_snapshot(files, client, Caches())
        await snapshot.prefetch()  # only the YAML
        assert client.requests == ["sha-a.yml"]
        return await sandbox.run(read_all, snapshot)

    assert asyncio.run(scenario()) == files
    assert client.requests == ["sha-a.yml", "sha-notes.txt"]


def test_a_packed_snapshot_answers_like_the_snapshot_it_packs() -> None:
    files = {"small.yml": b"x: 1\n", "huge.yml": b""}

    async def scenario() -> PackedSnapshot:
        caches = Caches()
        snapshot = github_snapshot(files, Blobs({}), caches)
        snapshot.tree.entries["huge.yml"] = TreeEntry("sha-huge", READ_MAX_BYTES + 1)
        await snapshot.prefetch(["small.yml"])
        return pack(snapshot, 0)

    packed = asyncio.run(scenario())
    assert packed.paths() == ("small.yml", "huge.yml")
    assert packed.read("small.yml") == b"x: 1\n"
    assert packed.read("huge.yml") is None  # too large to read, as GitHubSnapshot.read says
    assert packed.read("absent") is None
    assert packed.size("huge.yml") == READ_MAX_BYTES + 1

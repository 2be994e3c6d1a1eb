"""Fault injection against real SQLite and real PostgreSQL: nothing lost, nothing done twice."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from ghapp.app.delivery import Delivery
from ghapp.app.server import create_app
from ghapp.app.webhooks import sign
from ghapp.settings import Settings
from ghapp.store.db import make_engine
from ghapp.store.queue import Queue
from ghapp.store.sink import DurableSink
from ghapp.store.worker import run_workers
from tests.store.conftest import make_delivery

ROOT = Path(__file__).resolve().parents[2]
SECRET = "fault-secret"
pytestmark = pytest.mark.slow


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def process(self, delivery: Delivery) -> None:
        self.calls.append(delivery.id)


def wait_for(condition: object, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


async def drain(queue: Queue, processor: object, count: int) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_workers(queue, processor, concurrency=2, stop=stop, poll_interval=0.05)  # type: ignore[arg-type]
    )
    for _ in range(400):
        if sum(r.status == "done" for r in queue.list(limit=1000)) >= count:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await task


def test_a_killed_workers_job_is_finished_by_another_after_its_lease_expires(
    engine: Engine, backend: tuple[str, str | None], tmp_path: Path
) -> None:
    url, schema = backend
    queue = Queue(engine, lease_seconds=1.0)
    queue.enqueue(make_delivery("d-kill"))
    marker = tmp_path / "started"
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.store.worker_child", url, schema or "-", str(marker), "1.0"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert wait_for(marker.exists), "the child worker never started the job"
        time.sleep(1.5)  # longer than the lease: only heartbeats keep it
        assert queue.claim("thief") is None, "a live worker's job was taken"
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    recorder = Recorder()
    started = time.monotonic()
    asyncio.run(drain(queue, recorder, 1))
    assert recorder.calls == ["d-kill"]
    [record] = queue.list()
    assert (record.status, record.attempts) == ("done", 2)
    assert time.monotonic() - started < 10


def test_one_delivery_accepted_three_times_by_two_replicas_runs_once(
    engine: Engine, backend: tuple[str, str | None]
) -> None:
    url, schema = backend
    replicas = [make_engine(url, schema=schema) for _ in range(2)]
    sinks = [DurableSink(Queue(e)) for e in replicas]
    delivery = make_delivery("d-same")

    async def race() -> list[bool]:
        return await asyncio.gather(
            sinks[0].accept(delivery), sinks[1].accept(delivery), sinks[1].accept(delivery)
        )

    assert sorted(asyncio.run(race())) == [False, False, True]
    recorder = Recorder()
    asyncio.run(drain(Queue(engine), recorder, 1))
    time.sleep(0.2)
    assert recorder.calls == ["d-same"]
    assert len(Queue(engine).list()) == 1
    for e in replicas:
        e.dispose()


def test_concurrent_replicas_race_on_many_ids_and_keep_exactly_one_each(
    engine: Engine, backend: tuple[str, str | None]
) -> None:
    url, schema = backend
    replicas = [make_engine(url, schema=schema) for _ in range(2)]
    results: list[list[bool]] = [[], []]

    def replica(index: int) -> None:
        sink = DurableSink(Queue(replicas[index]))

        async def run() -> list[bool]:
            return list(
                await asyncio.gather(*(sink.accept(make_delivery(f"id-{i}")) for i in range(100)))
            )

        results[index] = asyncio.run(run())

    threads = [threading.Thread(target=replica, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    accepted = [a or b for a, b in zip(*results, strict=True)]
    both = [a and b for a, b in zip(*results, strict=True)]
    assert all(accepted) and not any(both)
    assert len(Queue(engine).list(limit=1000)) == 100
    for e in replicas:
        e.dispose()


class TcpProxy:
    """A loopback TCP proxy to PostgreSQL that can be cut, like a database outage would."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = 0
        self.listener: socket.socket | None = None
        self.conns: list[socket.socket] = []

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        if self.listener is not None:
            # shutdown wakes the thread blocked in accept(); close alone would not stop listening
            with contextlib.suppress(OSError):
                self.listener.shutdown(socket.SHUT_RDWR)
            self.listener.close()
            self.listener = None
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()
        self.conns = []


async def post(client: httpx.AsyncClient, delivery_id: str) -> int:
    body = json.dumps({"action": "created", "repository": {"full_name": "octo/repo"}}).encode()
    headers = {
        "X-GitHub-Delivery": delivery_id,
        "X-GitHub-Event": "issue_comment",
        "X-Hub-Signature-256": sign(SECRET, body),
        "Content-Type": "application/json",
    }
    return (await client.post("/webhooks", content=body, headers=headers)).status_code


@pytest.mark.postgres
def test_intake_answers_503_during_a_postgres_outage_and_loses_nothing(
    pg_schema: tuple[str, str],
) -> None:
    url, schema = pg_schema
    proxy = TcpProxy(5432)
    proxy.start()
    proxied = url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    engine = make_engine(proxied, schema=schema)
    from ghapp.store.migrations import migrate

    migrate(engine)
    settings = Settings(app_id=1, private_key="unused", webhook_secret=SECRET)
    app = create_app(settings, DurableSink(Queue(engine)))

    async def scenario() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ghapp") as client:
            codes = [await post(client, "before")]
            proxy.stop()  # the database goes away mid-service
            codes.append(await post(client, "during"))  # GitHub records a failed delivery
            proxy.start()  # back on the same port
            codes.append(await post(client, "during"))  # the redelivery is stored
            codes.append(await post(client, "before"))  # an old one is still a duplicate
            return codes

    try:
        assert asyncio.run(scenario()) == [202, 503, 202, 200]
    finally:
        proxy.stop()
        engine.dispose()
    direct = make_engine(url, schema=schema)
    assert sorted(r.delivery_id for r in Queue(direct).list()) == ["before", "during"]
    direct.dispose()

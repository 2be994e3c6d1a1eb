"""Webhook intake throughput and acknowledgement latency, and end-to-end events per second.

A real uvicorn server runs `ghapp.app.server.create_app` with a `DurableSink` (intake only; no
in-process workers) in a subprocess; a keep-alive asyncio HTTP/1.1 client on loopback sends a
bounded number of signed `pull_request` deliveries with bounded concurrency and times each
acknowledgement. Worker processes (`ghapp.store.worker.run_workers`, no-op processor) drain the
queue; end-to-end rate = deliveries / (first request -> last job done).

Scenarios, for SQLite (a temp file) and PostgreSQL (127.0.0.1:5432, database `test`, a schema of
its own, dropped afterwards; skipped when unreachable):
  intake only with 1 server replica (PostgreSQL also 2 replicas),
  intake + 1 worker process, intake + 4 worker processes.

Usage: .venv/bin/python benchmarks/bench_intake.py [--requests 5000] [--concurrency 64]
       [--backend all|sqlite|postgresql] [--intake-only]
The payload is ../shared/fixtures/webhooks/pull_request/synchronize.payload.json when present
(28 KB), each copy renumbered so no two coalesce; otherwise a small synthetic one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
FIXTURE = ROOT.parent / "shared/fixtures/webhooks/pull_request/synchronize.payload.json"
SECRET = "bench-secret"
POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


# -- child processes -------------------------------------------------------------------------


def serve(url: str, schema: str, port: int) -> None:
    import uvicorn

    from ghapp.app.server import create_app
    from ghapp.settings import Settings
    from ghapp.store.db import make_engine
    from ghapp.store.queue import Queue
    from ghapp.store.sink import DurableSink

    engine = make_engine(url, schema=None if schema == "-" else schema)
    settings = Settings(app_id=1, private_key="unused", webhook_secret=SECRET)
    app = create_app(settings, DurableSink(Queue(engine)))
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        http="httptools",
        loop="uvloop",
    )


def work(url: str, schema: str) -> None:
    from ghapp.store.db import make_engine
    from ghapp.store.queue import Queue
    from ghapp.store.worker import run_workers

    class NoOp:
        async def process(self, delivery: Any) -> None:
            return None

    engine = make_engine(url, schema=None if schema == "-" else schema)
    asyncio.run(run_workers(Queue(engine), NoOp(), concurrency=1, poll_interval=0.01, batch=16))


# -- client ----------------------------------------------------------------------------------


def bodies(count: int) -> list[tuple[bytes, bytes]]:
    """(request bytes, delivery id) pairs, signed ahead of time so signing is not timed."""
    from ghapp.app.webhooks import sign

    if FIXTURE.is_file():
        template = json.loads(FIXTURE.read_text())
    else:
        template = {
            "action": "synchronize",
            "number": 1,
            "pull_request": {"number": 1, "head": {"sha": "0" * 40}, "updated_at": None},
            "repository": {"full_name": "octo/repo"},
            "installation": {"id": 1},
        }
    out = []
    for i in range(count):
        template["number"] = template["pull_request"]["number"] = i + 1
        body = json.dumps(template).encode()
        delivery = uuid.uuid4().hex
        head = (
            "POST /webhooks HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"X-GitHub-Event: pull_request\r\nX-GitHub-Delivery: {delivery}\r\n"
            f"X-Hub-Signature-256: {sign(SECRET, body)}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        out.append((head.encode() + body, delivery.encode()))
    return out


async def drive(ports: list[int], requests: list[tuple[bytes, bytes]], concurrency: int) -> Any:
    """Send every request over `concurrency` keep-alive connections; latencies in seconds."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    pending = list(reversed(requests))

    async def connection(index: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", ports[index % len(ports)])
        while pending:
            raw, _ = pending.pop()
            started = time.perf_counter()
            writer.write(raw)
            header = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in header.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            status = int(header.split(b" ", 2)[1])
            statuses[status] = statuses.get(status, 0) + 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection(i) for i in range(concurrency)))
    return time.perf_counter() - started, latencies, statuses


# -- scenarios -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(*args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, __file__, *args], env=env, cwd=ROOT)


def wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on port {port} did not start")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def scenario(
    url: str, schema: str, *, replicas: int, workers: int, count: int, concurrency: int
) -> dict[str, Any]:
    from ghapp.store.db import make_engine
    from ghapp.store.migrations import migrate
    from ghapp.store.queue import Queue
    from ghapp.store.schema import deliveries

    engine = make_engine(url, schema=None if schema == "-" else schema)
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(deliveries.delete())
    queue = Queue(engine)
    ports = [free_port() for _ in range(replicas)]
    procs = [spawn("--serve", url, schema, str(port)) for port in ports]
    try:
        for port in ports:
            wait_port(port)
        asyncio.run(drive(ports, bodies(50), min(concurrency, 8)))  # warm-up, not counted
        with engine.begin() as conn:
            conn.execute(deliveries.delete())
        requests = bodies(count)
        procs += [spawn("--work", url, schema) for _ in range(workers)]
        time.sleep(1.0 if workers else 0)  # let workers connect before the clock starts
        started = time.perf_counter()
        elapsed, latencies, statuses = asyncio.run(drive(ports, requests, concurrency))
        e2e = None
        if workers:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                counts = queue.stats().counts
                if counts.get("done", 0) >= count:
                    e2e = count / (time.perf_counter() - started)
                    break
                time.sleep(0.02)
        stored = sum(queue.stats().counts.values())
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
        engine.dispose()
    return {
        "rate": count / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": percentile(latencies, 0.99) * 1000,
        "e2e": e2e,
        "ok": statuses.get(202, 0) == count and stored == count,
        "statuses": statuses,
    }


def postgres_schema() -> str | None:
    try:
        import psycopg

        schema = f"ghapp_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect("host=127.0.0.1 dbname=test user=postgres", autocommit=True) as c:
            c.execute(f'CREATE SCHEMA "{schema}"')
        return schema
    except Exception as exc:
        print(f"PostgreSQL skipped: {exc}", file=sys.stderr)
        return None


def drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect("host=127.0.0.1 dbname=test user=postgres", autocommit=True) as c:
        c.execute(f'DROP SCHEMA "{schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--serve", nargs=3)
    parser.add_argument("--work", nargs=2)
    parser.add_argument(
        "--backend", choices=["all", "sqlite", "postgresql"], default="all", help="back ends to run"
    )
    parser.add_argument(
        "--intake-only", action="store_true", help="only the rows without worker processes"
    )
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], args.serve[1], int(args.serve[2]))
        return
    if args.work:
        work(*args.work)
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        backends = []
        if args.backend in ("all", "sqlite"):
            plans = [(1, 0)] if args.intake_only else [(1, 0), (1, 1), (1, 4)]
            backends.append(("SQLite", f"sqlite:///{tmp}/bench.db", "-", plans))
        schema = postgres_schema() if args.backend in ("all", "postgresql") else None
        if schema:
            plans = [(1, 0), (2, 0)]
            plans += [] if args.intake_only else [(1, 1), (1, 4), (2, 4)]
            backends.append(("PostgreSQL", POSTGRES, schema, plans))
        try:
            for name, url, schema_arg, plans in backends:
                for replicas, workers in plans:
                    result = scenario(
                        url,
                        schema_arg,
                        replicas=replicas,
                        workers=workers,
                        count=args.requests,
                        concurrency=args.concurrency,
                    )
                    rows.append((name, replicas, workers, result))
                    print(f"done: {name} replicas={replicas} workers={workers}", file=sys.stderr)
        finally:
            if schema:
                drop_schema(schema)
    payload = f"{FIXTURE.stat().st_size // 1024} KB fixture" if FIXTURE.is_file() else "synthetic"
    print(
        f"\n{args.requests} signed pull_request deliveries ({payload}), {args.concurrency} "
        f"keep-alive connections, loopback, {os.cpu_count()} cores\n"
    )
    print(
        "| back end | intake replicas | worker processes | accepted/s | p50 ack ms | p99 ack ms "
        "| end-to-end events/s | vs first row of back end | all 202 + stored once |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    base: dict[str, float] = {}
    for name, replicas, workers, r in rows:
        base.setdefault(name, r["rate"])
        e2e = f"{r['e2e']:.0f}" if r["e2e"] else "-"
        print(
            f"| {name} | {replicas} | {workers} | {r['rate']:.0f} | {r['p50']:.1f} | "
            f"{r['p99']:.1f} | {e2e} | {r['rate'] / base[name]:.2f}x | "
            f"{'yes' if r['ok'] else r['statuses']} |"
        )


if __name__ == "__main__":
    main()

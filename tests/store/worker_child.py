"""A worker process whose processor blocks forever (test_faults kills it with SIGKILL).

Usage: python -m tests.store.worker_child URL SCHEMA|- MARKER_FILE LEASE_SECONDS
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from ghapp.app.delivery import Delivery
from ghapp.store.db import make_engine
from ghapp.store.queue import Queue
from ghapp.store.worker import run_workers


class Blocking:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    async def process(self, delivery: Delivery) -> None:
        self.marker.write_text(delivery.id)
        await asyncio.sleep(3600)


def main(argv: list[str]) -> None:
    url, schema, marker, lease = argv
    engine = make_engine(url, schema=None if schema == "-" else schema)
    queue = Queue(engine, lease_seconds=float(lease))
    asyncio.run(run_workers(queue, Blocking(Path(marker)), concurrency=1, poll_interval=0.05))


if __name__ == "__main__":
    main(sys.argv[1:])

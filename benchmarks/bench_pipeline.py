"""The real processing pipeline against the stateful fake GitHub on loopback: API calls and time
per pull_request event, with the app's caches (one long-lived Processor) and without them (a
fresh Processor per event, i.e. an app without blob/tree/token caching).

The fake (tests.fakegithub) serves acme/shop under uvicorn on 127.0.0.1, seeded like the e2e
suite: examples/acme-shop as the base commit on main, a PR whose head adds an unpinned action, a
privileged container and an unowned file. The processor (`build_processor`) runs in this process
and talks HTTP to the fake: each event is evaluated and published (check run, review comments).
Then `--events` synchronize events, each after pushing a head commit that changes one file, are
processed one after another, first with caches, then without. Request bodies are validated
against GitHub's schemas when ../shared/fixtures/openapi is present.

Usage: .venv/bin/python benchmarks/bench_pipeline.py [--events 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ghapp.app.cli import build_processor  # noqa: E402
from ghapp.app.delivery import Delivery  # noqa: E402
from ghapp.app.processor import Processor  # noqa: E402
from ghapp.settings import Settings  # noqa: E402
from tests.e2e.conftest import UNOWNED, seed_scenario  # noqa: E402
from tests.fakegithub import FakeGitHub, PullRequest, SchemaBook, create_fake_app  # noqa: E402
from tests.fakegithub.harness import (  # noqa: E402
    APP_ID,
    INSTALLATION_ID,
    WEBHOOK_SECRET,
    ServerThread,
    generate_app_key,
    pull_request_event,
)
from tests.fakegithub.state import Call  # noqa: E402

SHARED = ROOT.parent / "shared" / "fixtures"
BUDGET = 5  # API calls a warm synchronize may cost (tests/e2e/test_pull_request_flow.py)
Results = list[tuple[list[Call], float]]  # per event: the calls the fake saw, seconds taken


def load_schemas() -> tuple[SchemaBook, str]:
    """GitHub's request schemas and a note saying whether they are checked."""
    openapi = SHARED / "openapi"
    if (openapi / "index.json").exists():
        return SchemaBook.load(openapi), "request bodies validated against GitHub's schemas"
    return SchemaBook.empty(), "../shared absent: request bodies NOT schema-validated"


def template() -> dict[str, Any] | None:
    path = SHARED / "webhooks" / "pull_request" / "opened.payload.json"
    return json.loads(path.read_text()) if path.exists() else None


def seed(fake: FakeGitHub) -> PullRequest:
    """acme/shop exactly as the e2e `scenario` fixture seeds it, with its PR open."""
    return seed_scenario(fake).pr


class Bench:
    """Delivers events for one PR to a processor and records what each cost."""

    def __init__(self, fake: FakeGitHub, url: str, pr: PullRequest) -> None:
        self.fake, self.url, self.pr = fake, url, pr
        self.template = template()
        self.pushes = self.deliveries = 0

    def push_one_change(self) -> str:
        """A new head commit changing one file; the previous head sha."""
        old = self.pr.head_sha
        self.pushes += 1
        change: dict[str, str | bytes | None] = {UNOWNED: f"print('billing v{self.pushes}')\n"}
        new = self.fake.add_commit("acme", "shop", change, parent=old, message=f"v{self.pushes}")
        self.fake.push("acme", "shop", self.pr.head_ref, new)
        return old

    async def deliver(
        self, processor: Processor, action: str, before: str | None = None
    ) -> tuple[list[Call], float]:
        """Process one pull_request delivery; the calls the fake saw and the seconds it took."""
        payload = pull_request_event(self.fake, self.url, self.pr, action, self.template, before)
        self.deliveries += 1
        delivery = Delivery(
            f"bench-{self.deliveries}",
            "pull_request",
            action,
            INSTALLATION_ID,
            "acme/shop",
            json.dumps(payload).encode(),
            datetime.now(UTC),
        )
        with self.fake.lock:
            start = len(self.fake.calls)
        began = time.perf_counter()
        await processor.process(delivery)
        elapsed = time.perf_counter() - began
        with self.fake.lock:
            calls = self.fake.calls[start:]
            published = self.fake.check_runs_for(self.pr.head_sha)
        if not published:
            raise RuntimeError(f"no check run for {self.pr.head_sha} after {action}")
        return calls, elapsed

    async def synchronize(self, events: int, processor_for: Callable[[], Processor]) -> Results:
        """`events` pushes, each followed by its synchronize delivery to `processor_for()`."""
        results = []
        for _ in range(events):
            before = self.push_one_change()
            results.append(await self.deliver(processor_for(), "synchronize", before))
        return results


def quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile (below 100 samples, p99 is the maximum)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def row(name: str, results: Results, cached: Results | None) -> str:
    """One table line; `cached` (the cached synchronize run) gives the ratios, if any."""
    counts = [len(calls) for calls, _ in results]
    seconds = [s for _, s in results]
    rate = len(seconds) / sum(seconds)
    p50, p99 = quantile(seconds, 0.5), quantile(seconds, 0.99)
    over: object = sum(c > BUDGET for c in counts) if cached is not None else "-"
    ratio = slower = "-"
    if cached is not None:
        ratio = f"{statistics.median(counts) / statistics.median(len(c) for c, _ in cached):.2f}x"
        slower = f"{p50 / quantile([s for _, s in cached], 0.5):.2f}x"
    return (
        f"| {name} | {len(counts)} | {min(counts)} / {statistics.median(counts):g} / "
        f"{max(counts)} | {over} | {rate:.1f} | {p50 * 1000:.1f} | {p99 * 1000:.1f} | "
        f"{ratio} | {slower} |"
    )


def calls_of(calls: list[Call]) -> str:
    return "\n".join(f"  {c.method} {c.path} -> {c.status}" for c in calls)


async def run(fake: FakeGitHub, url: str, settings: Settings, events: int) -> None:
    bench = Bench(fake, url, seed(fake))
    cached = build_processor(settings)
    opened, opened_s = await bench.deliver(cached, "opened")
    warm = await bench.synchronize(events, lambda: cached)
    # The cached processor's audit log and comment memory, so only caches and tokens differ.
    audit, memory = cached.services.audit, cached.services.memory
    cold = await bench.synchronize(
        events, lambda: build_processor(settings, audit=audit, memory=memory)
    )

    warm_counts = [len(c) for c, _ in warm]
    print(
        "| variant | events | API calls min / median / max | events > "
        f"{BUDGET} calls | events/s | p50 ms | p99 ms | calls vs cached | p50 vs cached |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(row("pull_request.opened (cold caches)", [(opened, opened_s)], None))
    print(row("synchronize, cached (one Processor)", warm, warm))
    print(row("synchronize, no cache (fresh Processor each)", cold, warm))
    print(
        "\n(seconds per event, end to end: evaluation + publishing to the fake; building a\n"
        "fresh Processor is not timed; p99 is nearest-rank: the slowest below 100 events)"
    )
    sample = warm[len(warm) // 2][0]
    print(f"\nAPI calls of one warm synchronize ({len(sample)}):\n{calls_of(sample)}")
    print(f"\nAPI calls of pull_request.opened ({len(opened)}):\n{calls_of(opened)}")
    exceeded = sum(c > BUDGET for c in warm_counts)
    verdict = "none" if not exceeded else f"{exceeded} of {len(warm_counts)}"
    print(f"\nwarm synchronize events over {BUDGET} API calls: {verdict}")
    with fake.lock:
        violations, unknown = list(fake.schema_violations), fake.unknown_calls()
    print(f"fake.schema_violations: {len(violations)}; calls to unknown endpoints: {len(unknown)}")
    for violation in violations[:5]:
        print(f"  {violation}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20, help="synchronize events per variant")
    args = parser.parse_args()
    if not 1 <= args.events <= 10_000:
        parser.error("--events must be between 1 and 10000")
    logging.disable(logging.INFO)  # the processor logs one JSON line per delivery
    schemas, note = load_schemas()
    private, public = generate_app_key()
    fake = FakeGitHub(schemas, app_id=APP_ID)
    fake.register_app(public)
    fake.add_installation(INSTALLATION_ID, "acme")
    with ServerThread(create_fake_app(fake)) as server:
        settings = Settings(
            app_id=APP_ID,
            private_key=private,
            webhook_secret=WEBHOOK_SECRET,
            github_api_url=server.url,
            app_slug="ghapp",
        )
        print(f"bench_pipeline: fake GitHub at {server.url}; {note}; {args.events} events\n")
        asyncio.run(run(fake, server.url, settings, args.events))
    return 1 if fake.schema_violations else 0


if __name__ == "__main__":
    sys.exit(main())

"""The dashboard's first full pass over an organisation: API calls per repository and wall time,
against the stateful fake GitHub on loopback with `--repos` generated repositories (default
2,000, tests/orgrepos.py: one to three services each, or none; CODEOWNERS and manifests unique
per repository, workflows from shared templates).

The app's own parts run in this process as `ghapp serve` runs them: a SQLite store, the
processor with evaluations in a process pool (`--processes`), `--workers` queue workers, and
the refresh pass (ghapp.store.refresh) listing the installation's repositories and queueing
refresh jobs in batches, topped up as the queue drains, within the installation's rate-limit
quota (the fake reports GitHub's 12,500 an hour for an organisation installation this size).
Timed: from the first listing to the last evaluation stored. Counted: every request the fake
answered, by kind. The peer is a pass that reads every file of every tree (what a scanner
that clones or downloads each file would read), computed from the same trees.

Usage: .venv/bin/python benchmarks/bench_org_pass.py [--repos 2000] [--workers 4] [--processes 2]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import update  # noqa: E402

from ghapp.app.cli import build_processor  # noqa: E402
from ghapp.app.processor import Processor  # noqa: E402
from ghapp.app.refresh import REFRESH_EVENT  # noqa: E402
from ghapp.app.sandbox import ProcessSandbox  # noqa: E402
from ghapp.github.budget import RateBudget  # noqa: E402
from ghapp.settings import Settings  # noqa: E402
from ghapp.store.reconcile import app_jwt  # noqa: E402
from ghapp.store.refresh import Refresher  # noqa: E402
from ghapp.store.schema import PENDING, deliveries  # noqa: E402
from ghapp.store.service import Store  # noqa: E402
from ghapp.store.worker import run_workers  # noqa: E402
from tests.fakegithub import FakeGitHub, SchemaBook, create_fake_app  # noqa: E402
from tests.fakegithub.harness import (  # noqa: E402
    APP_ID,
    INSTALLATION_ID,
    ServerThread,
    generate_app_key,
)
from tests.orgrepos import generated_repo  # noqa: E402

SHARED = ROOT.parent / "shared" / "fixtures"
ORG_RATE_LIMIT = 12_500  # GitHub's cap for an installation on an organisation (5,000 + 50/repo)


def kind_of(path: str) -> str:
    for marker, kind in (
        ("/git/blobs/", "blob"),
        ("/git/trees/", "tree"),
        ("/git/ref/", "branch head"),
        ("/contents/", "org config"),
        ("/codeowners/errors", "CODEOWNERS errors (GitHub's own check)"),
        ("/installation/repositories", "repository list"),
        ("/access_tokens", "token"),
        ("/app/installations", "installation list"),
    ):
        if marker in path:
            return kind
    return path


@dataclass
class Phase:
    seconds: float
    stored: int
    calls: int


async def run_until(
    store: Store,
    refresher: Refresher,
    processor: Processor,
    repos: int,
    workers: int,
    fake: FakeGitHub,
    listing: tuple[str, str] | None,
) -> Phase:
    """Workers and top-ups until every repository is stored, or the quota's reserve is reached
    (the rest waits for the next hour); `listing` (url, app key) runs a full pass first."""
    stop = asyncio.Event()
    working = asyncio.create_task(
        run_workers(store.queue, processor, concurrency=workers, stop=stop)
    )
    began = time.perf_counter()
    if listing is not None:
        async with httpx.AsyncClient(base_url=listing[0], timeout=30) as client:
            await refresher.run_pass(client, app_jwt(APP_ID, listing[1]))
    while len(await asyncio.to_thread(store.evaluations.default_branch_times)) < repos:
        if processor.github.budget.wait(INSTALLATION_ID, time.time()) is not None:
            break  # at the reserve: what is left waits for the reset
        await asyncio.sleep(0.25)
        await refresher.top_up()
    stop.set()
    await working
    stored = len(await asyncio.to_thread(store.evaluations.default_branch_times))
    return Phase(time.perf_counter() - began, stored, len(fake.calls))


def next_hour(fake: FakeGitHub, store: Store, budget: RateBudget, limit: int) -> None:
    """What an hour later looks like: a fresh quota (as the next response would report it to
    the app), and the jobs deferred until the reset due again."""
    with fake.lock:
        fake.rate_window_ends = time.time()
    ends = str(int(time.time()) + 3600)
    fresh = {"x-ratelimit-remaining": str(limit), "x-ratelimit-limit": str(limit)}
    budget.observe(INSTALLATION_ID, {**fresh, "x-ratelimit-reset": ends})
    with store.queue.engine.begin() as conn:
        conn.execute(
            update(deliveries)
            .where(deliveries.c.event == REFRESH_EVENT, deliveries.c.status == PENDING)
            .values(available_at=time.time())
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument(
        "--rate-limit", type=int, default=ORG_RATE_LIMIT, help="the installation's hourly quota"
    )
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # one line per job (and per deferred one) otherwise
    openapi = SHARED / "openapi"
    schemas = SchemaBook.load(openapi) if (openapi / "index.json").exists() else SchemaBook.empty()
    private, public = generate_app_key()
    fake = FakeGitHub(schemas, app_id=APP_ID)
    fake.register_app(public)
    fake.add_installation(INSTALLATION_ID, "acme")
    fake.rate_limit = args.rate_limit
    files_per_repo = []
    for i in range(args.repos):
        files = generated_repo(i)
        fake.add_repo("acme", f"svc-{i:05d}", INSTALLATION_ID)
        fake.add_commit("acme", f"svc-{i:05d}", dict(files), branch="main", message="initial")
        files_per_repo.append(len(files))
    sandbox = ProcessSandbox(args.processes)
    with ServerThread(create_fake_app(fake)) as server, tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            app_id=APP_ID, private_key=private, webhook_secret="x", github_api_url=server.url
        )
        store = Store.open(f"sqlite:///{tmp}/bench.db")
        processor = build_processor(
            settings, audit=store.audit, memory=store.memory, sandbox=sandbox
        )
        processor.services.evaluations = store.evaluations
        refresher = Refresher(store.queue, store.evaluations, processor.github.budget)
        phases = []
        try:
            listing = (server.url, private)
            while not phases or phases[-1].stored < args.repos:
                if phases:
                    if len(phases) > 1 and phases[-1].stored == phases[-2].stored:
                        raise RuntimeError("an hour of quota evaluated no repository")
                    next_hour(fake, store, processor.github.budget, args.rate_limit)
                phase = asyncio.run(
                    run_until(
                        store,
                        refresher,
                        processor,
                        args.repos,
                        args.workers,
                        fake,
                        listing if not phases else None,
                    )
                )
                phases.append(phase)
        finally:
            sandbox.close()
        services = len(store.evaluations.compliance.entries("acme"))
    with fake.lock:
        calls = list(fake.calls)
        violations = len(fake.schema_violations)
    kinds = Counter(kind_of(c.path) for c in calls)
    per_repo = len(calls) / args.repos
    every_file = 1 + 1 + sum(files_per_repo) / args.repos  # head, tree, every blob
    elapsed = sum(p.seconds for p in phases)
    print(
        f"{args.repos} repositories, {services} services stored; first full pass "
        f"{elapsed:.1f} s of work ({args.repos / elapsed:.1f} repositories/s, {args.workers} "
        f"workers, {args.processes} evaluation processes)"
    )
    done = calls_before = 0
    for hour, phase in enumerate(phases, 1):
        print(
            f"- hour {hour}: {phase.stored - done} repositories in {phase.seconds:.1f} s, "
            f"{phase.calls - calls_before} requests"
            + (
                ""
                if phase.stored == args.repos
                else f"; then the rate-limit reserve ({int(args.rate_limit * 0.2):,} of "
                f"{args.rate_limit:,}) stopped it until the reset"
            )
        )
        done, calls_before = phase.stored, phase.calls
    print("\n| requests | total | per repository |")
    print("|---|---:|---:|")
    for kind, n in kinds.most_common():
        print(f"| {kind} | {n} | {n / args.repos:.2f} |")
    print(f"| **all** | {len(calls)} | {per_repo:.2f} |")
    print(
        f"\npeer (read every file of every tree): {every_file:.2f} requests per repository; "
        f"ours {per_repo:.2f} = {per_repo / every_file:.2f}x"
    )
    print(
        f"posted (check runs etc.): {sum(c.method != 'GET' and 'access_tokens' not in c.path for c in calls)}; "
        f"schema violations: {violations}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The dashboard's refresh pass: keep a default-branch evaluation of every installed repository.

Theory of operation. Pushes to default branches are evaluated as they come (ghapp.app.handlers);
this pass fills in the rest. For each installation it lists the repositories (100 per call) and
finds those whose latest stored default-branch evaluation is missing, older than their last push
(a push we never heard of), or older than `max_age` (rules and policies change). It queues one
`ghapp_refresh` job per such repository (ghapp.app.refresh), never-evaluated ones first, then the
oldest, and only as many as

- the queue should hold at once (`batch`, counting jobs already waiting, so webhook deliveries
  queued behind them do not wait long), and
- the installation's rate-limit quota allows, keeping the reserve webhooks need
  (ghapp.github.budget; `CALLS_PER_REPOSITORY` calls per job).

The rest waits in memory and is queued by `top_up` (no GitHub call) as the queue drains and the
quota allows; the next full pass lists again. Progress
is durable without a cursor: what is evaluated is stored, and what is queued is in the queue, so
a restarted server (or another replica: jobs are claimed through the queue like webhooks)
continues where the pass left off. Each pass also records the day's compliance snapshot of every
organisation it saw, and drops the dashboard rows of repositories the app no longer covers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from ghapp.app.delivery import Delivery
from ghapp.app.refresh import REFRESH_EVENT, refresh_delivery
from ghapp.github.budget import RateBudget
from ghapp.logs import log_json
from ghapp.store.compliance import org_of
from ghapp.store.evaluations import DAY, EvaluationStore
from ghapp.store.queue import Queue
from ghapp.store.reconcile import (
    _MAX_PAGES,
    ReconcileError,
    _get,
    app_jwt,
    installation_ids,
    installation_token,
)

logger = logging.getLogger("ghapp.store.refresh")
MAX_AGE = 7 * DAY
BATCH = 500
CALLS_PER_REPOSITORY = 8  # head, tree, CODEOWNERS errors, ~5 blobs: benchmarks/bench_org_pass.py
BUSY_INTERVAL = 15.0  # seconds between top-ups while stale repositories wait


@dataclass
class RefreshReport:
    """What one pass found and did."""

    repositories: int = 0
    stale: int = 0
    queued: list[str] = field(default_factory=list)
    deferred: int = 0  # stale, not queued now (batch full or quota at the reserve)
    throttled: bool = False  # the quota stopped this pass
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "repositories": self.repositories,
            "stale": self.stale,
            "queued": len(self.queued),
            "deferred": self.deferred,
            "throttled": self.throttled,
            "errors": self.errors,
        }


def stale_repositories(
    repos: Iterable[Mapping[str, Any]], evaluated: Mapping[str, float], now: float, max_age: float
) -> list[Mapping[str, Any]]:
    """The repositories to evaluate again: never evaluated first, then the oldest evaluation."""
    out: list[tuple[float, str, Mapping[str, Any]]] = []
    for repo in repos:
        name = str(repo["full_name"])
        at = evaluated.get(name)
        if at is None:
            out.append((-1.0, name, repo))
        elif at < now - max_age or at < _timestamp(repo.get("pushed_at")):
            out.append((at, name, repo))
    return [repo for _, _, repo in sorted(out, key=lambda item: (item[0], item[1]))]


class Refresher:
    """One server's refresh passes (see the module docstring). Between full passes, `top_up`
    queues more of the stale repositories the last pass found, without calling GitHub."""

    def __init__(
        self,
        queue: Queue,
        evaluations: EvaluationStore,
        budget: RateBudget,
        *,
        max_age: float = MAX_AGE,
        batch: int = BATCH,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.queue = queue
        self.evaluations = evaluations
        self.budget = budget
        self.max_age = max_age
        self.batch = batch
        self.clock = clock
        self.backlog: dict[int, list[Delivery]] = {}  # stale, not queued yet, per installation

    async def run_pass(self, client: httpx.AsyncClient, app_token: str) -> RefreshReport:
        """List every installation's repositories, find the stale ones, queue what fits."""
        report = RefreshReport()
        try:
            installations = await installation_ids(client, app_token)
        except (ReconcileError, httpx.HTTPError) as exc:
            report.errors.append(f"installations: {exc}")
            return report
        self.backlog = {}
        for installation in installations:
            try:
                await self._installation(client, app_token, installation, report)
            except (ReconcileError, httpx.HTTPError, KeyError, ValueError) as exc:
                report.errors.append(f"installation {installation}: {exc}")
        await self.top_up(report)
        log_json(logger, logging.INFO, "dashboard refresh pass", **report.to_json())
        return report

    async def top_up(self, report: RefreshReport | None = None) -> RefreshReport:
        """Queue backlog jobs while the queue has room and the quota allows (no GitHub call)."""
        report = report or RefreshReport()
        room = self.batch - await asyncio.to_thread(self.queue.waiting, REFRESH_EVENT)
        for installation, jobs in self.backlog.items():
            known = await asyncio.to_thread(self.queue.known, [j.id for j in jobs])
            jobs = [j for j in jobs if j.id not in known]  # queued already (or done today)
            spare = self.budget.spare(installation, self.clock())
            affordable = len(jobs) if spare is None else spare // CALLS_PER_REPOSITORY
            if affordable < min(room, len(jobs)):
                report.throttled = True
            chosen = jobs[: max(0, min(room, affordable))]
            if chosen:
                accepted = await asyncio.to_thread(self.queue.enqueue_many, chosen)
                report.queued += [j.id for j, ok in zip(chosen, accepted, strict=True) if ok]
                room -= len(chosen)
            self.backlog[installation] = jobs[len(chosen) :]
        report.deferred = sum(len(jobs) for jobs in self.backlog.values())
        return report

    async def _installation(
        self, client: httpx.AsyncClient, app_token: str, installation: int, report: RefreshReport
    ) -> None:
        token = await installation_token(client, app_token, installation)
        repos = await self._repositories(client, token, installation)
        now = self.clock()
        day = datetime.fromtimestamp(now, UTC).date().isoformat()
        report.repositories += len(repos)
        evaluated = await asyncio.to_thread(self.evaluations.default_branch_times)
        stale = stale_repositories(repos, evaluated, now, self.max_age)
        report.stale += len(stale)
        self.backlog[installation] = [refresh_delivery(installation, repo, day) for repo in stale]
        await asyncio.to_thread(self._organisations, repos, day, now)

    def _organisations(self, repos: Sequence[Mapping[str, Any]], day: str, now: float) -> None:
        """Today's snapshot of each organisation listed; rows of repositories it no longer has
        (the app was removed from them) dropped."""
        compliance = self.evaluations.compliance
        names = [str(r["full_name"]) for r in repos]
        for org in sorted({org_of(n) for n in names}):
            compliance.forget(org, (n for n in names if org_of(n) == org))
            compliance.take_snapshot(org, day, now)

    async def _repositories(
        self, client: httpx.AsyncClient, token: str, installation: int
    ) -> list[dict[str, Any]]:
        """The installation's repositories, recording the quota each page reports."""
        out: list[dict[str, Any]] = []
        url = "/installation/repositories"
        params: dict[str, Any] = {"per_page": 100}
        for _ in range(_MAX_PAGES * 10):  # 50,000 repositories: GitHub's own installation limit
            response = await _get(client, url, token, **params)
            self.budget.observe(installation, response.headers)
            out += response.json().get("repositories") or []
            following = response.links.get("next", {}).get("url")
            if not following:
                break
            url, params = following, {}
        return out


async def refresh_forever(
    make_client: Callable[[], httpx.AsyncClient],
    refresher: Refresher,
    *,
    app_id: int,
    private_key: str,
    interval: float,
    stop: asyncio.Event,
    busy_interval: float = BUSY_INTERVAL,
) -> None:
    """A full pass every `interval` seconds and, while its backlog lasts, a `top_up` every
    `busy_interval` seconds, until `stop` is set; a failed pass is logged."""
    next_pass = 0.0
    while not stop.is_set():
        try:
            if time.monotonic() >= next_pass:
                next_pass = time.monotonic() + interval
                async with make_client() as client:
                    await refresher.run_pass(client, app_jwt(app_id, private_key))
            else:
                await refresher.top_up()
        except Exception:
            logger.exception("dashboard refresh pass failed")
        busy = any(refresher.backlog.values())
        wait = busy_interval if busy else next_pass - time.monotonic()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=max(0.0, min(wait, interval)))


def _timestamp(value: Any) -> float:
    """GitHub's `2024-01-01T00:00:00Z` as epoch seconds (0 when absent or unreadable)."""
    if not value:
        return 0.0
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()

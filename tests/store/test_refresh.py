"""The dashboard's refresh pass against a mocked GitHub (respx): which repositories it queues,
in which order, how many (the queue's batch and the rate-limit budget), and what it records."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import Engine

from ghapp.app.checkrun import KIND_BRANCH, EvaluationRecord
from ghapp.app.refresh import REFRESH_EVENT
from ghapp.core.model import Report, Service
from ghapp.github.budget import RateBudget
from ghapp.store.evaluations import DAY, EvaluationStore
from ghapp.store.queue import Queue
from ghapp.store.refresh import Refresher, RefreshReport, stale_repositories

API = "https://github.test/api/v3"
NOW = datetime(2025, 6, 1, 12, tzinfo=UTC).timestamp()


@pytest.fixture(scope="module")
def app_token() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    from ghapp.store.reconcile import app_jwt

    return app_jwt(1, pem)


def repo(name: str, pushed: str = "2025-05-01T00:00:00Z") -> dict[str, Any]:
    return {"full_name": f"acme/{name}", "default_branch": "main", "pushed_at": pushed}


def evaluated(store: EvaluationStore, name: str, at: float, *services: str) -> None:
    report = Report("neutral", (), services=tuple(Service(s, s, f"{s}/c.yaml") for s in services))
    store.save(
        EvaluationRecord(
            repository=f"acme/{name}",
            head_sha="a" * 40,
            kind=KIND_BRANCH,
            evaluated_at=datetime.fromtimestamp(at, UTC),
            conclusion="neutral",
            title="t",
            report=report.to_json(),
            ref="main",
            default_branch=True,
        )
    )


def mock_github(
    router: respx.Router, repos: list[dict[str, Any]], remaining: int = 4000
) -> respx.Route:
    router.get(f"{API}/app/installations").respond(json=[{"id": 77}])
    router.post(f"{API}/app/installations/77/access_tokens").respond(
        201, json={"token": "ghs_x", "expires_at": "2099-01-01T00:00:00Z"}
    )
    return router.get(f"{API}/installation/repositories").respond(
        json={"total_count": len(repos), "repositories": repos}, headers=quota(remaining)
    )


def quota(remaining: int) -> dict[str, str]:
    return {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-reset": str(int(NOW) + 1800),
    }


def run_pass(refresher: Refresher, token: str) -> RefreshReport:
    async def go() -> RefreshReport:
        async with httpx.AsyncClient(base_url=API) as client:
            return await refresher.run_pass(client, token)

    return asyncio.run(go())


def queued(queue: Queue) -> list[str]:
    return [
        json.loads(job.delivery.payload)["repository"]["full_name"]
        for job in queue.claim_many("test-worker", 100)
    ]


def test_stale_means_never_evaluated_pushed_since_or_too_old() -> None:
    repos = [
        repo("fresh"),
        repo("never"),
        repo("old"),
        repo("pushed", pushed="2025-06-01T11:00:00Z"),
    ]
    times = {"acme/fresh": NOW - 3600, "acme/old": NOW - 8 * DAY, "acme/pushed": NOW - 7200}
    chosen = stale_repositories(repos, times, NOW, max_age=7 * DAY)
    assert [r["full_name"] for r in chosen] == ["acme/never", "acme/old", "acme/pushed"]


def test_a_pass_queues_the_stale_repositories_never_evaluated_first(
    engine: Engine, app_token: str
) -> None:
    store, queue = EvaluationStore(engine), Queue(engine)
    evaluated(store, "fresh", NOW - 3600, "f")
    evaluated(store, "old", NOW - 30 * DAY, "o")
    refresher = Refresher(queue, store, RateBudget(), clock=lambda: NOW)
    with respx.mock(assert_all_called=False) as router:
        mock_github(router, [repo("old"), repo("fresh"), repo("never")])
        report = run_pass(refresher, app_token)
        assert (report.repositories, report.stale, len(report.queued)) == (3, 2, 2)
        again = run_pass(refresher, app_token)  # the same jobs are queued already
    assert again.queued == [] and again.deferred == 0
    jobs = queue.claim_many("test-worker", 10)
    assert [j.delivery.event for j in jobs] == [REFRESH_EVENT] * 2
    payloads = [json.loads(j.delivery.payload) for j in jobs]
    assert [p["repository"]["full_name"] for p in payloads] == ["acme/never", "acme/old"]
    assert payloads[0]["repository"]["default_branch"] == "main"
    assert {j.delivery.installation_id for j in jobs} == {77}
    snapshot = store.compliance.snapshots("acme", "2025-06-01")
    assert [(s.day, s.services) for s in snapshot] == [("2025-06-01", 2)]


def test_the_queue_holds_at_most_a_batch_and_the_rest_follows_as_it_drains(
    engine: Engine, app_token: str
) -> None:
    store, queue = EvaluationStore(engine), Queue(engine)
    refresher = Refresher(queue, store, RateBudget(), batch=2, clock=lambda: NOW)
    with respx.mock(assert_all_called=False) as router:
        listing = mock_github(router, [repo(n) for n in ("a", "b", "c", "d", "e")])
        report = run_pass(refresher, app_token)
        assert (len(report.queued), report.deferred, report.throttled) == (2, 3, False)
        assert asyncio.run(refresher.top_up()).queued == []  # still full
        jobs = queue.claim_many("test-worker", 10)
        assert queue.complete_many(jobs) == [True, True]
        topped = asyncio.run(refresher.top_up())  # no GitHub call
        assert listing.call_count == 1
    assert (len(topped.queued), topped.deferred) == (2, 1)
    assert queued(queue) == ["acme/c", "acme/d"]


def test_the_rate_limit_reserve_is_left_for_webhooks(engine: Engine, app_token: str) -> None:
    store, queue = EvaluationStore(engine), Queue(engine)
    budget = RateBudget()
    refresher = Refresher(queue, store, budget, clock=lambda: NOW)
    names = [f"r{i}" for i in range(10)]
    with respx.mock(assert_all_called=False) as router:
        # 1,000 of 5,000 is the reserve; 1,016 left affords two jobs of eight calls.
        mock_github(router, [repo(n) for n in names], remaining=1016)
        report = run_pass(refresher, app_token)
    assert (len(report.queued), report.deferred, report.throttled) == (2, 8, True)
    assert budget.wait(77, NOW) is None
    budget.observe(77, quota(900))  # the workers spent some since
    assert budget.wait(77, NOW) == 1800  # what the refresh handler waits before spending more
    assert asyncio.run(refresher.top_up()).queued == []  # nothing more until the reset
    assert budget.spare(77, NOW + 1801) == 4000  # a new window: all but the reserve


def test_repositories_the_app_left_leave_the_dashboard(engine: Engine, app_token: str) -> None:
    store, queue = EvaluationStore(engine), Queue(engine)
    evaluated(store, "kept", NOW, "k")
    evaluated(store, "removed", NOW, "r")
    refresher = Refresher(queue, store, RateBudget(), clock=lambda: NOW)
    with respx.mock(assert_all_called=False) as router:
        mock_github(router, [repo("kept")])
        run_pass(refresher, app_token)
    assert [e.repository for e in store.compliance.entries("acme")] == ["acme/kept"]


def test_an_installation_github_refuses_is_reported_and_the_pass_goes_on(
    engine: Engine, app_token: str
) -> None:
    store, queue = EvaluationStore(engine), Queue(engine)
    refresher = Refresher(queue, store, RateBudget(), clock=lambda: NOW)
    with respx.mock(assert_all_called=False) as router:
        mock_github(router, [repo("a")])
        router.get(f"{API}/app/installations").respond(json=[{"id": 76}, {"id": 77}])
        router.post(f"{API}/app/installations/76/access_tokens").respond(403, json={})
        report = run_pass(refresher, app_token)
    assert len(report.errors) == 1 and "installation 76" in report.errors[0]
    assert len(report.queued) == 1

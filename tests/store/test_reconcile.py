"""Reconciliation against a mocked GitHub API (respx)."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest
import respx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import Engine

from ghapp.store.queue import Queue
from ghapp.store.reconcile import ReconcileReport, app_jwt, reconcile
from tests.store.conftest import make_delivery, pr_delivery

API = "https://github.test/api/v3"
SINCE = datetime(2024, 5, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def private_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def attempt(hook_id: int, guid: str, status: int, at: str) -> dict[str, Any]:
    return {"id": hook_id, "guid": guid, "status_code": status, "delivered_at": at}


def run(queue: Queue, key: str, **options: Any) -> ReconcileReport:
    async def go() -> ReconcileReport:
        async with httpx.AsyncClient(base_url=API) as client:
            return await reconcile(
                client, app_id=123, private_key=key, queue=queue, since=SINCE, **options
            )

    return asyncio.run(go())


def test_the_app_jwt_is_signed_for_the_app(private_key: str) -> None:
    token = app_jwt(123, private_key, now=1_700_000_000)
    public = serialization.load_pem_private_key(private_key.encode(), None).public_key()
    claims = jwt.decode(token, public, algorithms=["RS256"], options={"verify_exp": False})  # type: ignore[arg-type]
    assert claims["iss"] == "123"
    assert claims["exp"] - claims["iat"] <= 600


@respx.mock
def test_only_never_delivered_unknown_deliveries_are_redelivered(
    engine: Engine, private_key: str
) -> None:
    queue = Queue(engine)
    queue.enqueue(make_delivery("stored-guid"))
    page2 = f"{API}/app/hook/deliveries?cursor=abc"
    respx.get(f"{API}/app/hook/deliveries").mock(
        return_value=httpx.Response(
            200,
            json=[
                attempt(11, "recovered", 200, "2024-05-03T00:00:00Z"),
                attempt(10, "recovered", 502, "2024-05-02T23:00:00Z"),
                attempt(9, "lost", 0, "2024-05-02T22:00:00Z"),
            ],
            headers={"Link": f'<{page2}>; rel="next"'},
        )
    )
    respx.get(page2).mock(
        return_value=httpx.Response(
            200,
            json=[
                attempt(8, "lost", 503, "2024-05-02T21:00:00Z"),
                attempt(7, "stored-guid", 504, "2024-05-02T20:00:00Z"),
                attempt(6, "too-old", 500, "2024-04-01T00:00:00Z"),
            ],
        )
    )
    redeliveries = respx.post(url__regex=rf"{API}/app/hook/deliveries/\d+/attempts").mock(
        return_value=httpx.Response(202, json={})
    )
    report = run(queue, private_key, recheck_pulls=False)
    assert report.redelivered == ["lost"]
    assert [str(call.request.url) for call in redeliveries.calls] == [
        f"{API}/app/hook/deliveries/9/attempts"
    ]
    auth = respx.calls[0].request.headers["authorization"]
    assert auth.startswith("Bearer ") and auth.count(".") == 2


def mock_installation(
    pulls: list[dict[str, Any]], checked: set[str], runs: dict[str, dict[str, Any]] | None = None
) -> None:
    """Installation 1 sees octo/repo with `pulls`; the heads in `checked` have a ghapp run
    (shown as `runs[sha]` when given)."""
    respx.get(f"{API}/app/installations").mock(
        return_value=httpx.Response(200, json=[{"id": 1}, {"id": 2}])
    )
    respx.post(f"{API}/app/installations/1/access_tokens").mock(
        return_value=httpx.Response(201, json={"token": "ghs_one"})
    )
    respx.post(f"{API}/app/installations/2/access_tokens").mock(
        return_value=httpx.Response(404, json={"message": "Not Found"})
    )
    respx.get(f"{API}/installation/repositories").mock(
        return_value=httpx.Response(
            200, json={"total_count": 1, "repositories": [{"full_name": "octo/repo", "id": 5}]}
        )
    )
    respx.get(f"{API}/repos/octo/repo/pulls").mock(return_value=httpx.Response(200, json=pulls))

    def check_runs(request: httpx.Request) -> httpx.Response:
        sha = request.url.path.split("/")[-2]
        assert request.url.params["check_name"] == "ghapp"
        shown = [runs[sha]] if runs and sha in runs else []
        return httpx.Response(200, json={"total_count": int(sha in checked), "check_runs": shown})

    respx.get(url__regex=rf"{API}/repos/octo/repo/commits/\w+/check-runs").mock(
        side_effect=check_runs
    )


@respx.mock
def test_open_pulls_without_a_check_run_are_queued_once(engine: Engine, private_key: str) -> None:
    pulls = [
        {"number": 1, "head": {"sha": "aaa"}, "updated_at": "2024-05-02T00:00:00Z"},
        {"number": 2, "head": {"sha": "bbb"}, "updated_at": "2024-05-02T00:00:00Z"},
    ]
    mock_installation(pulls, checked={"aaa"})
    queue = Queue(engine)
    report = run(queue, private_key, redeliver_failed=False)
    assert report.queued == ["reconcile:octo/repo#2@bbb"]
    assert report.checked_pulls == 2
    [error] = report.errors  # one installation failing does not stop the pass
    assert error.startswith("installation 2: POST /app/installations/2/access_tokens: 404")
    job = queue.claim("w")
    assert job is not None and job.head_sha == "bbb" and job.coalesce_key == "octo/repo#2"
    payload = json.loads(job.delivery.payload)
    assert (payload["installation"]["id"], payload["repository"]["full_name"]) == (1, "octo/repo")
    again = run(queue, private_key, redeliver_failed=False)
    assert again.queued == []  # the same head is never queued twice


def in_progress_since(seconds: float) -> dict[str, Any]:
    started = datetime.fromtimestamp(time.time() - seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"id": 9, "status": "in_progress", "conclusion": None, "started_at": started}


PULLS = [
    {"number": 1, "head": {"sha": "aaa"}, "updated_at": "2024-05-02T00:00:00Z"},
    {"number": 2, "head": {"sha": "bbb"}, "updated_at": "2024-05-02T00:00:00Z"},
    {"number": 3, "head": {"sha": "ccc"}, "updated_at": "2024-05-02T00:00:00Z"},
]


@respx.mock
def test_a_run_left_in_progress_by_a_dead_job_is_evaluated_again_once(
    engine: Engine, private_key: str
) -> None:
    runs = {
        "aaa": in_progress_since(3600),  # its job is dead: stale
        "bbb": in_progress_since(60),  # just started
        "ccc": {**in_progress_since(3600), "status": "completed", "conclusion": "success"},
    }
    mock_installation(PULLS, checked={"aaa", "bbb", "ccc"}, runs=runs)
    queue = Queue(engine)
    report = run(queue, private_key, redeliver_failed=False)
    assert report.queued == ["reconcile-stale:octo/repo#1@aaa"]
    job = queue.claim("w")
    assert job is not None and (job.head_sha, job.coalesce_key) == ("aaa", "octo/repo#1")
    assert json.loads(job.delivery.payload)["ghapp_reconcile"] is True  # looks its run up
    queue.fail(job, "GitHub is down", permanent=True)
    assert run(queue, private_key, redeliver_failed=False).queued == []  # once per head SHA


@respx.mock
def test_a_run_in_progress_whose_job_is_still_queued_is_left_to_that_job(
    engine: Engine, private_key: str
) -> None:
    mock_installation(PULLS[:1], checked={"aaa"}, runs={"aaa": in_progress_since(3600)})
    queue = Queue(engine)
    queue.enqueue(pr_delivery(1, "aaa", "2024-05-02T00:00:00Z"))  # e.g. waiting on a rate limit
    assert run(queue, private_key, redeliver_failed=False).queued == []

"""Reconciliation: recover what webhooks missed.

1. Failed deliveries: list the App's webhook deliveries (`GET /app/hook/deliveries`, App JWT),
   and for every delivery id (guid) none of whose attempts succeeded and that we have not stored,
   ask GitHub to deliver it again (`POST /app/hook/deliveries/{id}/attempts`).
2. Missed evaluations: for each installation, repository and open pull request, look for our
   check run on the head SHA; when there is none, queue a synthetic `pull_request`
   `synchronize` delivery (id `reconcile:<repo>#<n>@<sha>`, so one per head SHA, ever).
3. Stale runs: a run of ours still `in_progress` `stale_after` seconds after it started, while
   no job of that pull request is pending or running (its job died and could not say so, e.g.
   GitHub was down when the queue gave up on it), is evaluated again the same way (id
   `reconcile-stale:<repo>#<n>@<sha>`, once per head SHA); that job completes the same run, with
   the result or with "Evaluation failed". It costs no extra call: the check-run lookup of step 2
   returns the run.

Each step is a small function over an `httpx.AsyncClient` whose base URL is the GitHub API
(tests drive them with respx, end-to-end tests with the fake GitHub). An error in one
installation or repository is reported and the pass goes on with the next.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt

from ghapp.app.delivery import Delivery
from ghapp.logs import log_json
from ghapp.store.metrics import Metrics
from ghapp.store.queue import Queue

logger = logging.getLogger("ghapp.store.reconcile")
ACCEPT = "application/vnd.github+json"
CHECK_NAME = "ghapp"
_MAX_PAGES = 50  # bounds one pass even against a misbehaving server
# An in_progress run this old with no live job is stale: past an evaluation's time budget and
# the retries' backoff, well past a lease; a job waiting on the rate limit is live, so not stale.
STALE_AFTER = 600.0


class ReconcileError(Exception):
    """GitHub answered a reconciliation request with an error."""


@dataclass
class ReconcileReport:
    """What one pass found and did."""

    redelivered: list[str] = field(default_factory=list)  # guids
    queued: list[str] = field(default_factory=list)  # synthetic delivery ids
    checked_pulls: int = 0
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "redelivered": self.redelivered,
            "queued": self.queued,
            "checked_pulls": self.checked_pulls,
            "errors": self.errors,
        }


def app_jwt(app_id: int, private_key: str, now: float | None = None) -> str:
    """A GitHub App JWT (RS256), backdated 60 s for clock drift, valid 9 minutes."""
    issued = int(time.time() if now is None else now) - 60
    payload = {"iat": issued, "exp": issued + 600, "iss": str(app_id)}
    return jwt.encode(payload, private_key, algorithm="RS256")


def _headers(token: str, scheme: str = "Bearer") -> dict[str, str]:
    return {"Authorization": f"{scheme} {token}", "Accept": ACCEPT}


async def _get(client: httpx.AsyncClient, url: str, token: str, **params: Any) -> httpx.Response:
    response = await client.get(url, headers=_headers(token), params=params or None)
    if response.status_code >= 400:
        raise ReconcileError(f"GET {url}: {response.status_code} {response.text[:200]}")
    return response


async def _pages(
    client: httpx.AsyncClient, url: str, token: str, key: str | None = None, **params: Any
) -> AsyncIterator[dict[str, Any]]:
    """Items of a paginated list (following Link: rel="next"); `key` for wrapped lists."""
    response = await _get(client, url, token, per_page=100, **params)
    for _ in range(_MAX_PAGES):
        body = response.json()
        for item in body[key] if key else body:
            yield item
        following = response.links.get("next", {}).get("url")
        if not following:
            return
        response = await _get(client, following, token)


async def failed_deliveries(
    client: httpx.AsyncClient, app_token: str, since: datetime
) -> dict[str, dict[str, Any]]:
    """guid -> latest attempt, for deliveries since `since` none of whose attempts got a 2xx."""
    latest: dict[str, dict[str, Any]] = {}
    succeeded: set[str] = set()
    async for attempt in _pages(client, "/app/hook/deliveries", app_token):
        delivered = datetime.fromisoformat(str(attempt["delivered_at"]))
        if delivered.tzinfo is None:
            delivered = delivered.replace(tzinfo=UTC)
        if delivered < since:
            break  # newest first: everything after is older still
        guid = str(attempt["guid"])
        if 200 <= int(attempt.get("status_code") or 0) < 300:
            succeeded.add(guid)
        latest.setdefault(guid, attempt)
    return {guid: a for guid, a in latest.items() if guid not in succeeded}


async def redeliver(client: httpx.AsyncClient, app_token: str, hook_delivery_id: int) -> None:
    """Ask GitHub to send one delivery again."""
    url = f"/app/hook/deliveries/{hook_delivery_id}/attempts"
    response = await client.post(url, headers=_headers(app_token))
    if response.status_code >= 400:
        raise ReconcileError(f"POST {url}: {response.status_code} {response.text[:200]}")


async def installation_ids(client: httpx.AsyncClient, app_token: str) -> list[int]:
    """Every installation of the App."""
    return [int(i["id"]) async for i in _pages(client, "/app/installations", app_token)]


async def installation_token(client: httpx.AsyncClient, app_token: str, installation: int) -> str:
    """A fresh installation access token."""
    url = f"/app/installations/{installation}/access_tokens"
    response = await client.post(url, headers=_headers(app_token))
    if response.status_code >= 400:
        raise ReconcileError(f"POST {url}: {response.status_code} {response.text[:200]}")
    return str(response.json()["token"])


async def repositories(client: httpx.AsyncClient, token: str) -> list[dict[str, Any]]:
    """The repositories an installation token can see."""
    return [r async for r in _pages(client, "/installation/repositories", token, "repositories")]


async def open_pulls(client: httpx.AsyncClient, token: str, repo: str) -> list[dict[str, Any]]:
    """Open pull requests of "owner/name"."""
    return [p async for p in _pages(client, f"/repos/{repo}/pulls", token, state="open")]


async def latest_check_run(
    client: httpx.AsyncClient, token: str, repo: str, sha: str, name: str = CHECK_NAME
) -> dict[str, Any] | None:
    """The newest check run called `name` on `sha` (empty when GitHub counts one but does not
    show it), None when there is none."""
    response = await _get(
        client, f"/repos/{repo}/commits/{sha}/check-runs", token, check_name=name, per_page=1
    )
    body = response.json()
    if int(body.get("total_count", 0)) == 0:
        return None
    runs = body.get("check_runs") or []
    return dict(runs[0]) if runs else {}


def started_long_ago(run: dict[str, Any], now: float, stale_after: float) -> bool:
    """True when `run` is not completed and started more than `stale_after` seconds ago."""
    if run.get("status") in (None, "completed"):
        return False
    try:
        started = datetime.fromisoformat(str(run.get("started_at")).replace("Z", "+00:00"))
    except ValueError:
        return False
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    return now - started.timestamp() > stale_after


def recheck_delivery(
    installation: int, repo: dict[str, Any], pull: dict[str, Any], *, stale: bool = False
) -> Delivery:
    """A synthetic `pull_request` `synchronize` delivery that re-evaluates `pull`'s head
    (`stale`: its run was left `in_progress`)."""
    sha = str(pull["head"]["sha"])
    payload = {
        "action": "synchronize",
        "number": pull["number"],
        "pull_request": pull,
        "repository": repo,
        "installation": {"id": installation},
        "sender": pull.get("user") or {},
        "ghapp_reconcile": True,
    }
    prefix = "reconcile-stale" if stale else "reconcile"
    return Delivery(
        id=f"{prefix}:{repo['full_name']}#{pull['number']}@{sha}"[:100],
        event="pull_request",
        action="synchronize",
        installation_id=installation,
        repository=str(repo["full_name"]),
        payload=json.dumps(payload).encode(),
        received_at=datetime.now(UTC),
    )


async def reconcile(
    client: httpx.AsyncClient,
    *,
    app_id: int,
    private_key: str,
    queue: Queue,
    since: datetime,
    check_name: str = CHECK_NAME,
    redeliver_failed: bool = True,
    recheck_pulls: bool = True,
    stale_after: float = STALE_AFTER,
) -> ReconcileReport:
    """One reconciliation pass (see the module docstring)."""
    report = ReconcileReport()
    app_token = app_jwt(app_id, private_key)
    if redeliver_failed:
        await _redeliver_failed(client, app_token, queue, since, report)
    if recheck_pulls:
        try:
            installations = await installation_ids(client, app_token)
        except (ReconcileError, httpx.HTTPError) as exc:
            report.errors.append(f"installations: {exc}")
            installations = []
        for installation in installations:
            await _recheck_installation(
                client, app_token, installation, queue, check_name, stale_after, report
            )
    log_json(logger, logging.INFO, "reconcile pass", **report.to_json())
    return report


async def _redeliver_failed(
    client: httpx.AsyncClient,
    app_token: str,
    queue: Queue,
    since: datetime,
    report: ReconcileReport,
) -> None:
    try:
        failed = await failed_deliveries(client, app_token, since)
        stored = await asyncio.to_thread(queue.known, failed)
    except (ReconcileError, httpx.HTTPError) as exc:
        report.errors.append(f"deliveries: {exc}")
        return
    for guid, attempt in failed.items():
        if guid in stored:
            continue  # we have it (a later attempt reached us): redelivering would do nothing
        try:
            await redeliver(client, app_token, int(attempt["id"]))
            report.redelivered.append(guid)
        except (ReconcileError, httpx.HTTPError) as exc:
            report.errors.append(f"redeliver {guid}: {exc}")


async def _recheck_installation(
    client: httpx.AsyncClient,
    app_token: str,
    installation: int,
    queue: Queue,
    check_name: str,
    stale_after: float,
    report: ReconcileReport,
) -> None:
    try:
        token = await installation_token(client, app_token, installation)
        repos = await repositories(client, token)
    except (ReconcileError, httpx.HTTPError) as exc:
        report.errors.append(f"installation {installation}: {exc}")
        return
    for repo in repos:
        name = str(repo["full_name"])
        try:
            for pull in await open_pulls(client, token, name):
                report.checked_pulls += 1
                sha = str(pull["head"]["sha"])
                run = await latest_check_run(client, token, name, sha, check_name)
                stale = run is not None and started_long_ago(run, time.time(), stale_after)
                if stale:
                    key = f"{name}#{pull['number']}"
                    stale = not await asyncio.to_thread(queue.live, key)
                if run is not None and not stale:
                    continue
                delivery = recheck_delivery(installation, repo, pull, stale=stale)
                if await asyncio.to_thread(queue.enqueue, delivery):
                    report.queued.append(delivery.id)
        except (ReconcileError, httpx.HTTPError, KeyError, ValueError) as exc:
            report.errors.append(f"{name}: {exc}")


def instrument(client: httpx.AsyncClient, metrics: Metrics) -> None:
    """Count the client's GitHub calls and record the rate-limit budget they report."""

    async def observe(response: httpx.Response) -> None:
        metrics.count_github_call(
            response.request.method,
            response.status_code,
            response.headers.get("x-ratelimit-remaining"),
        )

    client.event_hooks.setdefault("response", []).append(observe)


async def reconcile_forever(
    make_client: Callable[[], httpx.AsyncClient],
    *,
    app_id: int,
    private_key: str,
    queue: Queue,
    interval: float,
    lookback: float,
    stop: asyncio.Event,
    metrics: Metrics | None = None,
) -> None:
    """Run a pass every `interval` seconds until `stop` is set; a failed pass is logged."""
    while not stop.is_set():
        since = datetime.fromtimestamp(time.time() - lookback, UTC)
        try:
            async with make_client() as client:
                if metrics is not None:
                    instrument(client, metrics)
                await reconcile(
                    client, app_id=app_id, private_key=private_key, queue=queue, since=since
                )
        except Exception:
            logger.exception("reconcile pass failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)

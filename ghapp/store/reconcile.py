"""Reconciliation: recover what webhooks missed.

1. Failed deliveries: list the App's webhook deliveries (`GET /app/hook/deliveries`, App JWT),
   and for every delivery id (guid) none of whose attempts succeeded and that we have not stored,
   ask GitHub to deliver it again (`POST /app/hook/deliveries/{id}/attempts`).
2. Missed evaluations: for each installation, repository and open pull request, look for our
   check run on the head SHA; when there is none, queue a synthetic `pull_request`
   `synchronize` delivery (id `reconcile:<repo>#<n>@<sha>`, so one per head SHA, ever).

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


async def has_check_run(
    client: httpx.AsyncClient, token: str, repo: str, sha: str, name: str = CHECK_NAME
) -> bool:
    """True when a check run called `name` exists on `sha`."""
    response = await _get(
        client, f"/repos/{repo}/commits/{sha}/check-runs", token, check_name=name, per_page=1
    )
    return int(response.json().get("total_count", 0)) > 0


def recheck_delivery(installation: int, repo: dict[str, Any], pull: dict[str, Any]) -> Delivery:
    """A synthetic `pull_request` `synchronize` delivery that re-evaluates `pull`'s head."""
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
    return Delivery(
        id=f"reconcile:{repo['full_name']}#{pull['number']}@{sha}"[:100],
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
            await _recheck_installation(client, app_token, installation, queue, check_name, report)
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
                if await has_check_run(client, token, name, sha, check_name):
                    continue
                delivery = recheck_delivery(installation, repo, pull)
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

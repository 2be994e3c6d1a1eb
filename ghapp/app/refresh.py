"""Refreshing the dashboard: evaluate a repository's default branch and keep the result.

A push to the default branch is evaluated by `check_commit` (and stored). For repositories with
no stored evaluation, or a stale one, the periodic refresh (ghapp.store.refresh) queues synthetic
`ghapp_refresh` deliveries; `on_refresh` handles them. It costs the branch head (one call), the
tree (one call) and only the blobs checks read (none already cached): no check run is posted and
no commit history is read. When the installation's rate-limit quota is down to the reserve
webhooks need (ghapp.github.budget), the job is retried after the reset instead of spending it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable

from ghapp.app.checkrun import KIND_BRANCH, EvaluationRecord, save_evaluation
from ghapp.app.delivery import Delivery
from ghapp.app.handlers import _client, _evaluate, _repo, _services
from ghapp.app.router import Event, Router
from ghapp.app.sandbox import EvaluationFailed
from ghapp.github.errors import RetryableError
from ghapp.github.snapshot import GitHubSnapshot
from ghapp.render.markdown import title_of

REFRESH_EVENT = "ghapp_refresh"  # never sent by GitHub: queued by the refresh pass
MAX_DELIVERY_ID = 100


@runtime_checkable
class StoredEvaluations(Protocol):
    def latest(self, repository: str, head_sha: str) -> Any:
        """The newest stored evaluation of that commit, or None."""
        ...


def register(router: Router) -> None:
    router.add(REFRESH_EVENT, None, on_refresh)


def refresh_delivery(installation: int, repo: Mapping[str, Any], day: str) -> Delivery:
    """The job that refreshes `repo` (a repository JSON from GitHub): one per repository, last
    push and day, so passes that find it stale again do not queue it twice."""
    name = str(repo["full_name"])
    pushed = str(repo.get("pushed_at") or "")
    digest = hashlib.sha1(f"{name}\n{pushed}\n{day}".encode()).hexdigest()[:16]
    payload = {
        "repository": {
            "full_name": name,
            "default_branch": repo.get("default_branch"),
            "pushed_at": repo.get("pushed_at"),
        },
        "installation": {"id": installation},
        "ghapp_reconcile": True,
    }
    return Delivery(
        id=f"refresh:{digest}:{name}"[:MAX_DELIVERY_ID],
        event=REFRESH_EVENT,
        action=None,
        installation_id=installation,
        repository=name,
        payload=json.dumps(payload).encode(),
        received_at=datetime.now(UTC),
    )


async def on_refresh(event: Event) -> None:
    """Evaluate the repository's default branch head and store it as the dashboard's row."""
    services = _services(event)
    repo = _repo(event)
    branch = str((event.payload.get("repository") or {}).get("default_branch") or "")
    installation = event.delivery.installation_id
    wait = services.github.budget.wait(installation, time.time())
    if wait is not None:
        raise RetryableError(
            f"{repo}: rate-limit quota at the reserve kept for webhooks", delay=wait
        )
    client = await _client(event)
    async with client:
        if not branch:
            branch = str((await client.request("GET", f"/repos/{repo}"))["default_branch"])
        ref = await client.request("GET", f"/repos/{repo}/git/ref/heads/{branch}")
        sha = str(ref["object"]["sha"])
        stored = services.evaluations
        if isinstance(stored, StoredEvaluations):
            latest = await asyncio.to_thread(stored.latest, repo, sha)
            if _since(latest, event.delivery.received_at):
                return  # a push to the branch was evaluated after this job was queued
        fields: dict[str, Any] = {
            "repository": repo,
            "head_sha": sha,
            "kind": KIND_BRANCH,
            "installation_id": installation,
            "ref": branch,
            "default_branch": True,
        }
        head = await GitHubSnapshot.load(client, repo, sha, services.caches)
        try:
            report, _ = await _evaluate(services, client, repo, head, None, None, suggestions=False)
        except EvaluationFailed as exc:  # stored as failed, so the next pass does not retry it
            record = EvaluationRecord(
                **fields,
                evaluated_at=services.clock(),
                conclusion="neutral",
                title="Evaluation failed",
                error=str(exc),
            )
            await save_evaluation(stored, record)
            raise
        record = EvaluationRecord(
            **fields,
            evaluated_at=services.clock(),
            conclusion=report.conclusion,
            title=title_of(report),
            report=report.to_json(),
        )
        await save_evaluation(stored, record)


def _since(stored: Any, moment: datetime) -> bool:
    record = getattr(stored, "record", None)
    return (
        record is not None
        and record.kind == KIND_BRANCH
        and record.default_branch
        and record.evaluated_at >= moment
    )

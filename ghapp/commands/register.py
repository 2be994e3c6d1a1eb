"""Wiring comment commands into the app: routes, check-run buttons, and the GitHub port.

`register(router, services, audit)` adds the `issue_comment.created` route and the
`claim-unowned` and `recheck` check-run actions (replacing the app's unaudited `recheck`).
`ApiPort` implements `CommandPort` and `Access` over an `InstallationClient`; every call is a
plain REST request, so the fake GitHub in tests/fakegithub serves it as well.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from ghapp.app.handlers import PullRequest, Services, check_pull_request
from ghapp.app.router import Event, Router
from ghapp.commands.audit import AuditLog
from ghapp.commands.authz import LEVELS, AccessCache, CachedAccess
from ghapp.commands.handlers import CommandHandler
from ghapp.commands.port import PullInfo
from ghapp.core.ownership.evidence import CommitRecord
from ghapp.core.snapshot import Snapshot
from ghapp.github.client import InstallationClient
from ghapp.github.config import load_policy
from ghapp.github.errors import NotFound, Unprocessable
from ghapp.github.history import GitHubHistory
from ghapp.github.snapshot import Caches, GitHubSnapshot, load_changed_files

ACCESS_TTL_SECONDS = 60.0


class ApiPort:
    """CommandPort and Access over the GitHub REST API (one installation client)."""

    def __init__(self, client: InstallationClient, caches: Caches) -> None:
        self.client = client
        self.caches = caches

    async def react(self, repo: str, comment_id: int, content: str) -> None:
        path = f"/repos/{repo}/issues/comments/{comment_id}/reactions"
        await self.client.request("POST", path, json={"content": content})

    async def reply(self, repo: str, pr: int, body: str) -> None:
        await self.client.request(
            "POST", f"/repos/{repo}/issues/{pr}/comments", json={"body": body}
        )

    async def pull(self, repo: str, pr: int) -> PullInfo:
        data = await self.client.request("GET", f"/repos/{repo}/pulls/{pr}")
        return PullInfo(
            pr, str(data["base"]["ref"]), str(data["base"]["sha"]), str(data["head"]["sha"])
        )

    async def changed_files(self, repo: str, pr: int) -> Sequence[str]:
        return (await load_changed_files(self.client, repo, pr)).paths

    async def snapshot(self, repo: str, sha: str) -> Snapshot:
        snapshot = await GitHubSnapshot.load(self.client, repo, sha, self.caches)
        await snapshot.prefetch()  # CODEOWNERS, manifests, config: read without waiting
        return snapshot

    async def team_exists(self, org: str, slug: str) -> bool:
        try:
            await self.client.request("GET", f"/orgs/{org}/teams/{quote(slug)}")
        except NotFound:
            return False
        return True

    async def branch_sha(self, repo: str, branch: str) -> str | None:
        try:
            data = await self.client.request("GET", f"/repos/{repo}/git/ref/heads/{quote(branch)}")
        except NotFound:
            return None
        return str(data["object"]["sha"])

    async def create_branch(self, repo: str, branch: str, sha: str) -> None:
        try:
            body = {"ref": f"refs/heads/{branch}", "sha": sha}
            await self.client.request("POST", f"/repos/{repo}/git/refs", json=body)
        except Unprocessable:
            if await self.branch_sha(repo, branch) is None:  # 422 for another reason
                raise

    async def file_on_branch(self, repo: str, path: str, branch: str) -> tuple[str, str] | None:
        try:
            data = await self.client.request(
                "GET", f"/repos/{repo}/contents/{quote(path)}", params={"ref": branch}
            )
        except NotFound:
            return None
        if not isinstance(data, Mapping) or data.get("type", "file") != "file":
            return None
        text = base64.b64decode(str(data.get("content", ""))).decode("utf-8", errors="replace")
        return text, str(data["sha"])

    async def put_file(
        self, repo: str, path: str, branch: str, text: str, message: str, sha: str | None
    ) -> None:
        body: dict[str, Any] = {
            "message": message,
            "content": base64.b64encode(text.encode()).decode(),
            "branch": branch,
        }
        if sha is not None:
            body["sha"] = sha
        await self.client.request("PUT", f"/repos/{repo}/contents/{quote(path)}", json=body)

    async def find_pull(self, repo: str, branch: str) -> str | None:
        owner = repo.split("/", 1)[0]
        pulls = await self.client.request(
            "GET", f"/repos/{repo}/pulls", params={"head": f"{owner}:{branch}", "state": "open"}
        )
        for pull in pulls or []:
            if (pull.get("head") or {}).get("ref", branch) == branch:
                return str(pull["html_url"])
        return None

    async def open_pull(self, repo: str, branch: str, base: str, title: str, body: str) -> str:
        payload = {"title": title, "head": branch, "base": base, "body": body}
        try:
            data = await self.client.request("POST", f"/repos/{repo}/pulls", json=payload)
        except Unprocessable:  # "A pull request already exists": a concurrent attempt won
            found = await self.find_pull(repo, branch)
            if found is None:
                raise
            return found
        return str(data["html_url"])

    async def history(
        self, repo: str, sha: str, paths: Sequence[str], since: datetime
    ) -> Sequence[CommitRecord]:
        return await GitHubHistory(self.client, self.caches).history(repo, sha, paths, since)

    async def teams(self, org: str, named: Sequence[str]) -> Mapping[str, tuple[str, ...]]:
        return await GitHubHistory(self.client, self.caches).teams(org, named)

    # Access

    async def permission(self, repo: str, user: str) -> str:
        try:
            data = await self.client.request(
                "GET", f"/repos/{repo}/collaborators/{quote(user)}/permission"
            )
        except NotFound:
            return "none"
        role = str(data.get("role_name") or "")  # maintain and triage only show up here
        return role if role in LEVELS else str(data.get("permission") or "none")

    async def is_member(self, org: str, team_slug: str, user: str) -> bool:
        try:
            data = await self.client.request(
                "GET", f"/orgs/{org}/teams/{quote(team_slug)}/memberships/{quote(user)}"
            )
        except NotFound:
            return False
        return bool(data) and data.get("state") == "active"


def register(
    router: Router,
    services: Services,
    audit: AuditLog,
    access_cache: AccessCache | None = None,
) -> None:
    """Route `issue_comment.created` and the `claim-unowned`/`recheck` buttons to commands."""
    cache = access_cache or AccessCache(ACCESS_TTL_SECONDS, time.monotonic)
    slug = services.settings.app_slug
    app_login = f"{slug}[bot]" if slug else "ghapp[bot]"

    async def handler_for(event: Event) -> tuple[CommandHandler, InstallationClient]:
        installation = event.delivery.installation_id
        if installation is None:
            raise ValueError(f"{event.name}: payload has no installation.id")
        client = await services.github.installation(installation)
        port = ApiPort(client, services.caches)

        async def recheck(repo: str, pr: int, installation_id: int | None) -> None:
            data = await client.request("GET", f"/repos/{repo}/pulls/{pr}")
            await check_pull_request(event, PullRequest.from_payload(data))

        async def commands_config(repo: str, base: Snapshot) -> Mapping[str, Any]:
            org_text = await services.org_configs.get(client, repo.split("/", 1)[0])
            return load_policy(base, org_text, services.clock().date()).commands

        handler = CommandHandler(
            port,
            CachedAccess(port, installation, cache),
            audit,
            catalog=services.catalog,
            clock=services.clock,
            recheck=recheck,
            commands_config=commands_config,
            app_login=app_login,
        )
        return handler, client

    async def on_comment(event: Event) -> None:
        handler, client = await handler_for(event)
        async with client:
            await handler.on_comment(event.payload, event.delivery.installation_id)

    async def on_action(event: Event) -> None:
        handler, client = await handler_for(event)
        async with client:
            await handler.on_requested_action(event.payload, event.delivery.installation_id)

    router.add("issue_comment", "created", on_comment, skip_bots=True)
    services.requested_actions["claim-unowned"] = on_action
    services.requested_actions["recheck"] = on_action

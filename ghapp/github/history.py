"""What ownership suggestions need from GitHub: who committed to a path, and who is in a team.

History is the commit list of one path at one commit (`GET /repos/{o}/{r}/commits?path=...`,
one page of 100, newest first), which names the GitHub user of each author when GitHub knows
the email and says when that user is a bot; it does not give lines changed, so every commit
weighs by recency alone. Calls are bounded (MAX_PATHS per request for suggestions) and cached:
a path's commits at a commit never change, and team member lists are kept TEAM_TTL_SECONDS.
Candidate teams are the ones CODEOWNERS and the manifests name, then the organisation's other
teams, at most MAX_TEAMS member lists per organisation.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from ghapp.core.ownership.evidence import CommitRecord
from ghapp.github.client import InstallationClient
from ghapp.github.errors import Forbidden, NotFound
from ghapp.github.snapshot import PER_PAGE, Caches

MAX_PATHS = 20  # history calls for one request for suggestions (a pull request, a command)
MAX_TEAMS = 30  # member lists read per organisation
MAX_MEMBER_PAGES = 3
TEAM_TTL_SECONDS = 600.0
CONCURRENCY = 4


class GitHubHistory:
    """History and team membership over one installation client, through the shared caches."""

    def __init__(
        self,
        client: InstallationClient,
        caches: Caches,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.caches = caches
        self.clock = clock

    async def history(
        self, repo: str, sha: str, paths: Sequence[str], since: datetime
    ) -> list[CommitRecord]:
        """Commits that touched each of the first MAX_PATHS `paths`, reachable from `sha` and
        not older than `since`; a commit touching several paths is one record."""
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one(path: str) -> list[CommitRecord]:
            async with gate:
                return await self._path_history(repo, sha, path, since)

        found = await asyncio.gather(*(one(p) for p in sorted(set(paths))[:MAX_PATHS]))
        merged: dict[str, CommitRecord] = {}
        for records in found:
            for record in records:
                known = merged.get(record.sha)
                if known is not None:
                    record = _with_files(known, record.files)
                merged[record.sha] = record
        return sorted(merged.values(), key=lambda r: r.when, reverse=True)

    async def teams(self, org: str, named: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """Members (logins) of the organisation's teams: the `named` ones (`@org/slug`) first,
        then the others the organisation lists, at most MAX_TEAMS. Teams the app cannot read
        (no `members: read` permission, or gone) are left out."""
        slugs = [t.split("/", 1)[1] for t in named if t.lower().startswith(f"@{org.lower()}/")]
        if len(set(slugs)) < MAX_TEAMS:
            slugs += await self._org_teams(org)
        out: dict[str, tuple[str, ...]] = {}
        for slug in list(dict.fromkeys(s.lower() for s in slugs))[:MAX_TEAMS]:
            members = await self._members(org, slug)
            if members is not None:
                out[f"@{org}/{slug}"] = members
        return out

    async def _path_history(
        self, repo: str, sha: str, path: str, since: datetime
    ) -> list[CommitRecord]:
        day = since.astimezone(UTC).strftime("%Y-%m-%dT00:00:00Z")
        key = ("commits", repo, sha, path, day)
        cached = self.caches.history.get(key)
        if isinstance(cached, list):
            return cached
        try:
            data = await self.client.request(
                "GET",
                f"/repos/{repo}/commits",
                params={"sha": sha, "path": path, "since": day, "per_page": PER_PAGE},
            )
        except (NotFound, Forbidden):
            data = []
        records = [r for item in data or [] if (r := _record(item, path)) is not None]
        self.caches.history.put(key, records)
        return records

    async def _org_teams(self, org: str) -> list[str]:
        key = ("org-teams", self.client.installation_id, org.lower())
        cached = self._fresh(key)
        if cached is not None:
            return list(cached)
        try:
            data = await self.client.request(
                "GET", f"/orgs/{quote(org)}/teams", params={"per_page": PER_PAGE}
            )
        except (NotFound, Forbidden):  # a user account, or no members permission
            data = []
        slugs = tuple(
            str(t["slug"]) for t in data or [] if isinstance(t, Mapping) and t.get("slug")
        )
        self._keep(key, slugs)
        return list(slugs)

    async def _members(self, org: str, slug: str) -> tuple[str, ...] | None:
        key = ("members", self.client.installation_id, org.lower(), slug)
        cached = self._fresh(key)
        if cached is not None:
            return cached or None
        logins: list[str] = []
        try:
            for page in range(1, MAX_MEMBER_PAGES + 1):
                batch = await self.client.request(
                    "GET",
                    f"/orgs/{quote(org)}/teams/{quote(slug)}/members",
                    params={"per_page": PER_PAGE, "page": page},
                )
                logins += [str(u["login"]).lower() for u in batch or [] if u.get("login")]
                if len(batch or []) < PER_PAGE:
                    break
        except (NotFound, Forbidden):
            self._keep(key, ())
            return None
        self._keep(key, tuple(sorted(set(logins))))
        return tuple(sorted(set(logins)))

    def _fresh(self, key: tuple[Any, ...]) -> tuple[str, ...] | None:
        hit = self.caches.teams.get(key)
        if isinstance(hit, tuple) and len(hit) == 2 and hit[0] > self.clock():
            value = hit[1]
            return value if isinstance(value, tuple) else None
        return None

    def _keep(self, key: tuple[Any, ...], value: tuple[str, ...]) -> None:
        self.caches.teams.put(key, (self.clock() + TEAM_TTL_SECONDS, value))


def _record(item: Any, path: str) -> CommitRecord | None:
    """One entry of the commits list as a CommitRecord touching `path` (lines unknown)."""
    if not isinstance(item, Mapping) or not item.get("sha"):
        return None
    commit = item.get("commit") or {}
    author = commit.get("author") or {}
    found = item.get("author")
    user: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    try:
        when = datetime.fromisoformat(str(author.get("date", "")).replace("Z", "+00:00"))
    except ValueError:
        return None
    return CommitRecord(
        sha=str(item["sha"]),
        when=when if when.tzinfo else when.replace(tzinfo=UTC),
        author_name=str(author.get("name") or ""),
        author_email=str(author.get("email") or ""),
        login=str(user["login"]) if user.get("login") else None,
        parents=len(item.get("parents") or []),
        bot=user.get("type") == "Bot",
        files=((path, None),),
    )


def _with_files(record: CommitRecord, files: tuple[tuple[str, int | None], ...]) -> CommitRecord:
    known = dict(record.files)
    return replace(record, files=(*record.files, *((p, n) for p, n in files if p not in known)))

"""The fake's commit history and team membership lists, for ownership suggestions.

`add_authored_commit` seeds a commit with an author (a GitHub user or a bare email) and a
date; commits seeded through `FakeGitHub.add_commit` keep its fixed author and a date in 2023,
so they fall outside any recent window. Served: `GET /repos/{o}/{r}/commits` (`sha`, `path`,
`since`, pagination; newest first; a commit "contains" a path when it changed that file, or a
file below that directory, relative to its first parent), `GET /orgs/{org}/teams` and
`GET /orgs/{org}/teams/{slug}/members`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from weakref import WeakKeyDictionary

from . import shapes
from .server import Ctx, HttpError, _paginate, route
from .state import FakeGitHub

SEEDED_AT = datetime.fromtimestamp(1_700_000_000, UTC)  # the date FakeGitHub.add_commit uses


@dataclass(frozen=True)
class Author:
    name: str
    email: str
    login: str | None  # None: GitHub does not know the email
    when: datetime


_AUTHORS: WeakKeyDictionary[FakeGitHub, dict[str, Author]] = WeakKeyDictionary()


def add_authored_commit(
    fake: FakeGitHub,
    owner: str,
    repo: str,
    files: dict[str, str | bytes | None],
    *,
    login: str | None,
    when: datetime,
    email: str | None = None,
    parent: str | None = None,
    branch: str | None = None,
    message: str | None = None,
) -> str:
    """A commit by `login` (or by an email GitHub cannot match, when login is None) at `when`."""
    email = email or f"{login}@acme.dev"
    message = message or f"change by {login or email} at {when.isoformat()}"
    sha = fake.add_commit(owner, repo, files, parent=parent, branch=branch, message=message)
    with fake.lock:
        if login is not None:
            fake.users.setdefault(login, "Bot" if login.endswith("[bot]") else "User")
        _AUTHORS.setdefault(fake, {})[sha] = Author(login or email, email, login, when)
    return sha


def _author(fake: FakeGitHub, sha: str) -> Author:
    default = Author("Octo Cat", "octocat@example.com", None, SEEDED_AT)
    return _AUTHORS.get(fake, {}).get(sha, default)


def _touches(fake: FakeGitHub, sha: str, path: str) -> bool:
    commit = fake.commits[sha]
    before = fake.commits[commit.parents[0]].files if commit.parents else {}
    changed = {p for p in set(before) | set(commit.files) if before.get(p) != commit.files.get(p)}
    prefix = path.rstrip("/") + "/"
    return any(p == path or p.startswith(prefix) for p in changed)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def commit_item(ctx: Ctx, sha: str) -> dict[str, Any]:
    """A commit as the commits list shows it (GitHub's `commit` schema)."""
    fake, repo = ctx.fake, ctx.repo
    api = f"{ctx.base}/repos/{repo.full_name}"
    author = _author(fake, sha)
    who = {"name": author.name, "email": author.email, "date": _iso(author.when)}
    user = None
    if author.login is not None:
        user = shapes.user(ctx.base, author.login, fake.users.get(author.login, "User"))
    git = shapes.commit(ctx.base, repo, fake.commits[sha])
    return {
        "url": f"{api}/commits/{sha}",
        "sha": sha,
        "node_id": shapes.node_id("Commit", sha),
        "html_url": f"{ctx.base}/{repo.full_name}/commit/{sha}",
        "comments_url": f"{api}/commits/{sha}/comments",
        "commit": {
            "url": git["url"],
            "author": who,
            "committer": who,
            "message": git["message"],
            "comment_count": 0,
            "tree": git["tree"],
            "verification": git["verification"],
        },
        "author": user,
        "committer": user,
        "parents": git["parents"],
    }


@route("GET", "/repos/{owner}/{repo}/commits")
def list_commits(ctx: Ctx) -> tuple[int, Any]:
    fake = ctx.fake
    start = fake.resolve(ctx.repo, ctx.query.get("sha"))
    if start is None:
        raise HttpError(404, "No commit found for SHA: " + str(ctx.query.get("sha")))
    since = ctx.query.get("since")
    cutoff = datetime.fromisoformat(since.replace("Z", "+00:00")) if since else None
    seen: set[str] = set()
    todo = [start]
    while todo:
        sha = todo.pop()
        if sha in seen:
            continue
        seen.add(sha)
        todo.extend(fake.commits[sha].parents)
    path = ctx.query.get("path")
    found = [
        sha
        for sha in seen
        if (path is None or _touches(fake, sha, path))
        and (cutoff is None or _author(fake, sha).when >= cutoff)
    ]
    found.sort(key=lambda sha: (_author(fake, sha).when, sha), reverse=True)
    return 200, [commit_item(ctx, sha) for sha in _paginate(ctx, found)]


@route("GET", "/orgs/{org}/teams")
def list_org_teams(ctx: Ctx) -> tuple[int, Any]:
    org = ctx.params["org"]
    slugs = sorted(slug for (owner, slug) in ctx.fake.teams if owner == org)
    return 200, [shapes.team_simple(ctx.base, ctx.fake, org, s) for s in _paginate(ctx, slugs)]


@route("GET", "/orgs/{org}/teams/{team_slug}/members")
def list_team_members(ctx: Ctx) -> tuple[int, Any]:
    key = (ctx.params["org"], ctx.params["team_slug"])
    if key not in ctx.fake.teams:
        raise HttpError(404, "Not Found")
    logins = sorted(ctx.fake.teams[key])
    return 200, [shapes.user(ctx.base, login) for login in _paginate(ctx, logins)]

"""History and team membership through the fake GitHub: the fake's answers parse with githubkit's
models, and `GitHubHistory` reads them with bounded, cached calls."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from githubkit import GitHub

from ghapp.core.ownership.evidence import CommitRecord
from ghapp.github.client import GitHubFactory
from ghapp.github.history import GitHubHistory
from ghapp.github.snapshot import Caches
from ghapp.settings import Settings
from tests.e2e.test_fake_github import client
from tests.fakegithub import FakeGitHub, add_authored_commit
from tests.fakegithub.harness import APP_ID, INSTALLATION_ID, WEBHOOK_SECRET, ServerThread

pytestmark = pytest.mark.e2e
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def shop(fake: FakeGitHub) -> str:
    """acme/shop: alice and bob on billing, a bot, an unknown email, and an old commit."""
    fake.add_repo("acme", "shop", INSTALLATION_ID)
    fake.add_team("acme", "billing", {"alice": "member", "bob": "maintainer"})
    fake.add_team("acme", "platform", {"carol": "member"})
    sha = fake.add_commit("acme", "shop", {"README.md": "hi\n"}, branch="main")  # 2023
    steps: list[tuple[str | None, str, dict[str, str | bytes | None]]] = [
        ("alice", "", {"billing/main.py": "1\n"}),
        ("bob", "", {"billing/main.py": "2\n", "billing/util.py": "u\n"}),
        ("dependabot[bot]", "", {"billing/main.py": "3\n"}),
        (None, "who@elsewhere.example", {"billing/util.py": "v\n"}),
        ("carol", "", {"README.md": "hello\n"}),
    ]
    for days, (login, email, files) in enumerate(steps):
        sha = add_authored_commit(
            fake, "acme", "shop", files, login=login, email=email or None,
            when=NOW - timedelta(days=10 - days), parent=sha, branch="main",
        )  # fmt: skip
    return sha


@pytest.fixture
def gh(fake_server: ServerThread, app_key: tuple[str, str]) -> Iterator[GitHub]:
    with client(fake_server.url, app_key[0]) as github:
        yield github


def test_commits_for_a_path_parse_with_githubkit_and_are_newest_first(
    gh: GitHub, shop: str
) -> None:
    since = (NOW - timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    commits = gh.rest.repos.list_commits(
        "acme", "shop", sha="main", path="billing/main.py", since=since
    ).parsed_data
    logins = [c.author.login if c.author else None for c in commits]
    assert logins == ["dependabot[bot]", "bob", "alice"]
    assert commits[0].author is not None and commits[0].author.type == "Bot"
    everything = gh.rest.repos.list_commits("acme", "shop", sha=shop).parsed_data
    assert len(everything) == 6  # the 2023 commit too, without `since`
    directory = gh.rest.repos.list_commits("acme", "shop", path="billing", since=since)
    assert len(directory.parsed_data) == 4


def test_teams_and_members_parse_with_githubkit(gh: GitHub, shop: str) -> None:
    teams = gh.rest.teams.list("acme").parsed_data
    assert [t.slug for t in teams] == ["billing", "platform"]
    members = gh.rest.teams.list_members_in_org("acme", "billing").parsed_data
    assert [m.login for m in members] == ["alice", "bob"]


def test_github_history_merges_paths_and_caches_what_does_not_change(
    fake: FakeGitHub, fake_server: ServerThread, app_key: tuple[str, str], shop: str
) -> None:
    settings = Settings(
        app_id=APP_ID,
        private_key=app_key[0],
        webhook_secret=WEBHOOK_SECRET,
        github_api_url=fake_server.url,
    )
    caches = Caches()

    async def read() -> tuple[list[CommitRecord], dict[str, tuple[str, ...]]]:
        factory = GitHubFactory(settings)
        async with await factory.installation(INSTALLATION_ID) as c:
            history = GitHubHistory(c, caches)
            paths = ["billing/main.py", "billing/util.py"]
            records = await history.history("acme/shop", shop, paths, NOW - timedelta(days=365))
            teams = await history.teams("acme", ["@acme/billing"])
            return list(records), teams

    records, teams = asyncio.run(read())
    by_sha = {r.sha: r for r in records}
    bob = next(r for r in by_sha.values() if r.login == "bob")
    assert sorted(p for p, _ in bob.files) == ["billing/main.py", "billing/util.py"]
    bot = next(r for r in by_sha.values() if r.bot)
    assert bot.login == "dependabot[bot]"
    unknown = next(r for r in by_sha.values() if r.login is None)
    assert unknown.author_email == "who@elsewhere.example"
    assert teams == {"@acme/billing": ("alice", "bob"), "@acme/platform": ("carol",)}
    calls = len(fake.calls)
    asyncio.run(read())  # the same commit and fresh team lists: only the token is fetched again
    again = [c.path for c in fake.calls[calls:]]
    assert all("/access_tokens" in p for p in again), again

"""Comment commands end to end: a real `Processor` with `ghapp.commands.register` wired in,
talking HTTP to the fake GitHub on loopback (the fake validates request bodies against GitHub's
schemas when ../shared is present). Deliveries are handed to the processor directly, so this
runs whether or not `ghapp serve` wires the commands in yet."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from ghapp.app.delivery import Delivery
from ghapp.app.processor import Processor
from ghapp.commands.audit import MemoryAuditLog
from ghapp.commands.register import register
from ghapp.core.ownership.codeowners import CodeOwners
from ghapp.github.client import GitHubFactory
from ghapp.rules import default_catalog
from ghapp.settings import Settings
from tests.fakegithub import FakeGitHub
from tests.fakegithub.harness import APP_ID, INSTALLATION_ID, WEBHOOK_SECRET, ServerThread
from tests.fakegithub.state import PullRequest

pytestmark = pytest.mark.e2e

CODEOWNERS = "* @acme/platform\n/services/ @acme/services\n/services/pay/legacy/ @acme/legacy\n"
MANIFEST = (
    "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: pay\n"
    "spec:\n  type: service  # no owner yet\n"
)


@pytest.fixture
def seeded(fake: FakeGitHub) -> PullRequest:
    fake.add_repo("acme", "shop", INSTALLATION_ID)
    fake.add_team("acme", "payments", {"dev": "member"})
    fake.add_collaborator("acme", "shop", "dev", "write")
    fake.add_collaborator("acme", "shop", "boss", "admin")
    base = fake.add_commit(
        "acme",
        "shop",
        {
            ".github/CODEOWNERS": CODEOWNERS,
            "services/pay/catalog-info.yaml": MANIFEST,
            "services/pay/main.py": "print()\n",
            "services/pay/legacy/old.py": "",
        },
        branch="main",
    )
    fake.add_commit(
        "acme", "shop", {"services/pay/new.py": "x = 1\n"}, parent=base, branch="feature"
    )
    return fake.open_pull("acme", "shop", "feature")


def _no_evaluation(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("no command in these tests should evaluate the PR")


def deliver(
    fake_server: ServerThread,
    app_key: tuple[str, str],
    audit: MemoryAuditLog,
    deliveries: list[tuple[str, dict[str, Any]]],
) -> None:
    settings = Settings(
        app_id=APP_ID,
        private_key=app_key[0],
        webhook_secret=WEBHOOK_SECRET,
        github_api_url=fake_server.url,
        app_slug="ghapp",
    )

    async def main() -> None:
        processor = Processor(
            settings,
            GitHubFactory(settings),
            catalog=default_catalog(),
            clock=lambda: datetime(2026, 3, 1, tzinfo=UTC),
            evaluator=_no_evaluation,  # these commands do not re-evaluate
        )
        register(processor.router, processor.services, audit)
        for i, (event, payload) in enumerate(deliveries):
            await processor.process(
                Delivery(
                    f"d-{i}",
                    event,
                    payload.get("action"),
                    INSTALLATION_ID,
                    "acme/shop",
                    json.dumps(payload).encode(),
                    datetime(2026, 3, 1, tzinfo=UTC),
                )
            )

    asyncio.run(main())


def comment(
    fake: FakeGitHub, pr: PullRequest, body: str, login: str = "dev", comment_id: int = 9001
) -> tuple[str, dict[str, Any]]:
    """The comment as the fake stores it (so reactions find it) and its webhook delivery."""
    with fake.lock:
        if not any(c["id"] == comment_id for c in fake.issue_comments):
            fake.issue_comments.append(
                {
                    "id": comment_id,
                    "repo": pr.repo,
                    "number": pr.number,
                    "body": body,
                    "user": login,
                    "created_at": "2026-03-01T00:00:00Z",
                    "updated_at": "2026-03-01T00:00:00Z",
                    "edits": 0,
                }
            )
    return "issue_comment", {
        "action": "created",
        "issue": {"number": pr.number, "pull_request": {"url": "x"}},
        "comment": {"id": comment_id, "body": body, "user": {"login": login}},
        "repository": {"full_name": "acme/shop", "name": "shop", "owner": {"login": "acme"}},
        "sender": {"login": login, "type": "User"},
        "installation": {"id": INSTALLATION_ID},
    }


def test_claim_ownership_opens_one_pr_through_the_api(
    fake: FakeGitHub, fake_server: ServerThread, app_key: tuple[str, str], seeded: PullRequest
) -> None:
    audit = MemoryAuditLog()
    claim = comment(fake, seeded, "/claim-ownership pay @acme/payments")
    deliver(fake_server, app_key, audit, [claim, claim])  # the second is a duplicate delivery
    with fake.lock:
        opened = [p for (repo, _n), p in fake.pulls.items() if p.head_ref.startswith("ghapp/")]
        assert len(opened) == 1
        pull = opened[0]
        assert (pull.head_ref, pull.base_ref) == ("ghapp/claim-9001", "main")
        files = fake.commits[fake.repos["acme/shop"].branches["ghapp/claim-9001"]].files
        codeowners = fake.blobs[files[".github/CODEOWNERS"]].decode()
        manifest = fake.blobs[files["services/pay/catalog-info.yaml"]].decode()
        assert fake.repos["acme/shop"].branches["main"] == seeded.base_sha  # base untouched
        contents = [r["content"] for r in fake.reactions]
        replies = [c["body"] for c in fake.issue_comments if c["user"] == "ghapp[bot]"]
        violations = list(fake.schema_violations)
    table = CodeOwners.from_text(codeowners)
    assert table.owners_of("services/pay/main.py").owners == ("@acme/payments",)  # type: ignore[union-attr]
    assert table.owners_of("services/pay/legacy/old.py").owners == ("@acme/legacy",)  # type: ignore[union-attr]
    assert manifest == MANIFEST.replace("spec:\n", "spec:\n  owner: group:payments\n")
    assert contents == ["eyes", "+1"]  # GitHub keeps one reaction per content and user
    assert len(replies) == 2 and all("/pull/" in r for r in replies)
    assert [e.outcome for e in audit.entries] == ["accepted", "accepted"]
    assert violations == []


def test_unauthorised_waiver_is_refused_and_owners_answers(
    fake: FakeGitHub, fake_server: ServerThread, app_key: tuple[str, str], seeded: PullRequest
) -> None:
    audit = MemoryAuditLog()
    deliver(
        fake_server,
        app_key,
        audit,
        [
            comment(
                fake, seeded, '/waive scan/missing-sast --until 2026-04-01 --reason "x"', "dev", 1
            ),
            comment(fake, seeded, "/owners", "outsider", 2),
        ],
    )
    with fake.lock:
        replies = [c["body"] for c in fake.issue_comments if c["user"] == "ghapp[bot]"]
        contents = [r["content"] for r in fake.reactions]
    assert "may not run /waive" in replies[0]
    assert "| `services/pay/new.py` (not on the base branch) | @acme/services |" in replies[1]
    assert contents == ["eyes", "-1", "eyes", "+1"]
    assert [(e.command, e.outcome) for e in audit.entries] == [
        ("waive", "refused"),
        ("owners", "accepted"),
    ]

"""Comment commands through the real `ghapp serve`: signed `issue_comment` webhooks in, one claim
PR out for a duplicate delivery, a refusal for an unauthorised user, and both recorded in the
durable audit log that `ghapp audit` reads."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ghapp.core.ownership.codeowners import CodeOwners
from tests.e2e.conftest import RunningApp
from tests.e2e.test_comment_commands import MANIFEST, comment, seeded  # noqa: F401 (fixture)
from tests.fakegithub import FakeGitHub
from tests.fakegithub.harness import wait_for, wait_quiet
from tests.fakegithub.state import PullRequest

pytestmark = pytest.mark.e2e


def bot_replies(fake: FakeGitHub) -> list[str]:
    with fake.lock:
        return [c["body"] for c in fake.issue_comments if c["user"] == "ghapp[bot]"]


def test_claim_and_refusal_through_the_served_app(
    ghapp: RunningApp,
    fake: FakeGitHub,
    seeded: PullRequest,  # noqa: F811
) -> None:
    event, claim = comment(fake, seeded, "/claim-ownership pay @acme/payments")
    for _ in range(2):  # GitHub redelivers with the same id: acknowledged, not run twice
        answer = ghapp.send(event, claim, "comment-9001")
        assert answer.status_code in (200, 202), answer.text
    event, waive = comment(
        fake, seeded, '/waive k8s/privileged --until 2099-01-01 --reason "x"', "dev", 9002
    )
    assert ghapp.send(event, waive, "comment-9002").status_code == 202
    wait_for(lambda: len(bot_replies(fake)) >= 2, timeout=30, what="two command replies")
    wait_quiet(fake)

    with fake.lock:
        opened = [p for p in fake.pulls.values() if p.head_ref.startswith("ghapp/")]
        assert len(opened) == 1
        files = fake.commits[fake.repos["acme/shop"].branches[opened[0].head_ref]].files
        codeowners = fake.blobs[files[".github/CODEOWNERS"]].decode()
        violations = list(fake.schema_violations)
    table = CodeOwners.from_text(codeowners)
    assert table.owners_of("services/pay/main.py").owners == ("@acme/payments",)  # type: ignore[union-attr]
    replies = bot_replies(fake)
    assert len(replies) == 2
    assert any("/pull/" in r for r in replies)
    assert any("may not run /waive" in r for r in replies)
    assert violations == []

    env = ghapp.process.env
    audit = subprocess.run(
        [sys.executable, "-m", "ghapp", "audit", "--repo", "acme/shop", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert audit.returncode == 0, audit.stderr
    entries = json.loads(audit.stdout)
    outcomes = sorted((e["command"], e["outcome"]) for e in entries)
    assert outcomes == [("claim-ownership", "accepted"), ("waive", "refused")]

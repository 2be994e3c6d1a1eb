"""A pull request that adds a CODEOWNERS line for a team that does not exist: the app asks
GitHub's own CODEOWNERS check (one call, only because CODEOWNERS changed) and reports the owner
as a new `codeowners/unknown-owner` annotation on that line."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import INSTALLATION_ID, RunningApp
from tests.fakegithub import FakeGitHub
from tests.fakegithub.harness import completed_check_run, wait_for, wait_quiet

pytestmark = pytest.mark.e2e

BASE = "* @acme/platform\n/docs/ @docs-writer\n"


def test_unknown_team_added_to_codeowners_is_annotated(ghapp: RunningApp, fake: FakeGitHub) -> None:
    fake.add_repo("acme", "shop", INSTALLATION_ID)
    fake.add_team("acme", "platform", {"lead": "maintainer"})
    fake.add_user("docs-writer")
    base = fake.add_commit(
        "acme", "shop", {".github/CODEOWNERS": BASE, "docs/a.md": "# a\n"}, branch="main"
    )
    head_text = BASE + "/services/ @acme/ghosts\n"
    fake.add_commit("acme", "shop", {".github/CODEOWNERS": head_text}, parent=base, branch="own")
    pr = fake.open_pull("acme", "shop", "own", title="Own services", user="lead")

    answer = ghapp.send("pull_request", ghapp.pull_request(pr, "opened"), "owners-1")
    assert answer.status_code == 202, answer.text
    run = wait_for(lambda: completed_check_run(fake, pr.head_sha), timeout=30, what="check run")
    wait_quiet(fake)

    annotations = run["annotations"]
    unknown = [a for a in annotations if "codeowners/unknown-owner" in a.get("title", "")]
    assert [(a["path"], a["start_line"]) for a in unknown] == [(".github/CODEOWNERS", 3)]
    assert "@acme/ghosts" in unknown[0]["message"]
    with fake.lock:
        asked = [c for c in fake.calls if c.path.endswith("/codeowners/errors")]
        assert len(asked) == 1 and not fake.unknown_calls()

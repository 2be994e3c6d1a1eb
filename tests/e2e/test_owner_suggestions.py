"""Owner suggestions through the real `ghapp serve`: a pull request touching files nobody owns
gets the suggested team, its evidence and the exact CODEOWNERS line in the check run and in a
review comment; `/owners suggest` answers the same; history and teams come from the fake's API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.conftest import RunningApp
from tests.e2e.test_comment_commands import comment
from tests.e2e.test_comment_commands_served import bot_replies
from tests.fakegithub import FakeGitHub, add_authored_commit
from tests.fakegithub.harness import INSTALLATION_ID, completed_check_run, wait_for, wait_quiet
from tests.fakegithub.state import PullRequest

pytestmark = pytest.mark.e2e

CODEOWNERS = "/.github/ @acme/platform\n/services/pay/ @acme/payments\n"
CONFIG = "version: 1\nowners:\n  require: ['services/**']\npublish:\n  review_comments: true\n"
LINE = "/services/billing/ @acme/billing"


@pytest.fixture
def billing(fake: FakeGitHub) -> PullRequest:
    """services/billing/ written mostly by the billing team (alice, bob) and unowned; the PR
    changes it and adds a file there."""
    now = datetime.now(UTC).replace(microsecond=0)
    fake.add_repo("acme", "shop", INSTALLATION_ID)
    fake.add_team("acme", "billing", {"alice": "member", "bob": "maintainer"})
    fake.add_team("acme", "payments", {"carol": "member"})
    fake.add_team("acme", "platform", {"root": "member"})
    fake.add_collaborator("acme", "shop", "alice", "write")
    sha = fake.add_commit(
        "acme",
        "shop",
        {
            ".github/CODEOWNERS": CODEOWNERS,
            ".github/ghapp.yml": CONFIG,
            "services/pay/app.py": "pay\n",
        },
        branch="main",
    )
    authors = ["alice", "bob", "alice", "carol", "bob", "dependabot[bot]", "alice"]
    for day, login in enumerate(authors):
        sha = add_authored_commit(
            fake, "acme", "shop", {"services/billing/main.py": f"v{day}\n"},
            login=login, when=now - timedelta(days=40 - day), parent=sha, branch="main",
        )  # fmt: skip
    add_authored_commit(
        fake, "acme", "shop",
        {"services/billing/main.py": "v9\n", "services/billing/api.py": "def api(): ...\n"},
        login="alice", when=now - timedelta(hours=1), parent=sha, branch="feature",
    )  # fmt: skip
    return fake.open_pull("acme", "shop", "feature", title="Billing API", user="alice")


def test_the_check_run_and_a_review_comment_carry_the_suggestion_and_the_exact_line(
    ghapp: RunningApp, billing: PullRequest
) -> None:
    fake = ghapp.fake
    answer = ghapp.send("pull_request", ghapp.pull_request(billing, "opened"), "suggest-1")
    assert answer.status_code in (200, 202), answer.text
    run = wait_for(
        lambda: completed_check_run(fake, billing.head_sha),
        timeout=30,
        what=f"a completed check run\n{ghapp.process.log()[-3000:]}",
    )
    wait_quiet(fake)
    # main.py was unowned before this PR (an existing finding): the summary lists it;
    # api.py is new: annotated as well.
    summary = run["output"]["summary"] + (run["output"].get("text") or "")
    assert "`services/billing/main.py` has no code owner" in summary
    assert "Suggested owner: `@acme/billing`" in summary
    annotations = {a["path"]: a["message"] for a in run["annotations"]}
    api = annotations["services/billing/api.py"]
    assert "Suggested owner: `@acme/billing`" in api
    assert "by members of `@acme/billing` (alice, bob)" in api
    assert f"Fix: Add `{LINE}` at the end of .github/CODEOWNERS." in api
    with fake.lock:
        comments = {(c["path"], c["line"]): c["body"] for c in fake.review_comments}
        calls = [c.path for c in fake.calls]
        violations = list(fake.schema_violations)
    body = comments[("services/billing/api.py", 1)]  # a new file: commented on its first line
    assert "Suggested owner: `@acme/billing`" in body and f"`{LINE}`" in body
    assert "/repos/acme/shop/commits" in calls and "/orgs/acme/teams/billing/members" in calls
    assert violations == [] and fake.unknown_calls() == []


def test_owners_suggest_through_the_served_app(ghapp: RunningApp, billing: PullRequest) -> None:
    fake = ghapp.fake
    event, payload = comment(fake, billing, "/owners suggest", login="alice", comment_id=77)
    assert ghapp.send(event, payload, "comment-77").status_code in (200, 202)
    wait_for(lambda: bot_replies(fake), timeout=30, what="a reply to /owners suggest")
    (reply,) = bot_replies(fake)
    assert "- `/services/billing/` (2 files): `@acme/billing`, score" in reply
    assert f"add `{LINE}` at the end of `.github/CODEOWNERS`" in reply
    assert "or comment `/claim-ownership @acme/billing`" in reply

"""`/owners suggest` and `/claim-ownership` choosing the suggested team, against a fake port."""

from __future__ import annotations

from datetime import timedelta

from ghapp.core.ownership.evidence import CommitRecord
from tests.test_command_handlers import BASE_FILES, World

CODEOWNERS = "/services/pay/ @acme/payments\n/docs/generated/\n"
FILES = {
    **BASE_FILES,
    ".github/CODEOWNERS": CODEOWNERS,
    "tools/deploy.sh": "",
    "tools/lint.sh": "",
    "docs/generated/api.md": "",
}
CHANGED = ("tools/deploy.sh", "tools/new.sh", "docs/generated/api.md")


def world_with_history(*authors: str) -> World:
    """tools/ written by `authors` (GitHub logins) over the last weeks; pay-dev is in
    @acme/payments and @acme/platform, dev in @acme/payments only."""
    world = World(FILES, changed=CHANGED)
    for i, login in enumerate(authors):
        world.port.commits.append(
            CommitRecord(
                f"c{i}",
                world.now - timedelta(days=3 + i),
                login,
                f"{login}@users.noreply.github.com",
                login=login,
                files=(("tools/deploy.sh", None), ("tools/new.sh", None)),
            )
        )
    world.port.members = {
        "@acme/payments": ("dev", "pay-dev"),
        "@acme/platform": ("pay-dev", "ops"),
        "@acme/tools": ("toolsmith",),
    }
    return world


def test_owners_suggest_replies_with_the_line_and_its_evidence() -> None:
    world = world_with_history("toolsmith", "toolsmith", "toolsmith", "ops")
    world.comment("/owners suggest")
    (reply,) = world.port.replies
    assert "**Owner suggestions**" in reply
    assert "- `/tools/` (3 files): `@acme/tools`, score" in reply
    assert "3 of 4 commits in the last 365 days by members of @&#8203;acme/tools" in reply
    assert "add `/tools/ @acme/tools` at the end of `.github/CODEOWNERS`" in reply
    assert "or comment `/claim-ownership @acme/tools`" in reply
    assert "- `docs/generated/api.md`: deliberately unowned (CODEOWNERS line 2" in reply
    assert world.port.reactions == ["eyes", "+1"]
    (entry,) = world.audit.entries
    assert (entry.command, entry.arguments, entry.outcome) == ("owners", ("suggest",), "accepted")


def test_owners_suggest_escapes_what_the_pull_request_controls() -> None:
    files = {**FILES, "x`@boss <img>.sh": ""}
    world = World(files, changed=("x`@boss <img>.sh",))
    world.comment("/owners suggest")
    (reply,) = world.port.replies
    shown = "``/x`@boss\\ <img>.sh``"  # a longer fence: the backtick inside cannot close it
    assert shown in reply
    outside = reply.replace(shown, "")
    assert "@boss" not in outside and "<img" not in outside


def test_owners_suggest_for_owned_paths_says_so() -> None:
    world = World(FILES, changed=CHANGED)
    world.comment("/owners suggest services/pay/main.py")
    assert "every file asked about has an owner (`services/pay/main.py`)" in world.port.replies[0]


def test_claim_without_a_team_claims_for_the_one_suggested_team_the_commenter_is_in() -> None:
    world = world_with_history("dev", "dev", "toolsmith")
    world.access.members["acme/tools"] = {"toolsmith"}
    world.comment("/claim-ownership", login="dev")
    (pull,) = world.port.pulls
    assert world.owners_in_pr(pull["head"], "tools/new.sh") == ("@acme/payments",)
    assert (
        "`@acme/payments` is suggested for these files and you are in it" in world.port.replies[0]
    )


def test_claim_without_a_team_by_a_member_of_two_suggested_teams_asks_which() -> None:
    world = world_with_history("pay-dev", "ops", "pay-dev")
    world.comment("/claim-ownership", login="pay-dev")
    assert world.port.pulls == []
    # platform first: ops wrote for it alone, pay-dev's commits count half for each team
    assert (
        "several teams suggested for these files (`@acme/platform`, `@acme/payments`)"
        in (world.port.replies[0])
    )
    assert world.port.reactions[-1] == "-1"


def test_claim_without_a_team_falls_back_to_codeowners_teams_without_suggestions() -> None:
    world = World(FILES, changed=("tools/new.sh",))  # no history at all
    world.comment("/claim-ownership", login="dev")  # dev is only in @acme/payments
    (pull,) = world.port.pulls
    assert world.owners_in_pr(pull["head"], "tools/new.sh") == ("@acme/payments",)
    assert "suggested" not in world.port.replies[0]

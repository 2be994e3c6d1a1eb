"""Running comment commands against a fake GitHub port: what is replied, reacted, opened, audited."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

import pytest

from ghapp.commands.audit import MemoryAuditLog
from ghapp.commands.handlers import REPLY_MARKER, CommandHandler
from ghapp.commands.port import PullInfo
from ghapp.core.ownership.codeowners import CodeOwners
from ghapp.core.ownership.evidence import CommitRecord
from ghapp.core.snapshot import DictSnapshot, Snapshot
from ghapp.core.yamlnodes import load_document
from ghapp.rules import default_catalog
from tests.test_command_authz import FakeAccess
from tests.test_escape import assert_inert, visible

REPO = "acme/shop"
BASE_SHA = "b" * 40
CODEOWNERS = """\
# Default owners
* @acme/platform

/services/ @acme/services
/services/pay/legacy/ @acme/legacy
"""
PAY_MANIFEST = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: pay
spec:
  type: service   # owner to be decided
  lifecycle: production
"""
BASE_FILES = {
    ".github/CODEOWNERS": CODEOWNERS,
    "README.md": "hi",
    "services/pay/catalog-info.yaml": PAY_MANIFEST,
    "services/pay/main.py": "",
    "services/pay/legacy/old.py": "",
    "services/cart/main.py": "",
}


class FakePort:
    """Just enough GitHub: one PR, its base commit, branches, files on branches, pulls."""

    def __init__(self, files: dict[str, str], changed: Sequence[str]) -> None:
        self.base = DictSnapshot(files)
        self.changed = list(changed)
        self.branches: dict[str, str] = {"main": BASE_SHA}
        self.branch_files: dict[tuple[str, str], str] = {}
        self.pulls: list[dict[str, str]] = []
        self.replies: list[str] = []
        self.reactions: list[str] = []
        self.calls: list[str] = []
        self.commits: list[CommitRecord] = []  # history, for owner suggestions
        self.members: dict[str, tuple[str, ...]] = {}  # "@org/team" -> logins

    async def react(self, repo: str, comment_id: int, content: str) -> None:
        self.reactions.append(content)

    async def reply(self, repo: str, pr: int, body: str) -> None:
        self.replies.append(body)

    async def pull(self, repo: str, pr: int) -> PullInfo:
        self.calls.append("pull")
        return PullInfo(pr, "main", BASE_SHA, "h" * 40)

    async def changed_files(self, repo: str, pr: int) -> Sequence[str]:
        return self.changed

    async def snapshot(self, repo: str, sha: str) -> Snapshot:
        self.calls.append("snapshot")
        return self.base

    async def team_exists(self, org: str, slug: str) -> bool:
        return slug in {"payments", "platform", "services", "legacy", "docs"}

    async def branch_sha(self, repo: str, branch: str) -> str | None:
        return self.branches.get(branch)

    async def create_branch(self, repo: str, branch: str, sha: str) -> None:
        assert branch not in self.branches, "ref already exists (422)"
        self.branches[branch] = sha

    async def file_on_branch(self, repo: str, path: str, branch: str) -> tuple[str, str] | None:
        if (branch, path) in self.branch_files:
            return self.branch_files[(branch, path)], f"sha-{path}"
        data = self.base.read(path)
        return (data.decode(), f"sha-{path}") if data is not None else None

    async def put_file(
        self, repo: str, path: str, branch: str, text: str, message: str, sha: str | None
    ) -> None:
        assert branch != "main", "never write to the base branch"
        self.branch_files[(branch, path)] = text

    async def find_pull(self, repo: str, branch: str) -> str | None:
        return next((p["url"] for p in self.pulls if p["head"] == branch), None)

    async def open_pull(self, repo: str, branch: str, base: str, title: str, body: str) -> str:
        url = f"https://github.com/{repo}/pull/{100 + len(self.pulls)}"
        self.pulls.append({"head": branch, "base": base, "title": title, "body": body, "url": url})
        return url

    async def history(
        self, repo: str, sha: str, paths: Sequence[str], since: datetime
    ) -> Sequence[CommitRecord]:
        wanted = set(paths)
        return [c for c in self.commits if wanted & {p for p, _ in c.files} and c.when >= since]

    async def teams(self, org: str, named: Sequence[str]) -> dict[str, tuple[str, ...]]:
        return dict(self.members)


class World:
    def __init__(
        self,
        files: dict[str, str] | None = None,
        changed: Sequence[str] = ("services/pay/main.py",),
        commands: dict[str, Any] | None = None,
        today: date = date(2026, 3, 1),
    ) -> None:
        self.port = FakePort(files or BASE_FILES, changed)
        self.access = FakeAccess(
            roles={"root": "admin", "dev": "write"},
            members={"acme/payments": {"dev", "pay-dev"}, "acme/platform": {"pay-dev"}},
        )
        self.audit = MemoryAuditLog()
        self.rechecks: list[tuple[str, int]] = []
        self.now = datetime(today.year, today.month, today.day, 12, tzinfo=UTC)

        async def recheck(repo: str, pr: int, installation: int | None) -> None:
            self.rechecks.append((repo, pr))

        async def config(repo: str, base: Snapshot) -> dict[str, Any]:
            return commands or {}

        self.handler = CommandHandler(
            self.port,
            self.access,
            self.audit,
            catalog=default_catalog(),
            clock=lambda: self.now,
            recheck=recheck,
            commands_config=config,
        )

    def comment(self, body: str, login: str = "dev", comment_id: int = 555, **extra: Any) -> int:
        payload: dict[str, Any] = {
            "action": "created",
            "issue": {"number": 7, "pull_request": {"url": "x"}},
            "comment": {"id": comment_id, "body": body, "user": {"login": login}},
            "repository": {"full_name": REPO},
            "sender": {"login": login, "type": "User"},
        }
        payload.update(extra)
        return asyncio.run(self.handler.on_comment(payload, 1))

    def owners_in_pr(self, branch: str, path: str) -> tuple[str, ...]:
        text = self.port.branch_files[(branch, ".github/CODEOWNERS")]
        match = CodeOwners.from_text(text).owners_of(path)
        return match.owners if match else ()


# --- claims -----------------------------------------------------------------------------


def test_authorised_claim_of_a_service_opens_one_pr_editing_codeowners_and_manifest() -> None:
    world = World()
    assert world.comment("/claim-ownership pay @acme/payments") == 1
    (pull,) = world.port.pulls
    assert pull["head"] == "ghapp/claim-555" and pull["base"] == "main"
    assert world.port.branches["ghapp/claim-555"] == BASE_SHA
    branch = "ghapp/claim-555"
    assert world.owners_in_pr(branch, "services/pay/main.py") == ("@acme/payments",)
    assert world.owners_in_pr(branch, "services/pay/legacy/old.py") == ("@acme/legacy",)
    assert world.owners_in_pr(branch, "services/cart/main.py") == ("@acme/services",)
    # The manifest had no owner: spec.owner is added, the rest of the file kept as written.
    manifest = world.port.branch_files[(branch, "services/pay/catalog-info.yaml")]
    assert manifest == PAY_MANIFEST.replace("spec:\n", "spec:\n  owner: group:payments\n")
    assert load_document(manifest)["spec"]["owner"] == "group:payments"
    assert world.port.reactions == ["eyes", "+1"]
    (reply,) = world.port.replies
    assert pull["url"] in reply and reply.startswith(REPLY_MARKER)
    (entry,) = world.audit.entries
    assert (entry.actor, entry.command, entry.outcome, entry.pr) == (
        "dev",
        "claim-ownership",
        "accepted",
        7,
    )
    assert entry.arguments == ("pay", "@acme/payments")
    assert entry.data["pull"] == pull["url"]


def test_unauthorised_claim_is_refused_and_audited() -> None:
    world = World()
    world.comment("/claim-ownership services/cart @acme/payments", login="stranger")
    assert world.port.pulls == [] and world.port.branch_files == {}
    assert world.port.reactions == ["eyes", "-1"]
    assert "may not run /claim-ownership" in visible(world.port.replies[0])
    (entry,) = world.audit.entries
    assert (entry.actor, entry.outcome) == ("stranger", "refused")
    assert "needs members of @acme/payments" in entry.detail


def test_duplicate_delivery_of_the_same_comment_opens_one_pr() -> None:
    world = World()
    world.comment("/claim-ownership services/cart @acme/payments")
    world.comment("/claim-ownership services/cart @acme/payments")
    assert len(world.port.pulls) == 1
    assert world.port.replies[0] == world.port.replies[1]  # both name the same PR


def test_retry_after_a_crash_between_branch_and_pr_finishes_the_same_branch() -> None:
    world = World()
    world.port.branches["ghapp/claim-555"] = BASE_SHA  # a first attempt died after this
    world.comment("/claim-ownership services/cart @acme/payments")
    (pull,) = world.port.pulls
    assert pull["head"] == "ghapp/claim-555"


def test_claim_without_arguments_uses_the_commenters_only_team() -> None:
    files = {**BASE_FILES, ".github/CODEOWNERS": "/services/ @acme/payments\n/docs/ @acme/docs\n"}
    world = World(files, changed=("tools/new.sh", "services/pay/main.py"))
    world.comment("/claim-ownership")
    (pull,) = world.port.pulls
    assert world.owners_in_pr(pull["head"], "tools/new.sh") == ("@acme/payments",)
    assert "1 unowned file(s)" in pull["title"]


def test_claim_without_team_and_several_candidates_lists_them() -> None:
    files = {**BASE_FILES, ".github/CODEOWNERS": CODEOWNERS + "/services/pay/ @acme/payments\n"}
    world = World(files, changed=("tools/new.sh",))
    world.comment("/claim-ownership", login="pay-dev")  # in @acme/payments and @acme/platform
    assert world.port.pulls == []
    assert "several teams" in world.port.replies[0]
    assert "(`@acme/payments`, `@acme/platform`)" in world.port.replies[0]  # named, not pinged
    assert world.port.reactions[-1] == "-1"


def test_claim_without_team_ignores_teams_not_named_in_codeowners() -> None:
    files = {**BASE_FILES, ".github/CODEOWNERS": "/services/ @acme/platform\n"}
    world = World(files, changed=("tools/new.sh",))
    # pay-dev is in @acme/payments too, but only @acme/platform owns something here.
    world.comment("/claim-ownership", login="pay-dev")
    (pull,) = world.port.pulls
    assert world.owners_in_pr(pull["head"], "tools/new.sh") == ("@acme/platform",)


def test_claim_without_team_when_in_no_codeowners_team_asks_for_one() -> None:
    world = World(changed=("tools/new.sh",))
    world.comment("/claim-ownership", login="dev")
    assert world.port.pulls == []
    assert "none of the teams named in CODEOWNERS. Name one" in world.port.replies[0]
    assert world.audit.entries[0].outcome == "refused"


def test_claim_for_an_unknown_team_says_so() -> None:
    world = World()
    world.comment("/claim-ownership services/cart @acme/paymnets", login="root")
    assert "team `@acme/paymnets` is unknown" in world.port.replies[0]
    assert world.port.pulls == [] and world.port.reactions[-1] == "-1"


def test_claim_of_a_path_that_matches_nothing_says_so() -> None:
    world = World()
    world.comment("/claim-ownership nowhere/ @acme/payments")
    assert "`nowhere` matches no file, directory or service" in visible(world.port.replies[0])
    assert world.port.reactions[-1] == "-1"


def test_claim_of_what_the_team_already_owns_opens_nothing() -> None:
    world = World()
    world.comment("/claim-ownership services/pay/legacy @acme/legacy", login="root")
    assert world.port.pulls == []
    assert "already owned" in world.port.replies[0]


def test_malformed_claim_gets_usage_and_confused() -> None:
    world = World()
    world.comment("/claim-ownership @alice")
    assert "Usage: `/claim-ownership" in world.port.replies[0]
    assert world.port.reactions == ["eyes", "confused"]


# --- other commands ---------------------------------------------------------------------


def test_owners_lists_rule_and_line_for_changed_files() -> None:
    world = World(changed=("services/pay/main.py", "services/pay/legacy/old.py", "README.md"))
    world.comment("/owners", login="stranger")
    reply = world.port.replies[0]
    assert (
        "| `services/pay/main.py` | @acme/services | `.github/CODEOWNERS` line 4 `/services/` "
        "(service `pay`) |" in reply
    )
    assert "| `services/pay/legacy/old.py` | @acme/legacy | `.github/CODEOWNERS` line 5" in reply
    assert "| `README.md` | @acme/platform | `.github/CODEOWNERS` line 2 `*` |" in reply
    assert world.port.reactions == ["eyes", "+1"]


def test_owners_of_given_paths_falls_back_to_the_manifest() -> None:
    files = {**BASE_FILES, ".github/CODEOWNERS": "/docs/ @acme/docs\n"}
    files["services/pay/catalog-info.yaml"] = PAY_MANIFEST.replace(
        "spec:\n", "spec:\n  owner: group:payments\n"
    )
    world = World(files)
    world.comment("/owners services/pay/main.py")
    reply = world.port.replies[0]
    assert "| `group:payments` | `services/pay/catalog-info.yaml` `spec.owner`" in reply


def test_recheck_calls_the_app_and_reacts() -> None:
    world = World()
    world.comment("/recheck", login="stranger")
    assert world.rechecks == [(REPO, 7)]
    assert world.port.replies == []
    assert world.port.reactions == ["eyes", "+1"]


def test_several_commands_get_one_reply_and_each_an_audit_entry() -> None:
    world = World()
    world.comment("/help\n\n```\n/recheck\n```\n> /recheck\n/owners README.md\n/rechek")
    (reply,) = world.port.replies
    assert "**Commands**" in reply and "| `README.md` |" in reply and "Usage: `/recheck`" in reply
    assert [e.command for e in world.audit.entries] == ["help", "owners", "rechek"]
    assert [e.source for e in world.audit.entries] == [
        "comment:555#1",
        "comment:555#2",
        "comment:555#3",
    ]
    assert world.rechecks == []
    assert world.port.reactions == ["eyes", "confused"]


# --- waivers ----------------------------------------------------------------------------

WAIVE = '/waive scan/missing-sast pay --until 2026-03-10 --reason "vendor scanner replaces it"'


def test_admin_waiver_is_recorded_and_expires() -> None:
    world = World()
    world.comment(WAIVE, login="root")
    assert world.rechecks == [(REPO, 7)]
    (waiver,) = world.audit.waivers_for(REPO, 7, date(2026, 3, 10))
    assert (waiver.rule, waiver.service, waiver.path) == ("scan/missing-sast", "pay", None)
    assert (waiver.approved_by, waiver.until) == ("@root", date(2026, 3, 10))
    assert world.audit.waivers_for(REPO, 7, date(2026, 3, 11)) == ()  # expired
    assert world.audit.waivers_for(REPO, 8, date(2026, 3, 1)) == ()  # another PR
    assert "until 2026-03-10" in world.port.replies[0]


def test_waiver_by_a_writer_is_refused_unless_in_the_security_team() -> None:
    world = World()
    world.comment(WAIVE, login="dev")
    assert world.audit.waivers_for(REPO, 7, date(2026, 3, 1)) == ()
    assert world.port.reactions[-1] == "-1"
    allowed = World(commands={"waive": {"teams": ["@acme/payments"]}})
    allowed.comment(WAIVE, login="dev")
    assert len(allowed.audit.waivers_for(REPO, 7, date(2026, 3, 1))) == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('/waive scan/missing-sast --until 2026-02-01 --reason "late"', "in the past"),
        (
            '/waive scan/missing-sats --until 2026-04-01 --reason "typo"',
            "did you mean `scan/missing-sast`",
        ),
        ("/waive scan/missing-sast --until 2026-04-01", "--until and --reason are required"),
    ],
)
def test_bad_waivers_are_refused_with_the_reason(body: str, reason: str) -> None:
    world = World()
    world.comment(body, login="root")
    assert reason in visible(world.port.replies[0])
    assert world.audit.waivers_for(REPO, 7, date(2026, 3, 1)) == ()


def test_standing_waiver_opens_a_config_pr() -> None:
    files = {**BASE_FILES, ".github/ghapp.yml": "# policy\nenforce: true\n"}
    world = World(files)
    world.comment(WAIVE + " --standing", login="root")
    (pull,) = world.port.pulls
    assert pull["head"] == "ghapp/waive-555"
    config = world.port.branch_files[("ghapp/waive-555", ".github/ghapp.yml")]
    assert config.startswith('# policy\nenforce: true\nwaivers:\n  - rule: "scan/missing-sast"\n')
    assert load_document(config)["waivers"][0]["until"] == "2026-03-10"
    assert world.audit.waivers_for(REPO, 7, date(2026, 3, 1)) == ()  # applies once merged


# --- who is listened to -----------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"sender": {"login": "renovate[bot]", "type": "Bot"}},
        {"sender": {"login": "helper", "type": "Bot"}},
        {"sender": {"login": "ghapp[bot]", "type": "User"}},
        {"action": "edited"},
        {"action": "deleted"},
        {"issue": {"number": 7}},  # a plain issue, not a pull request
    ],
)
def test_ignored_comments_get_no_reaction_and_no_audit(change: dict[str, Any]) -> None:
    world = World()
    assert world.comment("/recheck", **change) == 0
    assert world.port.reactions == [] and world.audit.entries == [] and world.rechecks == []


def test_comment_without_commands_is_left_alone() -> None:
    world = World()
    assert world.comment("LGTM, thanks!") == 0
    assert world.port.reactions == []


# --- check-run buttons ------------------------------------------------------------------


def action(identifier: str, login: str = "dev") -> dict[str, Any]:
    return {
        "action": "requested_action",
        "requested_action": {"identifier": identifier},
        "check_run": {"id": 9, "head_sha": "h" * 40, "pull_requests": [{"number": 7}]},
        "repository": {"full_name": REPO},
        "sender": {"login": login, "type": "User"},
    }


def test_claim_unowned_button_uses_the_same_handler_and_authorisation() -> None:
    files = {**BASE_FILES, ".github/CODEOWNERS": "/services/ @acme/payments\n"}
    world = World(files, changed=("tools/new.sh",))
    result = asyncio.run(world.handler.on_requested_action(action("claim-unowned"), 1))
    assert result is not None and result.outcome == "accepted"
    asyncio.run(world.handler.on_requested_action(action("claim-unowned"), 1))  # double click
    (pull,) = world.port.pulls
    assert pull["head"] == f"ghapp/claim-pr7-{'h' * 12}"
    assert [e.source for e in world.audit.entries] == ["check_run:9", "check_run:9"]
    stranger = asyncio.run(world.handler.on_requested_action(action("claim-unowned", "x"), 1))
    assert stranger is not None and stranger.outcome == "refused"


def test_recheck_button_rechecks() -> None:
    world = World()
    asyncio.run(world.handler.on_requested_action(action("recheck", "anyone"), 1))
    assert world.rechecks == [(REPO, 7)]
    assert world.audit.entries[0].command == "recheck"


def test_base_snapshot_is_fetched_once_per_comment() -> None:
    world = World()
    world.comment("/owners\n/owners README.md\n/claim-ownership services/cart @acme/payments")
    assert world.port.calls.count("snapshot") == 1
    assert world.port.calls.count("pull") == 1


@pytest.mark.parametrize(
    ("target", "path", "service"),
    [
        ("services/cart", "services/cart/**", None),
        ("services/cart/main.py", "services/cart/main.py", None),
        ("**/*.py", "**/*.py", None),
        ("pay", None, "pay"),
    ],
)
def test_waiver_target_is_a_service_or_a_path_glob(
    target: str, path: str | None, service: str | None
) -> None:
    world = World()
    world.comment(f'/waive k8s/privileged "{target}" --until 2026-04-01 --reason r', login="root")
    (waiver,) = world.audit.waivers_for(REPO, 7, date(2026, 3, 1))
    assert (waiver.path, waiver.service) == (path, service)


@pytest.mark.parametrize(
    "body",
    [
        "/owners a`b` @victim <img src=x onerror=alert(1)> [x](https://evil.example)",
        "/owners ``` `@victim` ```",
        "/frobnicate @victim <img src=x>",
        '/waive scan/missing-sast --until 2026-04-01 --reason "@victim <img src=x>"',
        '/waive sca`n/@victim --until 2026-04-01 --reason "x"',
        "/claim-ownership services/pay @victim/te`am",
        "/claim-ownership no`where` @victim",
    ],
)
def test_commenter_text_is_inert_in_replies(body: str) -> None:
    world = World()
    world.comment(body, login="root")
    [reply] = world.port.replies
    assert_inert(reply)


def test_a_manifest_owner_is_named_in_owners_output_but_never_mentioned() -> None:
    files = {**BASE_FILES, ".github/CODEOWNERS": "/docs/ @acme/docs\n"}
    files["services/pay/catalog-info.yaml"] = PAY_MANIFEST.replace(
        "spec:\n", 'spec:\n  owner: "@victim-user"\n'
    )
    world = World(files)
    world.comment("/owners services/pay/main.py")
    [reply] = world.port.replies
    assert "`@victim-user`" in reply
    assert_inert(reply)

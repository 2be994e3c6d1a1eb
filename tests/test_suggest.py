"""Ownership suggestions from history, on generated git repositories with known authors/teams."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from ghapp.core.model import Finding, Service
from ghapp.core.ownership.codeowners import CodeOwners
from ghapp.core.ownership.directory import People
from ghapp.core.ownership.evidence import CommitRecord, is_bot, noreply_login
from ghapp.core.ownership.suggest import (
    Suggestions,
    annotate_findings,
    finding_targets,
    suggest_owners,
)
from ghapp.core.reportjson import finding_from_json
from ghapp.history import read_history
from tests.gitrepos import History

PEOPLE = People(
    logins={f"{name}@acme.dev": name for name in ("alice", "bob", "carol", "dave", "erin")},
    teams={
        "@acme/payments": ("alice", "bob"),
        "@acme/shipping": ("carol",),
        "@acme/search": ("dave",),
        "@acme/everyone": ("alice", "bob", "carol", "dave", "erin", "frank", "gina"),
    },
)
BOT = "dependabot[bot] <49699333+dependabot[bot]@users.noreply.github.com>"


def suggest(
    tmp_path: Path,
    history: History,
    codeowners: str | None = None,
    *,
    targets: Sequence[str] | None = None,
    services: Sequence[Service] = (),
    people: People = PEOPLE,
    since_days: int = 365,
    rank_owned: bool = False,
) -> Suggestions:
    """Write the repository, read its history with one `git log`, suggest for `targets`."""
    if codeowners is not None:  # the first commit, long ago
        history.commit("erin", {".github/CODEOWNERS": codeowners}, days_ago=500)
        history.commits.insert(0, history.commits.pop())
    root = history.create(tmp_path / "repo")
    universe = sorted({p for c in history.commits for p, d in c.files.items() if d is not None})
    records = read_history(root, now=history.now, since_days=since_days)
    return suggest_owners(
        table=CodeOwners.from_text(codeowners or ""),
        codeowners_text=codeowners,
        codeowners_path=".github/CODEOWNERS",
        universe=universe,
        targets=universe if targets is None else targets,
        history=records,
        people=people,
        services=services,
        now=history.now,
        since_days=since_days,
        rank_owned=rank_owned,
    )


def payments_wrote_most_of_pay(history: History) -> None:
    """9 commits to services/pay/ by payments (alice, bob), 2 by carol of shipping, who wrote
    services/ship/ alone."""
    for i in range(9):
        author = "alice" if i % 2 else "bob"
        history.commit(author, {f"services/pay/f{i % 3}.py": f"v{i}\n"}, days_ago=40 - i)
    history.commit("carol", {"services/pay/f0.py": "carol\n"}, days_ago=21)
    history.commit("carol", {"services/pay/f1.py": "carol\n"}, days_ago=20)
    history.commit("carol", {"services/ship/x.py": "x\n"}, days_ago=10)


def test_the_team_that_wrote_most_of_a_directory_is_suggested_first_for_the_directory(
    tmp_path: Path,
) -> None:
    history = History()
    payments_wrote_most_of_pay(history)
    found = suggest(tmp_path, history, targets=["services/pay/f0.py"])
    group = found.by_path["services/pay/f0.py"]
    assert group.pattern == "/services/pay/"
    assert group.files == ("services/pay/f0.py", "services/pay/f1.py", "services/pay/f2.py")
    ranked = [s.owner for s in group.suggestions]
    assert ranked[0] == "@acme/payments" and "@acme/shipping" in ranked
    top = group.suggestions[0]
    assert 0 < top.score <= 1 and all(top.score > s.score for s in group.suggestions[1:])
    assert top.evidence[0].startswith(
        "9 of 11 commits in the last 365 days by members of @acme/payments (bob, alice), 15 of 19"
    )
    assert top.rule == "/services/pay/ @acme/payments"
    assert group.fix() == (
        "Create .github/CODEOWNERS with the line `/services/pay/ @acme/payments`."
    )


def test_bots_and_merge_commits_are_not_evidence(tmp_path: Path) -> None:
    history = History()
    history.commit("alice", {"services/pay/a.py": "1\n"}, days_ago=40)
    history.commit("bob", {"services/pay/a.py": "2\n"}, days_ago=39, branch="feature")
    for i in range(20):  # the bot "wrote" far more of it
        history.commit(BOT, {"services/pay/a.py": f"bump {i}\n"}, days_ago=30 - i)
    history.merge("carol", "feature", days_ago=5)  # carol of shipping merges bob's branch
    found = suggest(tmp_path, history)
    group = found.by_path["services/pay/a.py"]
    assert group.suggestions[0].owner == "@acme/payments"
    assert "@acme/shipping" not in {s.owner for s in group.suggestions}  # not for merging
    assert group.suggestions[0].evidence[0].startswith("2 of 2 commits")


def test_a_merge_or_bot_record_from_the_api_is_ignored_too() -> None:
    when = History().now
    merge = CommitRecord("m", when, "carol", "carol@acme.dev", "carol", parents=2,
                         files=(("a.py", None),))  # fmt: skip
    bot = CommitRecord("b", when, "Renovate", "bot@renovateapp.com", files=(("a.py", 3),))
    human = CommitRecord("h", when, "alice", "alice@acme.dev", files=(("a.py", 3),))
    found = suggest_owners(
        table=CodeOwners.from_text(""),
        codeowners_text="",
        codeowners_path="CODEOWNERS",
        universe=["a.py"],
        targets=["a.py"],
        history=[merge, bot, human],
        people=PEOPLE,
        services=(),
        now=when,
    )
    assert found.for_path("a.py")[0].owner == "@acme/payments"
    assert "@acme/shipping" not in {s.owner for s in found.for_path("a.py")}
    assert is_bot(bot) and not is_bot(human)
    assert noreply_login("123+Alice@users.noreply.github.com") == "alice"


def test_a_directory_whose_files_disagree_is_not_merged_into_one_suggestion(
    tmp_path: Path,
) -> None:
    history = History()
    for i in range(4):
        history.commit("alice", {"services/mixed/pay.py": f"{i}\n"}, days_ago=10 + i)
        history.commit("carol", {"services/mixed/ship.py": f"{i}\n"}, days_ago=10 + i)
        history.commit("bob", {"services/pay/api.py": f"{i}\n"}, days_ago=10 + i)
    found = suggest(tmp_path, history)
    pay, ship = found.by_path["services/mixed/pay.py"], found.by_path["services/mixed/ship.py"]
    assert pay is not ship
    assert (pay.pattern, pay.top and pay.top.owner) == ("/services/mixed/pay.py", "@acme/payments")
    assert (ship.pattern, ship.top and ship.top.owner) == (
        "/services/mixed/ship.py",
        "@acme/shipping",
    )
    # and services/ (which holds the disagreeing directory) is not claimed as a whole either
    assert found.by_path["services/pay/api.py"].pattern == "/services/pay/"


def test_a_few_stray_files_do_not_split_a_directory_that_clearly_agrees(tmp_path: Path) -> None:
    history = History()
    for i in range(10):
        history.commit("alice", {f"lib/m{i}.py": "x\n"}, days_ago=10 + i)
    history.commit("carol", {"lib/m9.py": "carol\n", "lib/m8.py": "c\n"}, days_ago=1)
    history.commit("carol", {"lib/m9.py": "carol again\n"}, days_ago=2)
    found = suggest(tmp_path, history)
    assert {g.pattern for g in found.groups} == {"/lib/"}


def test_the_line_goes_before_a_deliberately_ownerless_rule_instead_of_undoing_it(
    tmp_path: Path,
) -> None:
    codeowners = "/services/pay/generated/\n"
    history = History()
    for i in range(3):
        history.commit("alice", {"services/pay/api.py": f"{i}\n"}, days_ago=5 + i)
        history.commit("bob", {"services/pay/generated/types.py": f"{i}\n"}, days_ago=5 + i)
    found = suggest(tmp_path, history, codeowners)
    group = found.by_path["services/pay/api.py"]
    assert group.placement is not None and group.placement.number == 1
    assert group.fix() == (
        "Add `/services/pay/ @acme/payments` to .github/CODEOWNERS as line 1, before "
        "`/services/pay/generated/` (a later line would take files other rules decide)."
    )
    edited = CodeOwners.from_text(f"{group.placement.rule}\n{codeowners}")
    api, generated = edited.resolve_all(["services/pay/api.py", "services/pay/generated/types.py"])
    assert api is not None and api.owners == ("@acme/payments",)
    assert generated is not None and generated.owners == ()
    assert found.deliberate == {"services/pay/generated/types.py": (1, "/services/pay/generated/")}
    assert found.for_path("services/pay/generated/types.py") == ()


def test_files_owned_by_another_team_keep_their_owner(tmp_path: Path) -> None:
    codeowners = "/services/pay/legacy/ @acme/shipping\n"
    history = History()
    for i in range(3):
        history.commit("alice", {"services/pay/api/a.py": f"{i}\n"}, days_ago=5 + i)
        history.commit("bob", {"services/pay/legacy/old.py": f"{i}\n"}, days_ago=5 + i)
    found = suggest(tmp_path, history, codeowners)
    group = found.by_path["services/pay/api/a.py"]
    assert group.pattern == "/services/pay/api/"  # not /services/pay/: legacy/ is shipping's


def test_recent_commits_outweigh_old_ones(tmp_path: Path) -> None:
    history = History()
    for i in range(4):
        history.commit("carol", {"app/x.py": f"old {i}\n"}, days_ago=330 + i)
        history.commit("dave", {"app/x.py": f"new {i}\n"}, days_ago=3 + i)
    found = suggest(tmp_path, history)
    assert [s.owner for s in found.for_path("app/x.py")][:2] == ["@acme/search", "@acme/shipping"]


def test_commits_before_the_window_are_not_read(tmp_path: Path) -> None:
    history = History()
    history.commit("carol", {"app/x.py": "old\n"}, days_ago=200)
    history.commit("dave", {"app/x.py": "new\n"}, days_ago=3)
    found = suggest(tmp_path, history, since_days=30)
    assert "@acme/shipping" not in {s.owner for s in found.for_path("app/x.py")}
    assert found.for_path("app/x.py")[0].owner == "@acme/search"
    assert found.for_path("app/x.py")[0].evidence[0].startswith("1 of 1 commits in the last 30")


def test_more_lines_changed_weigh_more(tmp_path: Path) -> None:
    history = History()
    history.commit("carol", {"app/x.py": "one\n"}, days_ago=3)
    history.commit("dave", {"app/x.py": "".join(f"line {i}\n" for i in range(200))}, days_ago=3)
    found = suggest(tmp_path, history)
    assert [s.owner for s in found.for_path("app/x.py")][:2] == ["@acme/search", "@acme/shipping"]


def test_an_umbrella_team_does_not_beat_the_team_that_wrote_the_code(tmp_path: Path) -> None:
    history = History()
    for i in range(6):
        history.commit("alice" if i % 2 else "bob", {"pay/a.py": f"{i}\n"}, days_ago=10 + i)
    history.commit("erin", {"pay/a.py": "erin\n"}, days_ago=2)  # in @acme/everyone only
    found = suggest(tmp_path, history)
    owners = [s.owner for s in found.for_path("pay/a.py")]
    assert owners[0] == "@acme/payments" and "@acme/everyone" in owners


def test_a_user_in_no_team_is_a_candidate_herself(tmp_path: Path) -> None:
    history = History()
    history.commit("zoe <zoe@acme.dev>", {"tools/x.sh": "x\n"}, days_ago=2)
    people = People(logins={"zoe@acme.dev": "zoe"}, teams={})
    found = suggest(tmp_path, history, people=people)
    assert [s.owner for s in found.for_path("tools/x.sh")] == ["@zoe"]


def test_authors_nobody_mapped_are_counted_but_credited_to_nobody(tmp_path: Path) -> None:
    history = History()
    history.commit("mallory <mallory@elsewhere.example>", {"x.py": "1\n"}, days_ago=1)
    history.commit("alice", {"x.py": "2\n"}, days_ago=1)
    found = suggest(tmp_path, history)
    top = found.for_path("x.py")[0]
    assert top.owner == "@acme/payments" and top.evidence[0].startswith("1 of 2 commits")
    assert found.unmapped == {"mallory@elsewhere.example": 1}


def test_no_directory_line_on_the_word_of_two_commits_among_many_by_strangers(
    tmp_path: Path,
) -> None:
    # Alice wrote docs/a0.md and docs/a1.md; eight people nobody mapped wrote the rest of docs/.
    # The files that name a candidate agree, but docs/ as a whole (2 of 10 commits) is no case
    # for a `/docs/` line: each of alice's files gets its own suggestion instead.
    history = History()
    for k in range(2):
        history.commit("alice", {f"docs/a{k}.md": "a\n"}, days_ago=3)
    for i in range(8):
        history.commit(
            f"s{i} <s{i}@elsewhere.example>", {f"docs/s{i % 4}.md": f"{i}\n"}, days_ago=3
        )
    found = suggest(tmp_path, history)
    assert all(g.pattern != "/docs/" for g in found.groups)
    own = found.by_path["docs/a0.md"]
    assert own.pattern == "/docs/a0.md" and own.suggestions[0].owner == "@acme/payments"
    assert found.for_path("docs/s0.md") == ()


def test_neighbours_and_manifests_are_evidence_too(tmp_path: Path) -> None:
    codeowners = "/services/* @acme/platform\n/services/ship/ @acme/shipping\n"
    history = History()
    somebody = "mallory <mallory@elsewhere.example>"  # history that credits nobody
    history.commit(somebody, {"services/README.md": "x\n", "services/ship/a.py": "y\n"}, days_ago=3)
    history.commit(somebody, {"services/billing/main.py": "print()\n"}, days_ago=2)
    billing = Service(
        "billing", "services/billing", "services/billing/catalog-info.yaml", owner="group:shipping"
    )
    found = suggest(tmp_path, history, codeowners, services=[billing])
    ranked = {s.owner: s for s in found.for_path("services/billing/main.py")}
    assert ranked["@acme/shipping"].evidence == (
        "owner of service billing (services/billing/catalog-info.yaml)",
    )
    assert ranked["@acme/platform"].evidence == (
        "a new file in services/ would be owned by @acme/platform (CODEOWNERS line 1: /services/*)",
    )
    assert list(ranked) == ["@acme/shipping", "@acme/platform"]  # 0.6 weight beats 0.5 * 0.8


def test_with_rank_owned_owned_paths_are_ranked_as_well(tmp_path: Path) -> None:
    history = History()
    for i in range(6):
        history.commit("carol", {"a/x.py": f"{i}\n"}, days_ago=2 + i)
    found = suggest(tmp_path, history, "/a/ @acme/payments\n", rank_owned=True)
    assert [s.owner for s in found.for_path("a/x.py")][:2] == ["@acme/shipping", "@acme/payments"]
    assert suggest(tmp_path / "b", History(), "/a/ @acme/payments\n").for_path("a/x.py") == ()


def test_annotated_finding_carries_the_suggestion_and_the_exact_line(tmp_path: Path) -> None:
    history = History()
    payments_wrote_most_of_pay(history)
    found = suggest(tmp_path, history, "/docs/ @acme/docs\n")
    finding = Finding(
        "codeowners/unowned-file",
        "warning",
        "`services/pay/f1.py` has no code owner: no line matches it",
        path="services/pay/f1.py",
        subject="services/pay/f1.py",
        fix="Add `/services/pay/f1.py @org/team` at the end of .github/CODEOWNERS.",
    )
    (annotated,) = annotate_findings([finding], found)
    assert annotated.fix == "Add `/services/pay/ @acme/payments` at the end of .github/CODEOWNERS."
    assert "Suggested owner: `@acme/payments` (score " in annotated.message
    assert (
        "9 of 11 commits in the last 365 days by members of `@acme/payments`" in annotated.message
    )
    assert annotated.suggested_owner is not None
    assert annotated.suggested_owner.rule == "/services/pay/ @acme/payments"
    assert annotated.to_json()["suggested_owner"]["owner"] == "@acme/payments"
    assert annotated.fingerprint == finding.fingerprint  # the same problem, base or head
    assert finding_from_json(annotated.to_json()) == annotated  # as stored for the details page


def test_a_grouped_finding_lists_the_lines_of_its_directories(tmp_path: Path) -> None:
    history = History()
    payments_wrote_most_of_pay(history)
    found = suggest(tmp_path, history, "/docs/ @acme/docs\n")
    grouped = Finding(
        "codeowners/unowned-file",
        "warning",
        "4 files under `services/` without a code owner",
        path=".github/CODEOWNERS",
        subject="services/",
    )
    (annotated,) = annotate_findings([grouped], found)
    assert annotated.fix == (
        "Add `/services/pay/ @acme/payments` at the end of .github/CODEOWNERS. "
        "Add `/services/ship/ @acme/shipping` at the end of .github/CODEOWNERS."
    )
    assert "Suggested owner of 3 files of them: `@acme/payments`" in annotated.message


@pytest.mark.parametrize("days", [0.5, 100])
def test_scores_stay_between_zero_and_one(tmp_path: Path, days: float) -> None:
    history = History()
    for i in range(50):
        history.commit("alice", {"a.py": f"{i}\n" * 300}, days_ago=days + i * 0.01)
    root_service = Service("a", "", "catalog-info.yaml", owner="@acme/payments")
    found = suggest(tmp_path, history, services=[root_service])
    assert found.for_path("a.py")
    assert all(0 < s.score <= 1 for s in found.for_path("a.py"))


def test_grouped_findings_are_about_every_path_under_their_directory() -> None:
    findings = [
        Finding("codeowners/unowned-file", "warning", "m", path="a.py", subject="a.py"),
        Finding("codeowners/unowned-file", "warning", "m", path="CODEOWNERS", subject="lib/"),
        Finding("codeowners/unowned-file", "warning", "m", path="CODEOWNERS", subject="/"),
        Finding("k8s/privileged", "error", "m", path="ops/x.yaml", subject="x"),
    ]
    paths = ["a.py", "b.py", "lib/x/y.py", "libs/z.py", "ops/x.yaml"]
    assert finding_targets(findings, paths) == ["a.py", "b.py", "lib/x/y.py"]

"""`codeowners/*` findings: one test per rule id, plus catalog and fingerprint invariants."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from ghapp.core.context import Context
from ghapp.core.model import Finding
from ghapp.core.ownership.checks import AGGREGATE_ABOVE, DETAILED_RULES, check_codeowners
from ghapp.core.ownership.codeowners import MAX_CODEOWNERS_BYTES, CodeOwners, find_codeowners
from ghapp.core.ownership.directory import OwnerDirectory, StaticDirectory
from ghapp.core.policy.policy import Policy
from ghapp.core.snapshot import DictSnapshot
from ghapp.rules import load_catalog

ROOT = Path(__file__).resolve().parents[1]
CATALOG = load_catalog([ROOT / "rules" / "codeowners.yaml"])
TODAY = date(2026, 1, 1)


def run(
    files: dict[str, str | bytes],
    *,
    changed: frozenset[str] | None = None,
    directory: OwnerDirectory | None = None,
    policy: Policy | None = None,
) -> list[Finding]:
    """Parse like the evaluator does, then run the check."""
    snapshot = DictSnapshot(files)
    located = find_codeowners(snapshot)
    parsed = located is not None and located.text is not None
    ctx = Context(
        snapshot=snapshot,
        catalog=CATALOG,
        policy=policy or Policy(require_owners=()),
        today=TODAY,
        codeowners=CodeOwners.from_text(located.text or "") if parsed and located else None,
        codeowners_path=located.path if located else None,
        changed=changed,
        directory=directory,
    )
    return list(check_codeowners(ctx))


def of(findings: list[Finding], rule: str) -> list[Finding]:
    return [f for f in findings if f.rule == rule]


def test_missing_codeowners_is_a_notice() -> None:
    [finding] = run({"src/a.py": ""})
    assert (finding.rule, finding.severity) == ("codeowners/missing", "notice")


def test_too_large_file_is_ignored_like_github() -> None:
    big = b"* @a\n" + b"#" * MAX_CODEOWNERS_BYTES
    [finding] = run({".github/CODEOWNERS": big, "a.py": ""})
    assert (finding.rule, finding.path, finding.severity) == (
        "codeowners/too-large",
        ".github/CODEOWNERS",
        "error",
    )


def test_invalid_pattern_points_at_line_and_column() -> None:
    [finding] = of(
        run({"CODEOWNERS": "* @a\ndocs/[ab]/ @b\n", "x": ""}), "codeowners/invalid-pattern"
    )
    assert (finding.path, finding.line, finding.column) == ("CODEOWNERS", 2, 6)
    assert finding.subject == "docs/[ab]/ @b (column 6)"


def test_invalid_owner_carries_github_style_suggestion_and_replacement() -> None:
    findings = run({"CODEOWNERS": "* user\n*.py @a, @b\n", "x.py": ""})
    bare, comma = of(findings, "codeowners/invalid-owner")
    assert (bare.line, bare.column, bare.fix) == (1, 3, "Did you mean @user?")
    assert (comma.line, comma.suggestion) == (2, "*.py @a @b")


def test_unknown_owner_needs_a_directory() -> None:
    files: dict[str, str | bytes] = {"CODEOWNERS": "* @known @ghost\n", "x": ""}
    assert of(run(files), "codeowners/unknown-owner") == []
    [finding] = of(
        run(files, directory=StaticDirectory(users=["known"])), "codeowners/unknown-owner"
    )
    assert (finding.line, finding.column, finding.subject) == (1, 10, "* @ghost")


def test_owner_without_write_access() -> None:
    directory = StaticDirectory(users=["a", "b"], teams=["org/t"], write=["a"])
    findings = run({"CODEOWNERS": "* @a @b @org/t\n", "x": ""}, directory=directory)
    assert [f.subject for f in of(findings, "codeowners/owner-without-write-access")] == [
        "* @b",
        "* @org/t",
    ]


def test_duplicate_pattern_flags_the_earlier_line_once() -> None:
    findings = run({"CODEOWNERS": "/docs/ @a\n* @c\n/docs/** @b\n", "docs/x.md": "", "y": ""})
    [dup] = of(findings, "codeowners/duplicate-pattern")
    assert (dup.line, dup.subject) == (1, "/docs/")
    assert "line 3" in dup.message
    assert of(findings, "codeowners/shadowed-rule") == []


def test_pattern_matches_nothing() -> None:
    findings = run({"CODEOWNERS": "* @a\n/gone/ @b\n", "src/a.py": ""})
    [finding] = of(findings, "codeowners/pattern-matches-nothing")
    assert (finding.line, finding.subject) == (2, "/gone/")


def test_pattern_matches_nothing_hints_at_case() -> None:
    findings = run({"CODEOWNERS": "/Src/ @b\n", "src/a.py": ""})
    [finding] = of(findings, "codeowners/pattern-matches-nothing")
    assert "it would match `src/a.py` if case were ignored" in finding.message


def test_shadowed_rule_names_the_later_rule_that_wins() -> None:
    findings = run({"CODEOWNERS": "*.py @a\n* @b\n", "a.py": "", "b.txt": ""})
    [finding] = of(findings, "codeowners/shadowed-rule")
    assert (finding.line, finding.subject) == (1, "*.py")
    assert "1 by line 2, `*`" in finding.message


def test_only_the_first_dead_rules_are_explained_with_examples() -> None:
    text = "".join(f"/d{i}.py @a\n" for i in range(DETAILED_RULES + 2)) + "* @b\n"
    files: dict[str, str | bytes] = {"CODEOWNERS": text}
    files |= {f"d{i}.py": "" for i in range(DETAILED_RULES + 2)}
    findings = of(run(files), "codeowners/shadowed-rule")
    assert len(findings) == DETAILED_RULES + 2
    assert "by line" in findings[0].message
    assert "by line" not in findings[-1].message


def test_rule_deciding_some_files_is_not_shadowed() -> None:
    findings = run({"CODEOWNERS": "* @a\n/docs/ @b\n", "a.py": "", "docs/x": ""})
    assert of(findings, "codeowners/shadowed-rule") == []


UNOWNED = Policy(require_owners=("**",))


def test_unowned_file_in_a_pull_request_only_reports_changed_files() -> None:
    files: dict[str, str | bytes] = {
        "CODEOWNERS": "/src/ @a\n/src/vendor/\n",
        "src/vendor/lib.c": "",
        "tools/x.sh": "",
        "src/ok.py": "",
    }
    findings = run(
        files, policy=UNOWNED, changed=frozenset({"src/vendor/lib.c", "src/ok.py", "gone.txt"})
    )
    [finding] = of(findings, "codeowners/unowned-file")
    assert (finding.subject, finding.path) == ("src/vendor/lib.c", "src/vendor/lib.c")
    assert "line 2 (`/src/vendor/`) lists no owners" in finding.message


def test_unowned_files_of_a_whole_repo_are_listed_when_few() -> None:
    files: dict[str, str | bytes] = {"CODEOWNERS": "/src/ @a\n", "src/a.py": "", "README.md": ""}
    subjects = [f.subject for f in of(run(files, policy=UNOWNED), "codeowners/unowned-file")]
    assert subjects == ["CODEOWNERS", "README.md"]


def test_unowned_files_of_a_whole_repo_are_grouped_per_top_directory_when_many() -> None:
    files: dict[str, str | bytes] = {"CODEOWNERS": "/src/ @a\n"}
    files |= {f"lib/m{i}.py": "" for i in range(AGGREGATE_ABOVE)}
    files |= {f"docs/d{i}.md": "" for i in range(3)}
    findings = of(run(files, policy=UNOWNED), "codeowners/unowned-file")
    assert [(f.subject, f.path) for f in findings] == [
        ("/", "CODEOWNERS"),
        ("docs/", "CODEOWNERS"),
        ("lib/", "CODEOWNERS"),
    ]
    assert findings[2].message.startswith(f"{AGGREGATE_ABOVE} files under `lib/` without")


def test_require_owners_globs_and_ignore_scope_unowned_files() -> None:
    files: dict[str, str | bytes] = {
        "CODEOWNERS": "/src/ @a\n",
        "infra/main.tf": "",
        "README.md": "",
    }
    policy = Policy(require_owners=("infra/**", "README.md"), ignore=("README.md",))
    assert [f.subject for f in of(run(files, policy=policy), "codeowners/unowned-file")] == [
        "infra/main.tf"
    ]


def test_subjects_survive_lines_moving() -> None:
    text = "* user\n/gone/ @a\n*.py @a\n* @b\n"
    files: dict[str, str | bytes] = {"CODEOWNERS": text, "a.py": ""}
    moved: dict[str, str | bytes] = {"CODEOWNERS": "# new header\n\n" + text, "a.py": ""}
    before = {f.fingerprint for f in run(files)}
    after = run(moved)
    assert {f.fingerprint for f in after} == before
    assert len(before) == 3


def test_every_emitted_rule_id_is_in_the_catalog_and_vice_versa() -> None:
    source = (ROOT / "ghapp" / "core" / "ownership" / "checks.py").read_text()
    emitted = set(re.findall(r'"(codeowners/[a-z-]+)"', source))
    emitted |= {"codeowners/invalid-pattern", "codeowners/invalid-owner"}  # f"codeowners/{kind}"
    assert emitted == set(CATALOG.rules)

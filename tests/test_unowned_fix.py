"""The fix of `codeowners/unowned-file` works under last-match-wins, or says the file is
deliberately unowned (issue 10, 4e): applying the suggested line changes only what it claims."""

from __future__ import annotations

from ghapp.core.model import Finding
from ghapp.core.ownership.checks import AGGREGATE_ABOVE
from ghapp.core.ownership.codeowners import CodeOwners
from ghapp.core.ownership.placement import place_line
from ghapp.core.policy.policy import Policy
from tests.test_codeowners_checks import of, run

UNOWNED = Policy(require_owners=("**",))


def unowned(files: dict[str, str | bytes]) -> list[Finding]:
    return of(run(files, policy=UNOWNED), "codeowners/unowned-file")


def test_a_file_no_line_matches_gets_its_own_line_at_the_end() -> None:
    files: dict[str, str | bytes] = {"CODEOWNERS": "/src/ @acme/a\n", "src/a.py": "", "x y.sh": ""}
    fixes = {f.subject: f.fix for f in unowned(files)}
    assert fixes["x y.sh"] == "Add `/x\\ y.sh @org/team` at the end of CODEOWNERS."


def test_a_deliberately_unowned_file_is_called_so_and_the_fix_changes_only_that_file() -> None:
    files: dict[str, str | bytes] = {
        "CODEOWNERS": "/CODEOWNERS @acme/a\n/src/ @acme/a\n/src/generated/\n",
        "src/generated/a.pb.go": "",
        "src/ok.py": "",
    }
    [finding] = unowned(files)
    assert finding.message == (
        "`src/generated/a.pb.go` has no code owner: line 3 (`/src/generated/`) lists no owners, "
        "so it is deliberately unowned"
    )
    assert finding.fix == (
        "If that is intended, waive this finding; to give `src/generated/a.pb.go` an owner "
        "anyway, add `/src/generated/a.pb.go @org/team` to CODEOWNERS after line 3, which "
        "changes only this file."
    )


def test_a_grouped_fix_is_placed_before_lines_it_must_not_override() -> None:
    codeowners = "/CODEOWNERS @acme/a\n/lib/legacy/ @acme/legacy\n/lib/gen/\n"
    files: dict[str, str | bytes] = {"CODEOWNERS": codeowners, "lib/legacy/x.py": ""}
    files |= {f"lib/m{i}.py": "" for i in range(AGGREGATE_ABOVE + 1)}
    files |= {"lib/gen/a.py": ""}
    [lib] = unowned(files)
    assert lib.fix == (
        "Add `/lib/ @org/team` to CODEOWNERS as line 2, before `/lib/legacy/ @acme/legacy` "
        "(a later line would take files other rules decide). Left as they are: 1 file "
        "deliberately unowned (the line that decides lists no owners)."
    )
    lines = codeowners.splitlines(keepends=True)
    edited = CodeOwners.from_text("".join([lines[0], "/lib/ @org/team\n", *lines[1:]]))
    owners = {
        p: m.owners if m else None for p, m in zip(files, edited.resolve_all(files), strict=True)
    }
    assert owners["lib/legacy/x.py"] == ("@acme/legacy",)
    assert owners["lib/gen/a.py"] == ()  # still deliberately unowned
    assert owners["lib/m0.py"] == ("@org/team",)


def test_a_grouped_fix_lists_lines_per_part_when_no_single_line_can_be_placed() -> None:
    # /top/ would also take top/c/x.py, which policy does not require to be owned
    files: dict[str, str | bytes] = {"CODEOWNERS": "/other/ @acme/o\n", "top/c/x.py": ""}
    files |= {f"top/a/m{i}.py": "" for i in range(AGGREGATE_ABOVE + 1)}
    findings = of(
        run(files, policy=Policy(require_owners=("top/a/**",))), "codeowners/unowned-file"
    )
    [top] = findings
    assert top.fix == (
        "Add `/top/a/ @org/team` at the end of CODEOWNERS: a single `/top/` line would also "
        "take files it must not."
    )


def test_placement_proves_its_line_and_refuses_what_cannot_work() -> None:
    text = "/a/ @x\n/a/b/ @y\n"
    files = ["a/one.py", "a/b/two.py", "c/three.py"]
    placed = place_line(text, "CODEOWNERS", "/c/", "@z", ["c/three.py"], files)
    assert placed.instruction() == "Add `/c/ @z` at the end of CODEOWNERS"
    rewritten = place_line("/c/ @old\n", "CODEOWNERS", "/c/", "@z", ["c/three.py"], files)
    assert rewritten.instruction() == "Change line 1 of CODEOWNERS to `/c/ @z`"
    created = place_line(None, ".github/CODEOWNERS", "/c/", "@z", ["c/three.py"], files)
    assert created.instruction() == "Create .github/CODEOWNERS with the line `/c/ @z`"


def test_a_group_of_files_unowned_on_purpose_says_so_in_its_message() -> None:
    codeowners = "* @acme/all\n# No owners: sub-maintainers merge these\nCHANGELOG.md\n"
    files: dict[str, str | bytes] = {"CODEOWNERS": codeowners, "src/a.go": ""}
    files |= {f"vendor/m{i}/CHANGELOG.md": "" for i in range(AGGREGATE_ABOVE + 1)}
    files |= {"docs/CHANGELOG.md": ""}
    messages = {f.subject: f.message for f in unowned(files)}
    assert messages["vendor/"].startswith(
        f"{AGGREGATE_ABOVE + 1} files under `vendor/` deliberately unowned (the CODEOWNERS lines "
        "that decide list no owners)"
    )
    assert messages["docs/"].startswith("1 file under `docs/` deliberately unowned")


def test_a_group_mixing_forgotten_and_deliberate_files_counts_the_deliberate_ones() -> None:
    codeowners = "/CODEOWNERS @acme/a\n/lib/gen/\n"
    files: dict[str, str | bytes] = {"CODEOWNERS": codeowners, "lib/gen/a.py": ""}
    files |= {f"lib/m{i}.py": "" for i in range(AGGREGATE_ABOVE + 1)}
    [lib] = unowned(files)
    assert lib.message.startswith(
        f"{AGGREGATE_ABOVE + 2} files under `lib/` without a code owner, 1 of them deliberately"
    )

"""Planning `/claim-ownership` edits: where the CODEOWNERS line goes, what it must not change,
and how a manifest's `spec.owner` is set without rewriting the file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from ghapp.core.ownership.claim import (
    ClaimRefused,
    claim_patterns,
    files_to_claim,
    plan_codeowners_claim,
    target_pattern,
)
from ghapp.core.ownership.codeowners import CodeOwners
from ghapp.core.ownership.yamledits import (
    manifest_owner_value,
    plan_manifest_owner,
    plan_standing_waiver,
)
from ghapp.core.policy.policy import Waiver
from ghapp.core.snapshot import DictSnapshot
from ghapp.core.yamlnodes import load_documents

CODEOWNERS = """\
# Default owners
* @acme/platform

# Services
/services/ @acme/services

# Legacy code stays with the legacy team
/services/foo/legacy/ @acme/legacy
/docs/ @acme/docs
"""

TREE = (
    "README.md",
    "docs/index.md",
    "services/bar/main.py",
    "services/foo/main.py",
    "services/foo/lib/util.py",
    "services/foo/legacy/old.py",
    "tools/new/run.sh",
)


def owners(text: str, path: str) -> tuple[str, ...]:
    match = CodeOwners.from_text(text).owners_of(path)
    return match.owners if match else ()


@pytest.mark.parametrize(
    ("claimed", "patterns"),
    [
        ({"services/foo/main.py"}, ("/services/foo/main.py",)),
        (
            {"services/foo/main.py", "services/foo/lib/util.py"},
            ("/services/foo/lib/", "/services/foo/main.py"),
        ),
        (
            {"services/foo/main.py", "services/foo/lib/util.py", "services/foo/legacy/old.py"},
            ("/services/foo/",),
        ),
        ({"tools/new/run.sh"}, ("/tools/",)),
        ({"my dir/a.txt"}, ("/my\\ dir/",)),
    ],
)
def test_claim_patterns_cover_exactly_the_claimed_files(
    claimed: set[str], patterns: tuple[str, ...]
) -> None:
    assert claim_patterns(claimed, TREE) == patterns


def test_unexpressible_path_is_refused() -> None:
    with pytest.raises(ClaimRefused, match="cannot express"):
        claim_patterns({"weird/[x].txt"}, ("weird/ok.txt",))


@pytest.mark.parametrize(
    ("path", "directory", "pattern"),
    [("services/foo", True, "/services/foo/"), ("", True, "*"), ("a b/c.py", False, "/a\\ b/c.py")],
)
def test_target_pattern(path: str, directory: bool, pattern: str) -> None:
    assert target_pattern(path, directory) == pattern


def assert_only_claimed_changed(
    before: str, after: str, claimed: tuple[str, ...], team: str, tree: tuple[str, ...]
) -> None:
    for path in tree:
        expected = (team,) if path in claimed else owners(before, path)
        assert owners(after, path) == expected, path


def test_directory_claim_keeps_more_specific_rules() -> None:
    under = [p for p in TREE if p.startswith("services/foo/")]
    assert files_to_claim(CODEOWNERS, under, "services/foo", TREE) == (
        "services/foo/lib/util.py",
        "services/foo/main.py",
    )


def test_claim_needing_a_line_in_the_middle_to_win() -> None:
    # After /services/ (broader: it wins today), before /services/foo/legacy/ (keeps winning),
    # right after the last rule it must beat so the legacy comment stays with its rule.
    under = tuple(p for p in TREE if p.startswith("services/foo/"))
    claimed = files_to_claim(CODEOWNERS, under, "services/foo", TREE)
    plan = plan_codeowners_claim(CODEOWNERS, claimed, "@acme/foo", TREE, "/services/foo/")
    assert plan.text == CODEOWNERS.replace(
        "/services/ @acme/services\n", "/services/ @acme/services\n/services/foo/ @acme/foo\n"
    )
    assert plan.changes == ("line 6: added `/services/foo/ @acme/foo`",)
    assert plan.claimed == claimed
    assert_only_claimed_changed(CODEOWNERS, plan.text, claimed, "@acme/foo", TREE)


def test_directory_claim_including_the_specific_rule_goes_after_it() -> None:
    under = tuple(p for p in TREE if p.startswith("services/foo/"))
    plan = plan_codeowners_claim(CODEOWNERS, under, "@acme/foo", TREE, "/services/foo/")
    # Nothing after line 8 constrains it, so it goes where new lines go: the end.
    assert plan.text == CODEOWNERS + "/services/foo/ @acme/foo\n"
    assert_only_claimed_changed(CODEOWNERS, plan.text, under, "@acme/foo", TREE)


def test_claim_at_the_end_preserves_comments_and_blank_lines() -> None:
    plan = plan_codeowners_claim(CODEOWNERS, ["tools/new/run.sh"], "@acme/tools", TREE)
    assert plan.text == CODEOWNERS + "/tools/ @acme/tools\n"
    assert plan.changes == ("line 10: added `/tools/ @acme/tools`",)


def test_files_without_a_pattern_get_the_fewest_lines() -> None:
    claimed = ("services/foo/main.py", "tools/new/run.sh")
    plan = plan_codeowners_claim(CODEOWNERS, claimed, "@acme/foo", TREE)
    assert plan.text == CODEOWNERS + "/services/foo/main.py @acme/foo\n/tools/ @acme/foo\n"
    assert_only_claimed_changed(CODEOWNERS, plan.text, claimed, "@acme/foo", TREE)


def test_claim_at_the_end_of_a_file_without_final_newline() -> None:
    plan = plan_codeowners_claim("* @acme/platform", ["a/b.py"], "@acme/a", ("a/b.py", "c.py"))
    assert plan.text == "* @acme/platform\n/a/ @acme/a\n"


def test_claim_into_an_empty_codeowners() -> None:
    plan = plan_codeowners_claim("", ["a/b.py"], "@acme/a", ("a/b.py", "c.py"))
    assert plan.text == "/a/ @acme/a\n"


def test_wrongly_owned_exact_pattern_is_rewritten_in_place() -> None:
    text = "* @acme/platform\n/services/foo/ @acme/old  # handed over in 2023\n/docs/ @acme/docs\n"
    tree = ("services/foo/a.py", "services/bar/b.py", "docs/x.md", "b.py")
    plan = plan_codeowners_claim(text, ["services/foo/a.py"], "@acme/foo", tree, "/services/foo/")
    assert plan.text == text.replace("@acme/old", "@acme/foo")
    assert plan.changes == ("line 2: owners of `/services/foo/` set to @acme/foo",)


@pytest.mark.parametrize(
    ("text", "claimed", "pattern", "message"),
    [
        # /a/ must come after line 2 (it decides the claimed a/keep.py) and before line 2 (it
        # decides a/d/keep.txt, which is not claimed and must keep its owner).
        (
            "/a/ @acme/old\n/a/**/keep* @acme/keep\n",
            ("a/x.py", "a/keep.py", "a/d/y.py"),
            "/a/",
            "must come after line 2 .* but before line 2",
        ),
        # /a/ would give the unowned, unclaimed a/d/keep.txt to the team.
        ("", ("a/x.py",), "/a/", "would also give a/d/keep.txt"),
    ],
)
def test_claim_that_cannot_be_placed_is_refused(
    text: str, claimed: tuple[str, ...], pattern: str, message: str
) -> None:
    tree = ("a/x.py", "a/keep.py", "a/d/keep.txt", "a/d/y.py")
    with pytest.raises(ClaimRefused, match=message):
        plan_codeowners_claim(text, claimed, "@acme/new", tree, pattern)


def test_already_owned_claim_is_refused_with_nothing_to_change() -> None:
    with pytest.raises(ClaimRefused, match="already owned"):
        plan_codeowners_claim(CODEOWNERS, ["docs/index.md"], "@acme/docs", TREE)


def test_too_many_patterns_are_refused() -> None:
    tree = [f"d{i}/f.py" for i in range(60)] + [f"d{i}/g.py" for i in range(60)]
    with pytest.raises(ClaimRefused, match="claim a directory"):
        plan_codeowners_claim("", [f"d{i}/f.py" for i in range(60)], "@acme/x", tree)


# --- manifests -----------------------------------------------------------------------------

MANIFEST = """\
# Payments service
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
    name: payments   # the service id
    annotations:
        ghapp.dev/tier: "1"
spec:
    type: service
    owner: 'group:default/old-team'  # set by the migration
    lifecycle: production
"""


@pytest.mark.parametrize(
    ("existing", "team", "value"),
    [
        (None, "@acme/payments", "group:payments"),
        ("group:default/old", "@acme/payments", "group:default/payments"),
        ("group:old", "@acme/payments", "group:payments"),
        ("old", "@acme/payments", "payments"),
        ("@acme/old", "@acme/payments", "@acme/payments"),
    ],
)
def test_manifest_owner_value_keeps_the_style(existing: str | None, team: str, value: str) -> None:
    assert manifest_owner_value(existing, team) == value


def test_manifest_owner_edit_keeps_formatting() -> None:
    edited = plan_manifest_owner(MANIFEST, "payments", "group:default/payments")
    assert edited == MANIFEST.replace("'group:default/old-team'", "'group:default/payments'")


def test_manifest_owner_needing_quotes_is_quoted() -> None:
    text = "kind: Component\nmetadata:\n  name: p\nspec:\n  owner: old\n"
    edited = plan_manifest_owner(text, "p", "@acme/payments")
    assert edited == text.replace("owner: old", 'owner: "@acme/payments"')
    assert load_documents(edited)[0]["spec"]["owner"] == "@acme/payments"


def test_manifest_without_owner_gets_one_under_spec() -> None:
    text = MANIFEST.replace("    owner: 'group:default/old-team'  # set by the migration\n", "")
    edited = plan_manifest_owner(text, "payments", "group:payments")
    assert edited == text.replace("spec:\n", "spec:\n    owner: group:payments\n")


def test_manifest_without_spec_gets_spec_and_owner() -> None:
    text = (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: a\n\n"
        "---\nkind: Component\nmetadata:\n  name: b\n"
    )
    edited = plan_manifest_owner(text, "a", "group:a")
    assert edited == text.replace("  name: a\n", "  name: a\nspec:\n  owner: group:a\n")
    edited_b = plan_manifest_owner(text, "b", "group:b")
    assert edited_b == text + "spec:\n  owner: group:b\n"


def test_manifest_with_empty_spec_gets_owner() -> None:
    text = "kind: Component\nmetadata:\n  name: a\nspec:   # to do\n"
    assert plan_manifest_owner(text, "a", "group:a") == text + "  owner: group:a\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: Component\nmetadata: {name: a}\nspec: {type: service}\n", "flow style"),
        ("kind: Component\nmetadata:\n  name: a\nspec:\n  owner: >\n    team\n", "one-line value"),
        ("kind: Component\nmetadata:\n  name: a\nspec: [1]\n", "not a mapping"),
        ("kind: Component\nmetadata:\n  name: b\n", "no entity named 'a'"),
        ("kind: [unclosed\n", "not valid YAML"),
    ],
)
def test_manifest_edits_that_are_refused(text: str, message: str) -> None:
    with pytest.raises(ClaimRefused, match=message):
        plan_manifest_owner(text, "a", "group:a")


@pytest.mark.parametrize(
    ("corpus", "directory"),
    [
        ("esphome__esphome", "esphome/components/sensor"),
        ("esphome__esphome", "tests/components/api"),
        ("RIOT-OS__RIOT", "cpu/esp32"),
        ("RIOT-OS__RIOT", "sys/net"),
    ],
)
def test_directory_claims_on_real_codeowners_change_only_the_claimed_files(
    shared_fixtures: Path, corpus: str, directory: str
) -> None:
    text = (shared_fixtures / "codeowners" / corpus / "CODEOWNERS").read_text()
    tree = tuple(
        line
        for line in (shared_fixtures / "codeowners" / corpus / "files.txt").read_text().splitlines()
        if line
    )
    under = [p for p in tree if p.startswith(f"{directory}/")]
    assert under, f"{directory} is not in the {corpus} file list"
    claimed = files_to_claim(text, under, directory, tree)
    plan = plan_codeowners_claim(text, claimed, "@acme/new", tree, target_pattern(directory, True))
    assert len(plan.text.splitlines()) == len(text.splitlines()) + 1
    before, after = CodeOwners.from_text(text), CodeOwners.from_text(plan.text)
    wanted = set(claimed)
    for path, old, new in zip(tree, before.resolve_all(tree), after.resolve_all(tree), strict=True):
        expected = ("@acme/new",) if path in wanted else (old.owners if old else ())
        assert (new.owners if new else ()) == expected, path


# --- standing waivers --------------------------------------------------------------------

WAIVER = Waiver("scan/missing-sast", "vendor code", "@root", date(2026, 4, 1), service="pay")
ITEM = (
    '- rule: "scan/missing-sast"\n'
    '  service: "pay"\n'
    '  reason: "vendor code"\n'
    '  approved_by: "@root"\n'
    '  until: "2026-04-01"\n'
)


def indented(item: str, indent: str) -> str:
    return "".join(indent + line for line in item.splitlines(keepends=True))


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (None, "waivers:\n" + indented(ITEM, "  ")),
        ("enforce: true  # keep\n", "enforce: true  # keep\nwaivers:\n" + indented(ITEM, "  ")),
        (
            "waivers:\n  - rule: k8s/privileged\n    reason: r\n    approved_by: x\n\nenforce: true\n",
            "waivers:\n  - rule: k8s/privileged\n    reason: r\n    approved_by: x\n"
            + indented(ITEM, "  ")
            + "\nenforce: true\n",
        ),
        ("waivers:\n- rule: a/b\n  reason: r\n  approved_by: x\n", None),
        ("waivers:   # none yet\nenforce: true\n", None),
    ],
)
def test_standing_waiver_is_appended_as_text(config: str | None, expected: str | None) -> None:
    files = {} if config is None else {".github/ghapp.yml": config}
    edit = plan_standing_waiver(DictSnapshot(files), WAIVER)
    assert edit.path == ".github/ghapp.yml"
    if expected is not None:
        assert edit.text == expected
    waivers = load_documents(edit.text)[0]["waivers"]
    assert waivers[-1] == {
        "rule": "scan/missing-sast",
        "service": "pay",
        "reason": "vendor code",
        "approved_by": "@root",
        "until": "2026-04-01",
    }
    assert len(waivers) == (1 if config is None or "- rule" not in config else 2)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("waivers: []\n", "not a block list"),
        ("- a\n- b\n", "not a mapping"),
        ("waivers: [\n", "not valid YAML"),
    ],
)
def test_standing_waiver_refused_when_the_config_cannot_be_edited_as_text(
    config: str, message: str
) -> None:
    with pytest.raises(ClaimRefused, match=message):
        plan_standing_waiver(DictSnapshot({".github/ghapp.yml": config}), WAIVER)

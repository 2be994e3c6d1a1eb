"""Planning `/claim-ownership` edits: where the CODEOWNERS line goes, what it must not change,
and how a manifest's `spec.owner` is set without rewriting the file."""

from __future__ import annotations

import pytest

from ghapp.core.claim import (
    ClaimRefused,
    claim_patterns,
    files_to_claim,
    manifest_owner_value,
    plan_codeowners_claim,
    plan_manifest_owner,
)
from ghapp.core.codeowners import CodeOwners
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
        ({"services/foo/main.py", "services/foo/lib/util.py"}, ("/services/foo/lib/", "/services/foo/main.py")),
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
        claim_patterns({"weird/[x].txt"}, ())


def test_directory_claim_keeps_more_specific_rules() -> None:
    under = [p for p in TREE if p.startswith("services/foo/")]
    assert files_to_claim(CODEOWNERS, under, "services/foo", TREE) == (
        "services/foo/lib/util.py",
        "services/foo/main.py",
    )


def test_claim_needing_a_line_in_the_middle_to_win() -> None:
    claimed = files_to_claim(
        CODEOWNERS, [p for p in TREE if p.startswith("services/foo/")], "services/foo", TREE
    )
    plan = plan_codeowners_claim(CODEOWNERS, claimed, "@acme/foo", TREE)
    # After /services/ (broader, would win otherwise), before /services/foo/legacy/ (keeps winning).
    assert plan.text == CODEOWNERS.replace(
        "/services/ @acme/services\n", "/services/ @acme/services\n/services/foo/lib/ @acme/foo\n"
    ).replace(
        "/services/foo/lib/ @acme/foo\n", "/services/foo/lib/ @acme/foo\n/services/foo/main.py @acme/foo\n"
    ) or plan.text.count("\n") == CODEOWNERS.count("\n") + 1
    for path in TREE:
        expected = ("@acme/foo",) if path in claimed else owners(CODEOWNERS, path)
        assert owners(plan.text, path) == expected


def test_directory_line_goes_between_broader_and_more_specific_rules() -> None:
    tree = (*TREE, "services/foo/api/x.py")
    claimed = tuple(p for p in tree if p.startswith("services/foo/") and "legacy" not in p)
    text = CODEOWNERS + "/services/foo/legacy/ @acme/legacy\n"  # also decided later on
    plan = plan_codeowners_claim(CODEOWNERS, claimed, "@acme/foo", tree)
    lines = plan.text.splitlines()
    assert "/services/foo/ @acme/foo" not in lines  # legacy/ is not claimed: no /services/foo/
    assert text  # the table below checks the general placement rule
    assert lines.index("/services/ @acme/services") < lines.index("/services/foo/api/ @acme/foo")


def test_whole_directory_line_inserted_before_the_specific_rule() -> None:
    text = "* @acme/platform\n/services/ @acme/services\n/services/foo/legacy/ @acme/legacy\n"
    tree = ("services/foo/a.py", "services/foo/legacy/b.py", "services/bar/c.py")
    claimed = files_to_claim(text, tree[:2], "services/foo", tree)
    assert claimed == ("services/foo/a.py",)
    # Claiming the whole directory except legacy/ needs a pattern for a.py only ...
    plan = plan_codeowners_claim(text, claimed, "@acme/foo", tree)
    assert plan.text.endswith("/services/foo/a.py @acme/foo\n")
    # ... while claiming the directory including legacy/'s winner must come after it:
    plan = plan_codeowners_claim(text, tree[:2], "@acme/foo", tree)
    assert plan.text.endswith("/services/foo/legacy/ @acme/legacy\n/services/foo/ @acme/foo\n")


def test_claim_in_the_middle_when_a_later_specific_rule_must_keep_winning() -> None:
    text = (
        "* @acme/platform\n"
        "\n"
        "# API gateway\n"
        "/gateway/ @acme/gateway\n"
        "\n"
        "# Everything under services that is generated\n"
        "/services/**/gen/ @acme/codegen\n"
    )
    tree = ("services/foo/a.py", "services/foo/gen/b.py", "gateway/x.py")
    plan = plan_codeowners_claim(text, ["services/foo/a.py"], "@acme/foo", tree)
    assert plan.text == text + "/services/foo/a.py @acme/foo\n"
    # A claim of the directory's files would cover gen/ too: /services/foo/ must stay before
    # line 7 so gen/ keeps its owner, and after nothing in particular: it goes after line 4.
    claimed = files_to_claim(text, tree[:2], "services/foo", tree)
    assert claimed == ("services/foo/a.py",)
    tree2 = (*tree, "services/foo/c.py")
    plan = plan_codeowners_claim(text, ["services/foo/a.py", "services/foo/c.py"], "@acme/foo", tree2)
    assert plan.text.splitlines()[-1] == "/services/foo/c.py @acme/foo"


def test_middle_placement_keeps_comment_with_its_rule() -> None:
    text = (
        "* @acme/platform\n"
        "/services/ @acme/services\n"
        "\n"
        "# Generated code\n"
        "/services/**/gen/ @acme/codegen\n"
    )
    tree = ("services/foo/a.py", "services/foo/b/c.py", "services/foo/gen/b.py", "x.py")
    plan = plan_codeowners_claim(
        text, ["services/foo/a.py", "services/foo/b/c.py", "services/foo/gen/b.py"], "@acme/foo",
        (*tree, "services/bar/gen/z.py"),
    )
    # gen/ of foo is claimed and decided by line 5, so the new line comes after it (the end).
    assert plan.text.endswith("/services/**/gen/ @acme/codegen\n/services/foo/ @acme/foo\n")
    # Without claiming gen/, the gen/ rule must keep winning: one line after /services/,
    # before the comment block of the gen/ rule.
    tree3 = ("services/foo/a.py", "services/foo/gen/b.py", "services/foo/x/y.py")
    text3 = text.replace("/services/**/gen/", "/services/foo/gen/")
    claimed = files_to_claim(text3, tree3, "services/foo", tree3)
    plan = plan_codeowners_claim(text3, claimed, "@acme/foo", tree3)
    assert plan.text.splitlines() == [
        "* @acme/platform",
        "/services/ @acme/services",
        "/services/foo/a.py @acme/foo",
        "/services/foo/x/ @acme/foo",
        "",
        "# Generated code",
        "/services/foo/gen/ @acme/codegen",
    ] or plan.text.splitlines()[2:4] == ["/services/foo/x/ @acme/foo", "/services/foo/a.py @acme/foo"]


def test_claim_at_the_end_preserves_comments_and_blank_lines() -> None:
    plan = plan_codeowners_claim(CODEOWNERS, ["tools/new/run.sh"], "@acme/tools", TREE)
    assert plan.text == CODEOWNERS + "/tools/ @acme/tools\n"
    assert plan.changes == ("line 10: added `/tools/ @acme/tools`",)


def test_claim_at_the_end_of_a_file_without_final_newline() -> None:
    plan = plan_codeowners_claim("* @acme/platform", ["a/b.py"], "@acme/a", ("a/b.py", "c.py"))
    assert plan.text == "* @acme/platform\n/a/ @acme/a\n"


def test_claim_into_an_empty_codeowners() -> None:
    plan = plan_codeowners_claim("", ["a/b.py"], "@acme/a", ("a/b.py", "c.py"))
    assert plan.text == "/a/ @acme/a\n"


def test_wrongly_owned_exact_pattern_is_rewritten_in_place() -> None:
    text = "* @acme/platform\n/services/foo/ @acme/old  # handed over in 2023\n/docs/ @acme/docs\n"
    tree = ("services/foo/a.py", "docs/x.md", "b.py")
    plan = plan_codeowners_claim(text, ["services/foo/a.py"], "@acme/foo", tree)
    assert plan.text == text.replace("@acme/old ", "@acme/foo")
    assert plan.changes == ("line 2: owners of `/services/foo/` set to @acme/foo",)


@pytest.mark.parametrize(
    ("text", "claimed", "message"),
    [
        # a/x.py is claimed and decided by line 2; a/y.py (not claimed) by line 1: a pattern
        # covering both ... is never produced: the planner writes /a/x.py instead, so use a
        # file whose own pattern is shadowed by a later rule that must keep a sibling.
        ("/a/ @acme/keep\n/a/*.py @acme/py\n", ["a/x.py"], None),
        ("* @acme/platform\n", ["a.py"], None),
    ],
)
def test_simple_claims_are_placed(text: str, claimed: list[str], message: str | None) -> None:
    tree = ("a/x.py", "a/y.txt", "a.py", "b.py")
    plan = plan_codeowners_claim(text, claimed, "@acme/t", tree)
    for path in tree:
        assert owners(plan.text, path) == (
            ("@acme/t",) if path in claimed else owners(text, path)
        )
    assert message is None


def test_claim_that_cannot_be_placed_is_refused() -> None:
    # `/a/` is the claim (both files of a/), but a later `*.py` rule must keep winning for the
    # unclaimed b.py and also decides a/x.py: /a/ must come after line 2 (to win a/x.py) and
    # before line 2 (where b.py ... no: b.py is not under /a/). Use a rule that matches both a
    # claimed and an unclaimed file under the claimed pattern instead:
    text = "/a/ @acme/old\n/a/**/keep* @acme/keep\n"
    tree = ("a/x.py", "a/keep.py", "a/d/keep.txt", "a/d/y.py")
    with pytest.raises(ClaimRefused, match="no place in CODEOWNERS works") as caught:
        # a/d/ is claimed whole except keep.txt, which line 2 decides and must keep; but the
        # claimed a/d/keep... is not in the tree, so claim a/keep.py (decided by line 2) and
        # a/x.py while a/d/keep.txt (also line 2) stays: /a/keep.py and /a/x.py are files,
        # placeable. Force one pattern by claiming everything under a/ except a/d/keep.txt.
        plan_codeowners_claim(text, ["a/x.py", "a/keep.py", "a/d/y.py"], "@acme/new", tree)
    assert "line 2" in str(caught.value)


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
    assert edited == MANIFEST.replace(
        "'group:default/old-team'", "'group:default/payments'"
    )


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

"""Workflow hygiene rules: each fixture under tests/data/workflows/hygiene marks the lines where a
finding is expected with `ruleid: <rule>`; every other line must stay clean."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from ghapp.core.context import Context
from ghapp.core.evaluate import evaluate
from ghapp.core.policy.policy import Policy, parse_policy
from ghapp.core.snapshot import DictSnapshot
from ghapp.core.workflows.hygiene import check_workflows
from ghapp.rules import default_catalog

HYGIENE = Path(__file__).parent / "data" / "workflows" / "hygiene"
MARK = re.compile(r"ruleid: (workflow/[a-z-]+)")


def run(files: dict[str, str]) -> list:
    ctx = Context(DictSnapshot(files), default_catalog(), Policy(), date(2026, 1, 1))
    return list(check_workflows(ctx))


def expected(text: str) -> set[tuple[str, int]]:
    return {
        (m.group(1), number)
        for number, line in enumerate(text.splitlines(), 1)
        for m in MARK.finditer(line)
    }


@pytest.mark.parametrize("fixture", sorted(p.name for p in HYGIENE.glob("*.yml")))
def test_findings_are_exactly_the_marked_lines(fixture: str) -> None:
    text = (HYGIENE / fixture).read_text()
    findings = run({f".github/workflows/{fixture}": text})
    assert {(f.rule, f.line) for f in findings} == expected(text)


def test_every_workflow_rule_has_a_fixture() -> None:
    marked = set()
    for path in HYGIENE.glob("*.yml"):
        marked |= {rule for rule, _ in expected(path.read_text())}
    rules = {r for r in default_catalog().rules if r.startswith("workflow/")}
    assert rules == marked


def test_script_injection_points_at_the_expression_column() -> None:
    text = (
        "on: issues\npermissions: {}\njobs:\n  a:\n    steps:\n      - run: |\n"
        "          echo hi\n          echo ${{ github.event.issue.title }}\n"
    )
    (finding,) = run({".github/workflows/a.yml": text})
    assert (finding.line, finding.column) == (8, 16)
    assert "github.event.issue.title" in finding.message


def test_unpinned_action_has_no_invented_suggestion() -> None:
    text = "on: push\npermissions: {}\njobs:\n  a:\n    steps:\n      - uses: foo/bar@v1\n"
    (finding,) = run({".github/workflows/a.yml": text})
    assert finding.suggestion is None
    assert finding.fix and "SHA" in finding.fix
    assert finding.subject == "foo/bar"


def test_workflows_outside_the_workflows_folder_are_ignored() -> None:
    bad = "on: push\njobs:\n  a:\n    steps:\n      - uses: foo/bar@v1\n"
    assert run({".github/workflows/sub/a.yml": bad, "ci/a.yml": bad}) == []


@pytest.mark.parametrize(
    "text",
    ["", "\x00\x01", "[1, 2", "on: push\njobs: 3\n", "- a\n- b\n", "a: &a [*a]\n", "on:\n" * 5],
)
def test_odd_files_never_crash(text: str) -> None:
    findings = run({".github/workflows/odd.yml": text})
    assert all(f.rule == "workflow/invalid" for f in findings)


def by_rule(findings: list, rule: str) -> list:
    return [f for f in findings if f.rule == rule]


def test_untrusted_checkout_names_the_step_that_executes_the_code() -> None:
    text = (HYGIENE / "untrusted_checkout.yml").read_text()
    found = by_rule(run({".github/workflows/u.yml": text}), "workflow/untrusted-checkout")
    assert [f.message.split("; ", 1)[1] for f in found] == [
        "step `Build` (line 21) then executes it: `make preview`",
        "step `./.github/actions/lint` (line 38) then executes it: the local action "
        "`./.github/actions/lint`",
        "step `step 2` (line 56) then executes it: `make generate`",
    ]


PR_CI = "name: CI\non: pull_request\npermissions: {}\njobs:\n  t:\n    steps:\n      - run: make\n"
PUSH_CI = "name: CI\non: push\npermissions: {}\njobs:\n  t:\n    steps:\n      - run: make\n"
AFTER_CI = """\
on:
  workflow_run:
    workflows: [CI]
permissions: {}
jobs:
  deploy:
    steps:
      - uses: actions/checkout@1a4442cacd436585916779262731d5b162bc6ec7
        with:
          ref: ${{ github.event.workflow_run.head_sha }}
      - run: make deploy
"""


@pytest.mark.parametrize(
    ("ci", "reported"),
    [(PR_CI, True), (PUSH_CI, False), (None, True)],
)
def test_workflow_run_matters_only_when_a_fork_can_set_it_off(
    ci: str | None, reported: bool
) -> None:
    files = {".github/workflows/after.yml": AFTER_CI}
    if ci is not None:
        files[".github/workflows/ci.yml"] = ci
    rules = {f.rule for f in run(files)}
    expected = {"workflow/dangerous-trigger", "workflow/untrusted-checkout"}
    assert (expected <= rules) is reported
    assert not (expected & rules) or reported


def test_workflow_run_chains_are_followed() -> None:
    middle = "name: Middle\non:\n  workflow_run:\n    workflows: [CI]\npermissions: {}\njobs:\n  m:\n    steps:\n      - run: echo\n"
    last = AFTER_CI.replace("[CI]", "[Middle]")
    files = {
        ".github/workflows/ci.yml": PR_CI,
        ".github/workflows/middle.yml": middle,
        ".github/workflows/after.yml": last,
    }
    assert by_rule(run(files), "workflow/untrusted-checkout")
    files[".github/workflows/ci.yml"] = PUSH_CI
    assert not by_rule(run(files), "workflow/untrusted-checkout")


RELEASE = """\
on:
  push:
    tags: ['v*']
permissions:
  contents: write
jobs:
  release:
    steps:
      - uses: actions/checkout@1a4442cacd436585916779262731d5b162bc6ec7
        with:
          persist-credentials: false
      - uses: actions/setup-go@1a4442cacd436585916779262731d5b162bc6ec7
      - uses: goreleaser/goreleaser-action@1a4442cacd436585916779262731d5b162bc6ec7
"""


def test_cache_poisoning_needs_a_job_that_runs_pull_request_code() -> None:
    assert not by_rule(run({".github/workflows/release.yml": RELEASE}), "workflow/cache-poisoning")
    pwn = (HYGIENE / "persist_credentials_pwn.yml").read_text()
    found = run({".github/workflows/release.yml": RELEASE, ".github/workflows/pr.yml": pwn})
    (finding,) = by_rule(found, "workflow/cache-poisoning")
    assert (finding.path, finding.line) == (".github/workflows/release.yml", 12)
    assert "`actions/setup-go` caches by default" in finding.message
    assert "job `test` of .github/workflows/pr.yml runs pull-request code" in finding.message


SLSA = """\
on: push
permissions: {}
jobs:
  provenance:
    uses: slsa-framework/slsa-github-generator/.github/workflows/generator_generic_slsa3.yml@v2.1.0
  deploy:
    uses: my-org/deploy/.github/workflows/deploy.yml@v3
"""


def test_actions_that_must_use_a_tag_are_never_unpinned() -> None:
    unpinned = by_rule(run({".github/workflows/a.yml": SLSA}), "workflow/unpinned-action")
    assert [f.line for f in unpinned] == [7]
    policy, problems = parse_policy(
        "version: 1\nworkflows:\n  tag_pinned_actions: ['my-org/deploy/.github/workflows/*']\n"
    )
    assert problems == ()
    ctx = Context(DictSnapshot({".github/workflows/a.yml": SLSA}), default_catalog(), policy,
                  date(2026, 1, 1))  # fmt: skip
    assert by_rule(list(check_workflows(ctx)), "workflow/unpinned-action") == []


def test_a_bad_tag_pinned_pattern_is_a_config_error() -> None:
    _, problems = parse_policy("version: 1\nworkflows:\n  tag_pinned_actions: ['no-slash@v1']\n")
    assert [p.rule for p in problems] == ["config/invalid"]


def test_bumping_an_unpinned_action_is_not_a_new_finding() -> None:
    base = "on: push\npermissions: {}\njobs:\n  a:\n    steps:\n      - uses: Foo/bar@v6\n"
    head = base.replace("@v6", "@v7") + "      - uses: other/tool@v1\n"
    report = evaluate(
        DictSnapshot({".github/workflows/a.yml": head}),
        base=DictSnapshot({".github/workflows/a.yml": base}),
        catalog=default_catalog(),
        today=date(2026, 1, 1),
    )
    unpinned = by_rule(list(report.findings), "workflow/unpinned-action")
    assert [(f.subject, f.new) for f in unpinned] == [("foo/bar", False), ("other/tool", True)]


TAGGED = """\
on: push
permissions: {}
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/cache/save@v4
      - uses: grafana/shared-workflows/actions/login@v1
      - uses: someone/else@v1
      - uses: actions/setup-go
"""


def test_tags_the_repositorys_zizmor_policy_accepts_are_not_unpinned() -> None:
    zizmor = (
        "rules:\n  unpinned-uses:\n    config:\n      policies:\n"
        "        actions/*: any  # trust GitHub\n        grafana/*: ref-pin\n"
        "        someone/*: hash-pin\n"
    )
    found = run({".github/workflows/a.yml": TAGGED, ".github/zizmor.yml": zizmor})
    unpinned = [f for f in found if f.rule.startswith("workflow/unpinned")]
    # someone/else must be hash-pinned; a `uses:` without any ref is never a ref-pin
    assert [(f.line, f.subject) for f in unpinned] == [
        (10, "someone/else"),
        (11, "actions/setup-go"),
    ]


PR_TARGET = """\
on:
  pull_request_target:{comment}
permissions: {{}}
jobs:
  label:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/labeler@8558fd74291d67161a8a78ce36a881fa63b766a9
"""


@pytest.mark.parametrize(
    ("files", "waiver"),
    [
        (
            {".github/workflows/label.yml": PR_TARGET.format(
                comment="  # zizmor: ignore[dangerous-triggers] labels only, no PR code")},
            "accepted inline at .github/workflows/label.yml:2",
        ),
        (
            {
                ".github/workflows/label.yml": PR_TARGET.format(comment=""),
                ".github/zizmor.yml": "rules:\n  dangerous-triggers:\n    ignore:\n      - label.yml\n",
            },
            "accepted in .github/zizmor.yml",
        ),
        ({".github/workflows/label.yml": PR_TARGET.format(comment="")}, None),
    ],
)  # fmt: skip
def test_a_dangerous_trigger_the_repository_accepted_for_zizmor_is_waived(
    files: dict[str, str], waiver: str | None
) -> None:
    [trigger] = by_rule(run(files), "workflow/dangerous-trigger")
    assert trigger.waived is (waiver is not None)
    assert (trigger.waiver or "").startswith(waiver or "")


def test_accepting_the_trigger_for_zizmor_does_not_accept_running_pr_code() -> None:
    pwn = PR_TARGET.format(comment="  # zizmor: ignore[dangerous-triggers]").replace(
        "      - uses: actions/labeler@8558fd74291d67161a8a78ce36a881fa63b766a9\n",
        "      - uses: actions/checkout@8558fd74291d67161a8a78ce36a881fa63b766a9\n"
        "        with:\n          ref: ${{ github.event.pull_request.head.sha }}\n"
        "      - run: npm install && npm test\n",
    )
    found = run({".github/workflows/label.yml": pwn})
    assert [f.waived for f in by_rule(found, "workflow/untrusted-checkout")] == [False]

"""Workflow hygiene rules: each fixture under tests/data/workflows/hygiene marks the lines where a
finding is expected with `ruleid: <rule>`; every other line must stay clean."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from ghapp.core.context import Context
from ghapp.core.policy.policy import Policy
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
    assert finding.subject == "foo/bar@v1"


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

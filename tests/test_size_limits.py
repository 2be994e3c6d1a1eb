"""A file ghapp cannot read in full (over the YAML limits, or unreadable) is itself a blocking
finding where its content would have been checked: never silence, never "no config"."""

from __future__ import annotations

from datetime import date

from ghapp.core.evaluate import evaluate
from ghapp.core.model import Report
from ghapp.core.snapshot import DictSnapshot
from ghapp.core.yamlnodes import MAX_YAML_BYTES
from ghapp.rules import default_catalog

TODAY = date(2026, 1, 15)
PADDING = "#" * MAX_YAML_BYTES + "\n"
WORKFLOW = """\
on: pull_request_target
permissions: write-all
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with: {ref: "${{ github.event.pull_request.head.sha }}"}
"""
MANIFEST = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: pay}\n"
POLICY = "enforce: true\n"


class Unreadable(DictSnapshot):
    """Lists a file it cannot give the bytes of (as the CLI's snapshots do past 25 MB)."""

    def __init__(self, files: dict[str, str], unreadable: str) -> None:
        super().__init__({**files, unreadable: ""})
        self.unreadable = unreadable

    def read(self, path: str) -> bytes | None:
        return None if path == self.unreadable else super().read(path)

    def size(self, path: str) -> int | None:
        return 30_000_000 if path == self.unreadable else super().size(path)


def run(head: DictSnapshot | dict[str, str], base: dict[str, str] | None = None) -> Report:
    return evaluate(
        head if isinstance(head, DictSnapshot) else DictSnapshot(head),
        base=DictSnapshot(base) if base is not None else None,
        catalog=default_catalog(),
        today=TODAY,
    )


def errors(report: Report, rule: str) -> list[tuple[str | None, bool]]:
    return [(f.path, f.new) for f in report.findings if f.rule == rule and f.severity == "error"]


def test_workflow_over_the_limit_is_an_error_not_a_warning() -> None:
    report = run({".github/ghapp.yml": POLICY, ".github/workflows/a.yml": WORKFLOW + PADDING})
    assert errors(report, "workflow/unreadable") == [(".github/workflows/a.yml", True)]
    assert report.conclusion == "failure"


def test_workflow_that_cannot_be_read_is_an_error() -> None:
    report = run(Unreadable({".github/ghapp.yml": POLICY}, ".github/workflows/a.yml"))
    (finding,) = [f for f in report.findings if f.rule == "workflow/unreadable"]
    assert "30,000,000 bytes" in finding.message and report.conclusion == "failure"


def test_an_unchanged_large_workflow_is_not_new_but_a_changed_one_is() -> None:
    base = {".github/ghapp.yml": POLICY, ".github/workflows/a.yml": WORKFLOW + PADDING}
    assert errors(run(base, base=base), "workflow/unreadable") == [
        (".github/workflows/a.yml", False)
    ]
    head = {**base, ".github/workflows/a.yml": WORKFLOW + "      - run: evil\n" + PADDING}
    assert errors(run(head, base=base), "workflow/unreadable") == [
        (".github/workflows/a.yml", True)
    ]


def test_policy_over_the_limit_is_an_error_and_the_enforcing_defaults_apply() -> None:
    report = run({".github/ghapp.yml": POLICY + PADDING, "deploy/x.txt": "x"})
    assert report.policy_configured and report.conclusion == "failure"
    (finding,) = [f for f in report.findings if f.rule == "config/invalid"]
    assert finding.path == ".github/ghapp.yml" and "over the" in finding.message


def test_policy_that_cannot_be_read_is_never_treated_as_missing() -> None:
    report = run(Unreadable({"a.txt": "x"}, ".github/ghapp.yml"))
    assert report.policy_configured and report.conclusion == "failure"
    assert errors(report, "config/invalid") == [(".github/ghapp.yml", True)]


def test_manifest_over_the_limit_or_unreadable_is_an_error() -> None:
    big = run({"catalog-info.yaml": MANIFEST + PADDING})
    assert errors(big, "manifest/invalid-yaml") == [("catalog-info.yaml", True)]
    gone = run(Unreadable({}, "svc/catalog-info.yaml"))
    assert errors(gone, "manifest/invalid-yaml") == [("svc/catalog-info.yaml", True)]


def test_a_comment_inside_unread_content_cannot_waive_it() -> None:
    comment = "# ghapp: ignore[workflow/unreadable] generated file, trust me\n"
    bomb = 'l0: &l0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]\n' + "".join(
        f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 9)
    )
    for workflow in (comment + WORKFLOW + PADDING, comment + bomb + WORKFLOW):
        report = run({".github/ghapp.yml": POLICY, ".github/workflows/a.yml": workflow})
        (finding,) = [f for f in report.findings if f.rule == "workflow/unreadable"]
        assert not finding.waived and report.conclusion == "failure"


def test_a_composite_action_ghapp_cannot_read_in_full_is_an_error() -> None:
    action = "runs:\n  using: composite\n  steps:\n    - run: echo ${{ github.head_ref }}\n"
    report = run(
        {
            ".github/ghapp.yml": POLICY,
            ".github/actions/big/action.yml": action + PADDING,
            ".github/actions/ok/action.yml": action,
        }
    )
    assert errors(report, "workflow/unreadable") == [(".github/actions/big/action.yml", True)]
    assert errors(report, "workflow/script-injection") == [(".github/actions/ok/action.yml", True)]

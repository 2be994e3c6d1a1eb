"""Inline suppressions: `# ghapp: ignore[rule-id] reason` waives, never hides, and is itself
checked (a suppression that matches nothing is a notice)."""

from __future__ import annotations

from datetime import date

import pytest

from ghapp.core.evaluate import evaluate
from ghapp.core.model import Finding, Report
from ghapp.core.policy.suppressions import find_suppressions
from ghapp.core.snapshot import DictSnapshot
from ghapp.rules import default_catalog

TODAY = date(2026, 11, 23)
POLICY = "version: 1\n"
UNPINNED = "workflow/unpinned-action"


def workflow(uses_line: str, above: str = "") -> str:
    return (
        "on: pull_request\n"
        "permissions: {}\n"
        "jobs:\n"
        "  build:\n"
        "    runs-on: ubuntu-latest\n"
        "    steps:\n"
        f"{above}"
        f"      {uses_line}\n"
    )


def run(files: dict[str, str], base: dict[str, str] | None = None) -> Report:
    return evaluate(
        DictSnapshot({".github/ghapp.yml": POLICY, **files}),
        base=DictSnapshot({".github/ghapp.yml": POLICY, **base}) if base is not None else None,
        catalog=default_catalog(),
        today=TODAY,
    )


def only(report: Report, rule: str) -> Finding:
    found = [f for f in report.findings if f.rule == rule]
    assert len(found) == 1, found
    return found[0]


def test_a_suppression_on_the_offending_line_waives_the_finding_with_its_reason() -> None:
    wf = workflow("- uses: acme/deploy@v1  # ghapp: ignore[workflow/unpinned-action] vendored fork")
    report = run({".github/workflows/ci.yml": wf})
    finding = only(report, UNPINNED)
    assert finding.waived and finding.line == 7
    assert finding.waiver == ("suppressed inline at .github/workflows/ci.yml:7: vendored fork")
    assert not [f for f in report.findings if f.rule == "config/unused-suppression"]


def test_a_suppression_on_the_line_above_waives_the_next_line() -> None:
    above = "      # ghapp: ignore[workflow/unpinned-action] pinned by Renovate next week\n"
    report = run({".github/workflows/ci.yml": workflow("- uses: acme/deploy@v1", above)})
    assert only(report, UNPINNED).waived


def test_stacked_comment_lines_all_reach_the_first_line_of_content() -> None:
    above = "      # ghapp: ignore[workflow/unpinned-action] reviewed\n      # (the fork is ours)\n"
    report = run({".github/workflows/ci.yml": workflow("- uses: acme/deploy@v1", above)})
    assert only(report, UNPINNED).waived


def test_a_waived_finding_is_reported_and_does_not_block() -> None:
    files = {
        ".github/workflows/ci.yml": workflow(
            "- run: echo ${{ github.event.pull_request.title }}  "
            "# ghapp: ignore[workflow/script-injection] sandboxed runner"
        )
    }
    report = run(files)
    finding = only(report, "workflow/script-injection")
    assert finding.waived and finding.severity == "error"
    assert report.conclusion == "success"
    assert report.to_json()["findings"][0]["waiver"].endswith("sandboxed runner")


def test_a_suppression_for_another_rule_or_line_waives_nothing_and_is_a_notice() -> None:
    wf = workflow("- uses: acme/deploy@v1  # ghapp: ignore[workflow/secrets-inherit] wrong rule")
    report = run({".github/workflows/ci.yml": wf})
    assert not only(report, UNPINNED).waived
    unused = only(report, "config/unused-suppression")
    assert unused.severity == "notice" and unused.line == 7
    assert "matches no finding on line 7" in unused.message


def test_a_mistyped_rule_id_is_named_in_the_notice() -> None:
    wf = workflow("- uses: acme/deploy@v1  # ghapp: ignore[workflow/unpined-action] typo")
    unused = only(run({".github/workflows/ci.yml": wf}), "config/unused-suppression")
    assert "names no ghapp rule (workflow/unpined-action)" in unused.message


def test_a_stale_suppression_after_the_fix_is_reported() -> None:
    sha = "8aad20d150bbac5944a9f9d289da16a4b0d87c1e"
    wf = workflow(f"- uses: acme/deploy@{sha}  # ghapp: ignore[workflow/unpinned-action] old")
    report = run({".github/workflows/ci.yml": wf})
    assert not [f for f in report.findings if f.rule == UNPINNED]
    assert only(report, "config/unused-suppression").path == ".github/workflows/ci.yml"


def test_codeowners_lines_take_suppressions_trailing_and_above() -> None:
    # A duplicate is reported on the earlier line, the one that never decides an owner.
    codeowners = (
        "/docs/ @acme/docs  # ghapp: ignore[codeowners/duplicate-pattern] kept for the migration\n"
        "/docs/ @acme/writers\n"
        "# ghapp: ignore[codeowners/duplicate-pattern] same\n"
        "/api/ @acme/api\n"
        "/api/ @acme/platform\n"
    )
    report = run({".github/CODEOWNERS": codeowners, "docs/a.md": "a", "api/b.py": "b"})
    duplicates = [f for f in report.findings if f.rule == "codeowners/duplicate-pattern"]
    assert duplicates and all(f.waived for f in duplicates)
    assert {f.line for f in duplicates} == {1, 4}
    assert not [f for f in report.findings if f.rule == "config/unused-suppression"]


def test_kubernetes_findings_are_suppressed_in_the_manifest() -> None:
    deployment = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  template:
    spec:
      containers:
        - name: api
          image: acme/api:1.2.3
          securityContext:
            privileged: true  # ghapp: ignore[k8s/privileged] needs the host's devices
"""
    report = run({"k8s/api.yaml": deployment})
    privileged = only(report, "k8s/privileged")
    assert privileged.waived and "needs the host's devices" in (privileged.waiver or "")


def test_suppressions_in_the_config_file_waive_config_findings() -> None:
    policy = "version: 1\nseverities:\n  nope/rule: 3  # ghapp: ignore[config/invalid] testing\n"
    report = evaluate(
        DictSnapshot({".github/ghapp.yml": policy}),
        catalog=default_catalog(),
        today=TODAY,
    )
    invalid = {f.line: f.waived for f in report.findings if f.rule == "config/invalid"}
    assert invalid == {2: False, 3: True}  # the key's line has its own, unsuppressed, problem


def test_an_existing_unused_suppression_is_not_new_in_a_pull_request() -> None:
    wf = workflow("- uses: ./local  # ghapp: ignore[workflow/unpinned-action] stale")
    files = {".github/workflows/ci.yml": wf}
    report = run({**files, "README.md": "changed"}, base=files)
    assert only(report, "config/unused-suppression").new is False


@pytest.mark.parametrize(
    ("line", "rules", "reason"),
    [
        ("key: v  # ghapp: ignore[a/b] because", ("a/b",), "because"),
        ("key: v #ghapp:ignore[a/b,c/d]", ("a/b", "c/d"), ""),
        ("# ghapp: ignore[ a/b , c/d ]   two words  ", ("a/b", "c/d"), "two words"),
    ],
)
def test_the_comment_syntax(line: str, rules: tuple[str, ...], reason: str) -> None:
    (found,) = [s for s in find_suppressions("x.yml", f"{line}\nnext: 1\n") if s.target]
    assert found.rules == rules and found.reason == reason


def test_a_marker_inside_a_value_is_not_a_comment() -> None:
    assert find_suppressions("x.yml", 'msg: "a#ghapp: ignore[a/b] no"\n') == ()


def test_a_long_run_of_spaces_in_a_suppression_comment_is_read_in_linear_time() -> None:
    # `(.*?)\s*$` took minutes on a million spaces followed by more text (a quadratic regex).
    line = "x: 1  # ghapp: ignore[k8s/privileged] see below" + " " * 1_000_000 + "ok\n"
    (suppression,) = find_suppressions("a.yaml", line)
    assert suppression.reason.startswith("see below") and suppression.reason.endswith(" ok")

"""Test fixtures are not deploy config: paths under test directories, at any depth.

Kubernetes and service-manifest findings there (a repository's test data holds deliberately
broken Deployments and fake catalog entities), and those a check marks `fixture` (Helm test
pods), are not reported unless the policy asks for them (`test_fixtures: {report: true}`); the
report says how many were left out. So are Kubernetes findings in generated files that repeat a
finding reported in another file (`Finding.copy_of`, ghapp.core.kubernetes.checks).
"""

from __future__ import annotations

from ghapp.core.model import Finding

TEST_DIRS = frozenset({"test", "tests", "testdata", "e2e", "fixtures", "__fixtures__"})
FIXTURE_RULE_GROUPS = ("k8s/", "manifest/")


def is_test_path(path: str) -> bool:
    """Whether a directory of `path` (not the file name itself) is a test directory."""
    return any(part.lower() in TEST_DIRS for part in path.split("/")[:-1])


def is_fixture_finding(finding: Finding) -> bool:
    """A Kubernetes or manifest finding on a file under a test directory, or marked as about
    a test fixture by its check (a Helm test pod)."""
    if not finding.rule.startswith(FIXTURE_RULE_GROUPS):
        return False
    return finding.fixture or (finding.path is not None and is_test_path(finding.path))


def skipped_note(findings: int, services: int) -> str:
    """The report's note on what was left out."""
    parts = []
    if findings:
        parts.append(f"{findings} Kubernetes and service-manifest finding{_s(findings)}")
    if services:
        parts.append(f"{services} service manifest{_s(services)}")
    where = ", ".join(f"{d}/" for d in sorted(TEST_DIRS))
    return (
        f"Not reported: {' and '.join(parts)} on test fixtures (under {where}, or Helm test"
        " pods): test fixtures are not deploy config. Set `test_fixtures: {report: true}` in"
        " .github/ghapp.yml to report them."
    )


def copies_note(findings: int) -> str:
    """The report's note on Kubernetes findings left out as generated copies."""
    return (
        f"Not reported: {findings} Kubernetes finding{_s(findings)} in generated files"
        " (`DO NOT EDIT`) that repeat one reported in another file (same rule, workload and"
        " container): fix it there and regenerate."
    )


def _s(count: int) -> str:
    return "" if count == 1 else "s"

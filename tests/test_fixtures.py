"""Test fixtures are not deploy config: k8s and manifest findings there are counted, not reported."""

from __future__ import annotations

import json
from datetime import date

import pytest

from ghapp.core.evaluate import evaluate
from ghapp.core.fixtures import is_test_path
from ghapp.core.model import Report
from ghapp.core.snapshot import DictSnapshot
from ghapp.render import render_json, render_markdown, render_sarif, render_text
from ghapp.rules import default_catalog

POD = """\
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
    - name: web
      image: nginx:latest
"""
COMPONENT = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: fake}
spec: {owner: group:nobody, tier: gold}
"""


@pytest.mark.parametrize(
    ("path", "fixture"),
    [
        ("test/pod.yaml", True),
        ("pkg/health/testdata/pod.yaml", True),
        ("tests/k8s/deploy.yaml", True),
        ("e2e/manifests/deploy.yaml", True),
        ("src/__fixtures__/catalog-info.yaml", True),
        ("spec/fixtures/pod.yaml", True),
        ("Tests/pod.yaml", True),
        ("deploy/test.yaml", False),  # a file name, not a directory
        ("deploy/pod.yaml", False),
        ("latest/pod.yaml", False),
        ("contest/pod.yaml", False),
    ],
)
def test_test_directories_at_any_depth(path: str, fixture: bool) -> None:
    assert is_test_path(path) is fixture


def run(files: dict[str, str]) -> Report:
    return evaluate(DictSnapshot(files), catalog=default_catalog(), today=date(2026, 1, 1))


FILES = {
    "CODEOWNERS": "* @acme/platform\n",
    "deploy/pod.yaml": POD,
    "test/e2e/testdata/pod.yaml": POD,
    "plugins/x/src/__fixtures__/catalog-info.yaml": COMPONENT,
}


def test_findings_and_services_under_test_directories_are_counted_not_reported() -> None:
    report = run(FILES)
    assert {f.path for f in report.findings if f.rule.startswith(("k8s/", "manifest/"))} == {
        "deploy/pod.yaml"
    }
    assert report.services == ()
    pod_findings = sum(f.path == "deploy/pod.yaml" for f in report.findings)
    (note,) = [n for n in report.notes if n.startswith("Not reported")]
    assert f"{pod_findings} Kubernetes and service-manifest findings" in note
    assert "1 service manifest on test fixtures" in note
    assert "test_fixtures: {report: true}" in note


def test_the_policy_turns_them_back_on() -> None:
    report = run({**FILES, ".github/ghapp.yml": "version: 1\ntest_fixtures: {report: true}\n"})
    paths = {f.path for f in report.findings if f.rule.startswith(("k8s/", "manifest/"))}
    assert "test/e2e/testdata/pod.yaml" in paths
    assert "plugins/x/src/__fixtures__/catalog-info.yaml" in paths
    assert [s.name for s in report.services] == ["fake"]
    assert not any(n.startswith("Not reported") for n in report.notes)


def test_other_findings_under_test_directories_are_still_reported() -> None:
    report = run({"CODEOWNERS": "/src/ @acme/dev\n", "src/a.py": "", "test/e2e/pod.yaml": POD})
    unowned = [f for f in report.findings if f.rule == "codeowners/unowned-file"]
    assert "test/e2e/pod.yaml" in [f.path for f in unowned]


def test_every_renderer_shows_the_note() -> None:
    report = run(FILES)
    (note,) = [n for n in report.notes if n.startswith("Not reported")]
    assert note in render_text(report)
    assert note in render_markdown(report).replace("\\", "")  # markdown escapes punctuation
    assert note in json.loads(render_json(report))["notes"]
    sarif = json.loads(render_sarif(report, default_catalog()))
    notifications = sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert note in [n["message"]["text"] for n in notifications]

"""Hostile files through `ghapp check`: each becomes a finding (or is read safely), the other
findings of the same repository still appear, the exit status is right, no traceback.

Every repository here holds, beside the hostile file, a privileged pod (`k8s/privileged`, an
error) and an enforcing policy, so "the rest of the check still ran" is visible in the output.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ghapp.cli import main

POLICY = "enforce: true\n"
PRIVILEGED_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: tool}
spec:
  containers:
    - name: tool
      image: busybox:1.36
      securityContext: {privileged: true}
"""
STARS_20 = "*a" * 20 + "*b"


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        check=True,
        capture_output=True,
    )


def check(
    capsys: pytest.CaptureFixture[str], root: Path, *extra: str
) -> tuple[int, dict[str, Any], str]:
    code = main(["check", str(root), "--format", "json", "--today", "2026-01-15", *extra])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, json.loads(out) if out.strip() else {}, err


def rules(report: dict[str, Any], severity: str = "error") -> set[str]:
    return {f["rule"] for f in report["findings"] if f["severity"] == severity}


def test_hostile_workflow_path_filter_finishes_and_the_rest_is_checked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    workflow = (
        f"on:\n  pull_request:\n    paths: ['{STARS_20}']\npermissions: {{}}\n"
        "jobs:\n  scan:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: gitleaks/gitleaks-action@v2\n"
    )
    git(tmp_path, "init", "-q", "-b", "main")
    write(tmp_path, {".github/ghapp.yml": POLICY, ".github/workflows/scan.yml": workflow})
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "base")
    write(tmp_path, {"a" * 200: "x\n", "deploy/pod.yaml": PRIVILEGED_POD})
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "head")
    code, report, _ = check(capsys, tmp_path, "--base", "HEAD~1", "--head", "HEAD")
    assert code == 1 and report["conclusion"] == "failure"
    assert "k8s/privileged" in rules(report)
    assert report["coverage"]["secrets"]["on_pull_request"] is False  # the filter excludes it


def test_hostile_config_glob_finishes_and_the_rest_is_checked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    write(
        tmp_path,
        {
            ".github/ghapp.yml": f"enforce: true\nowners:\n  require: ['{STARS_20}']\n",
            "CODEOWNERS": "/deploy/ @acme/platform\n",
            "a" * 200: "x\n",
            "a" * 100 + "b": "x\n",
            "deploy/pod.yaml": PRIVILEGED_POD,
        },
    )
    code, report, _ = check(capsys, tmp_path)
    assert code == 1 and "k8s/privileged" in rules(report)
    unowned = {f["path"] for f in report["findings"] if f["rule"] == "codeowners/unowned-file"}
    assert unowned == {"a" * 100 + "b"}

"""The pre-commit hooks: `.pre-commit-hooks.yaml` as pre-commit reads it, and `ghapp hook` with
the file names pre-commit passes (the repository is evaluated, only those files reported)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ghapp.cli import main
from tests.conftest import ROOT

HOOKS = ROOT / ".pre-commit-hooks.yaml"
WORKFLOW = """\
on: pull_request
permissions: {}
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: acme/deploy@v1
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    files = {
        ".github/CODEOWNERS": "* @acme/platform\n/docs/ docs@\n",
        ".github/workflows/ci.yml": WORKFLOW,
        "services/api/catalog-info.yaml": (
            "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: api\n"
            "spec:\n  owner: group:platform\n  lifecycle: production\n"
        ),
        "README.md": "hello\n",
    }
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    return tmp_path


def hook(capsys: pytest.CaptureFixture[str], repo: Path, *argv: str) -> tuple[int, str]:
    code = main(["hook", "--repo", str(repo), "--color", "never", *argv])
    return code, capsys.readouterr().out


def test_only_findings_on_the_committed_files_are_reported(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = hook(capsys, repo, ".github/CODEOWNERS")
    assert code == 1  # an invalid owner is an error
    assert "codeowners/invalid-owner" in out and ".github/CODEOWNERS:2" in out
    assert "workflow/" not in out and "manifest/" not in out
    assert "Ownership:" not in out  # no repository-wide tables in a hook


def test_warnings_are_shown_but_fail_only_when_asked(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = hook(capsys, repo, ".github/workflows/ci.yml")
    assert code == 0 and "workflow/unpinned-action" in out
    code, _ = hook(capsys, repo, "--fail-on", "warning", ".github/workflows/ci.yml")
    assert code == 1


def test_files_without_findings_pass_silently(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert hook(capsys, repo, "README.md") == (0, "")
    assert hook(capsys, repo) == (0, "")


def test_absolute_file_names_are_read_relative_to_the_repository(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = hook(capsys, repo, str(repo / ".github" / "CODEOWNERS"))
    assert code == 1 and "codeowners/invalid-owner" in out


def test_a_suppressed_finding_does_not_fail_the_commit(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    codeowners = repo / ".github" / "CODEOWNERS"
    codeowners.write_text(
        "* @acme/platform\n/docs/ docs@  # ghapp: ignore[codeowners/invalid-owner] mailing list\n"
    )
    code, out = hook(capsys, repo, ".github/CODEOWNERS")
    assert code == 0
    assert "waived: suppressed inline at .github/CODEOWNERS:2: mailing list" in out


def test_the_hooks_manifest_is_valid_for_pre_commit() -> None:
    exe = shutil.which("pre-commit") or str(Path(sys.executable).with_name("pre-commit"))
    if not Path(exe).exists():
        pytest.skip("pre-commit is not installed (test extra)")
    result = subprocess.run(
        [exe, "validate-manifest", str(HOOKS)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("hook_id", "selected", "not_selected"),
    [
        ("ghapp-codeowners", [".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"], ["a.py"]),
        (
            "ghapp-manifests",
            ["catalog-info.yaml", "svc/opslevel.yml", "svc/cortex.yaml"],
            ["svc/values.yaml"],
        ),
        (
            "ghapp-workflows",
            [".github/workflows/ci.yml", "action.yml", ".github/actions/x/action.yaml"],
            [".github/workflows/sub/x.yml", "k8s/a.yaml"],
        ),
        ("ghapp-kubernetes", ["k8s/deploy.yaml"], [".github/workflows/ci.yml"]),
    ],
)
def test_each_hook_selects_its_files(
    hook_id: str, selected: list[str], not_selected: list[str]
) -> None:
    (spec,) = [h for h in yaml.safe_load(HOOKS.read_text()) if h["id"] == hook_id]
    assert spec["entry"] == "ghapp hook" and spec["language"] == "python"

    def picks(path: str) -> bool:
        if "files" in spec and not re.search(spec["files"], path):
            return False
        if "exclude" in spec and re.search(spec["exclude"], path):
            return False
        return "types" not in spec or path.endswith((".yml", ".yaml"))

    assert all(picks(p) for p in selected)
    assert not any(picks(p) for p in not_selected)

"""`ghapp ci` in a synthetic GitHub Actions run: real git repositories (an origin and a shallow
clone of it, as actions/checkout makes), event payload files, and the files the runner reads
back (step summary, outputs), plus the SARIF and the annotations on stdout."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ghapp.cli import main
from ghapp.core.model import Finding
from ghapp.render.annotations import escape_data, escape_property, workflow_commands
from tests.gitrepos import git
from tests.test_sarif import assert_valid_sarif

POLICY = "version: 1\n"
CODEOWNERS = "* @acme/platform\n"
BASE_WORKFLOW = """\
on: pull_request
permissions: {}
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: acme/deploy@v1
"""
# The head adds a script injection (a new error) and keeps the unpinned action (existing).
HEAD_WORKFLOW = BASE_WORKFLOW + "      - run: echo ${{ github.event.pull_request.title }}\n"
# A file name with the characters workflow-command properties must escape.
ODD_NAME = "k8s/a,b:c.yaml"
PRIVILEGED = """\
apiVersion: v1
kind: Pod
metadata:
  name: p
spec:
  restartPolicy: Never
  securityContext:
    runAsNonRoot: true
  containers:
    - name: c
      image: acme/c:1.0
      resources:
        requests: {cpu: 100m, memory: 64Mi}
        limits: {cpu: 100m, memory: 64Mi}
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        privileged: true
"""


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD").strip()


def shallow_clone(origin: Path, branch: str, into: Path) -> Path:
    subprocess.run(
        ["git", "clone", "-q", "--depth=1", "--branch", branch, origin.as_uri(), str(into)],
        check=True,
        capture_output=True,
    )
    return into


@pytest.fixture
def origin(tmp_path: Path) -> tuple[Path, str, str]:
    """A repository whose `feature` branch (head) adds problems on top of `main` (base)."""
    repo = tmp_path / "origin"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    base = commit(
        repo,
        {
            ".github/ghapp.yml": POLICY,
            ".github/CODEOWNERS": CODEOWNERS,
            ".github/workflows/ci.yml": BASE_WORKFLOW,
            "README.md": "hello\n",
        },
        "base",
    )
    git(repo, "checkout", "-qb", "feature")
    head = commit(repo, {".github/workflows/ci.yml": HEAD_WORKFLOW, ODD_NAME: PRIVILEGED}, "head")
    return repo, base, head


class Runner:
    """The environment and files of one Actions step."""

    def __init__(
        self,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
        workspace: Path,
    ) -> None:
        self.dir = tmp_path / "runner"
        self.dir.mkdir()
        self.summary = self.dir / "summary.md"
        self.output = self.dir / "output"
        self.sarif = self.dir / "ghapp.sarif"
        self.monkeypatch = monkeypatch
        self.capsys = capsys
        self.workspace = workspace
        monkeypatch.setenv("GITHUB_ACTIONS", "true")
        monkeypatch.setenv("GITHUB_WORKSPACE", str(workspace))
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(self.summary))
        monkeypatch.setenv("GITHUB_OUTPUT", str(self.output))
        monkeypatch.delenv("NO_COLOR", raising=False)

    def event(self, name: str, payload: dict[str, Any], sha: str | None = None) -> None:
        path = self.dir / "event.json"
        path.write_text(json.dumps(payload))
        self.monkeypatch.setenv("GITHUB_EVENT_NAME", name)
        self.monkeypatch.setenv("GITHUB_EVENT_PATH", str(path))
        if sha:
            self.monkeypatch.setenv("GITHUB_SHA", sha)

    def run(self, *extra: str) -> tuple[int, str, str]:
        code = main(["ci", "--sarif", str(self.sarif), *extra])
        out, err = self.capsys.readouterr()
        return code, out, err

    def outputs(self) -> dict[str, str]:
        return dict(line.split("=", 1) for line in self.output.read_text().splitlines())

    def results(self) -> list[dict[str, Any]]:
        document = json.loads(self.sarif.read_text())
        assert_valid_sarif(document)
        results: list[dict[str, Any]] = document["runs"][0]["results"]
        return results


@pytest.fixture
def runner(
    origin: tuple[Path, str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Runner:
    """An Actions step whose workspace is a shallow clone of the origin's `feature` branch."""
    work = shallow_clone(origin[0], "feature", tmp_path / "work")
    return Runner(tmp_path, monkeypatch, capsys, work)


def pull_request(base: str, head: str) -> dict[str, Any]:
    return {
        "action": "synchronize",
        "pull_request": {"number": 7, "base": {"sha": base}, "head": {"sha": head}},
    }


def test_pull_request_fetches_the_missing_base_and_reports_what_the_pr_introduces(
    origin: tuple[Path, str, str], runner: Runner
) -> None:
    _, base, head = origin
    workspace = str(runner.workspace)
    assert subprocess.run(["git", "-C", workspace, "cat-file", "-e", base]).returncode != 0
    runner.event("pull_request", pull_request(base, head), sha=head)

    code, out, err = runner.run()

    assert code == 1, err  # a new, unwaived error under a config: the check fails
    assert runner.outputs() == {
        "conclusion": "failure",
        "new-findings": "2",
        "blocking": "2",
        "sarif": str(runner.sarif),
    }
    states = {(r["ruleId"], r["baselineState"]) for r in runner.results()}
    assert ("workflow/script-injection", "new") in states
    assert ("k8s/privileged", "new") in states
    assert ("workflow/unpinned-action", "unchanged") in states

    summary = runner.summary.read_text()
    assert "workflow/script-injection" in summary and "2 blocking" in summary
    assert "#### What blocks this pull request (2)" in summary

    commands = [line for line in out.splitlines() if line.startswith("::error ")]
    assert len(commands) == 2  # new findings only: not the existing unpinned action
    assert any(
        line.startswith(
            "::error file=.github/workflows/ci.yml,line=8,col=19,"
            "title=workflow/script-injection%3A Untrusted input expanded into a shell script::"
        )
        for line in commands
    )
    assert any(line.startswith("::error file=k8s/a%2Cb%3Ac.yaml,line=18,") for line in commands)
    assert all("\n" not in line and "%0AOwner: @acme/platform" in line for line in commands)
    assert f"pull request #7: {base[:12]}..{head[:12]}" in out
    assert out.rstrip().endswith("ghapp ci: FAILURE")


def test_the_report_in_the_log_cannot_issue_workflow_commands(
    origin: tuple[Path, str, str], runner: Runner
) -> None:
    _, base, head = origin
    runner.event("pull_request", pull_request(base, head), sha=head)
    _, out, _ = runner.run()
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("::stop-commands::"))
    token = lines[start].split("::")[2]
    end = lines.index(f"::{token}::")
    assert len(token) == 32 and "Findings:" in "\n".join(lines[start:end])
    assert not any(line.startswith("::error") for line in lines[start:end])


def test_push_compares_the_pushed_commit_with_its_parent_in_a_shallow_checkout(
    origin: tuple[Path, str, str], runner: Runner
) -> None:
    _, base, head = origin
    runner.event("push", {"ref": "refs/heads/feature", "before": "0" * 40, "after": head}, head)

    code, out, _ = runner.run()

    assert code == 1
    assert f"push: {head[:12]} against its parent {base[:12]}" in out
    assert runner.outputs()["new-findings"] == "2"
    states = {(r["ruleId"], r["baselineState"]) for r in runner.results()}
    assert ("workflow/unpinned-action", "unchanged") in states
    assert ("k8s/privileged", "new") in states
    summary = runner.summary.read_text()
    assert "#### What blocks this push (2)" in summary  # not "this pull request"
    assert "pull request" not in summary.split("####")[1]


def test_other_events_check_the_whole_tree(origin: tuple[Path, str, str], runner: Runner) -> None:
    _, _, head = origin
    runner.event("workflow_dispatch", {}, head)

    code, out, _ = runner.run("--fail-on", "never", "--quiet")

    assert code == 0
    assert out.splitlines()[-1] == "ghapp ci: NEUTRAL"
    assert "Findings:" not in out  # --quiet: no report in the log, annotations still
    assert sum(line.startswith("::error ") for line in out.splitlines()) == 2
    results = runner.results()
    assert results and all("baselineState" not in r for r in results)
    assert runner.outputs()["blocking"] == "0"


def test_a_base_that_cannot_be_fetched_is_a_clear_error(
    origin: tuple[Path, str, str], runner: Runner
) -> None:
    repo, base, head = origin
    git(runner.workspace, "remote", "set-url", "origin", (repo.parent / "gone").as_uri())
    runner.event("pull_request", pull_request(base, head), sha=head)

    code, _, err = runner.run()

    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"the base commit {base[:12]} is not in the checkout and cannot be fetched" in err
    assert "fetch-depth: 0" in err


def test_outside_github_actions_it_says_what_it_needs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    code = main(["ci"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    for name in ("GITHUB_EVENT_NAME", "GITHUB_EVENT_PATH", "GITHUB_SHA", "GITHUB_WORKSPACE"):
        assert name in err
    assert "ghapp check" in err


def finding(severity: str, i: int) -> Finding:
    return Finding(rule="k8s/privileged", severity=severity, message=f"m{i}", path="a.yaml", line=i)  # type: ignore[arg-type]


def test_annotations_are_capped_per_level_with_the_rest_counted() -> None:
    findings = [finding("error", i) for i in range(1, 26)] + [finding("notice", 1)]
    lines = workflow_commands(findings, per_level=10)
    assert sum(line.startswith("::error ") for line in lines) == 10
    assert lines[-1].startswith("::notice title=ghapp::15 more new finding(s) are not annotated")
    assert len(lines) == 12


@pytest.mark.parametrize(
    ("raw", "data", "prop"),
    [
        ("50% done", "50%25 done", "50%25 done"),
        ("a\r\nb", "a%0D%0Ab", "a%0D%0Ab"),
        ("key: a, b", "key: a, b", "key%3A a%2C b"),
        ("::set-env name=x::y", "::set-env name=x::y", "%3A%3Aset-env name=x%3A%3Ay"),
    ],
)
def test_workflow_command_escaping_follows_the_runner(raw: str, data: str, prop: str) -> None:
    assert escape_data(raw) == data
    assert escape_property(raw) == prop

"""Hostile files through `ghapp check`: each becomes a finding (or is read safely), the other
findings of the same repository still appear, the exit status is right, no traceback.

Every repository here holds, beside the hostile file, a privileged pod (`k8s/privileged`, an
error) and an enforcing policy, so "the rest of the check still ran" is visible in the output.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ghapp.cli import main
from ghapp.core.workflows.parsing import MAX_EXPANDED_JOBS
from tests.hostile import PRIVILEGED_POD, base_and_head, fan_out, padded, write

POLICY = "enforce: true\n"
STARS_20 = "*a" * 20 + "*b"


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
    base_and_head(
        tmp_path,
        {".github/ghapp.yml": POLICY, ".github/workflows/scan.yml": workflow},
        {"a" * 200: "x\n", "deploy/pod.yaml": PRIVILEGED_POD},
    )
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


DANGEROUS_WORKFLOW = """\
on: pull_request_target
permissions: write-all
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with: {ref: "${{ github.event.pull_request.head.sha }}"}
      - run: make test
"""


def bomb() -> str:
    """About 600 bytes that expand to 387,420,489 strings."""
    text = 'l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for level in range(1, 9):
        text += f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 9)}]\n"
    return text


def repo(root: Path, files: dict[str, str]) -> Path:
    write(root, {".github/ghapp.yml": POLICY, "deploy/pod.yaml": PRIVILEGED_POD, **files})
    return root


def test_unquoted_invalid_date_is_read_as_text_and_the_workflow_is_checked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    workflow = "name: 2026-02-30\n" + DANGEROUS_WORKFLOW
    code, report, _ = check(capsys, repo(tmp_path, {".github/workflows/x.yml": workflow}))
    assert code == 1
    assert {"k8s/privileged", "workflow/untrusted-checkout"} <= rules(report)


def test_integer_over_4300_digits_is_read_as_text_and_the_manifest_is_checked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    manifest = (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: svc}\n"
        f"spec: {{owner: group:payments, tier: {'9' * 5000}}}\n"
    )
    code, report, _ = check(capsys, repo(tmp_path, {"catalog-info.yaml": manifest}))
    assert code == 1 and "k8s/privileged" in rules(report)
    assert [(s["name"], s["tier"]) for s in report["services"]] == [("svc", "9" * 5000)]


def test_alias_bomb_in_the_policy_is_a_config_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    policy = bomb() + "enforce: true\nignore: *l8\n"
    code, report, _ = check(capsys, repo(tmp_path, {".github/ghapp.yml": policy}))
    assert code == 1 and report["conclusion"] == "failure"
    assert {"config/invalid", "k8s/privileged"} <= rules(report)


def test_alias_bomb_in_a_manifest_is_a_manifest_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    manifest = bomb() + "apiVersion: backstage.io/v1alpha1\nkind: Component\nspec: {owner: *l8}\n"
    code, report, _ = check(capsys, repo(tmp_path, {"catalog-info.yaml": manifest}))
    assert code == 1
    assert {"manifest/invalid-yaml", "k8s/privileged"} <= rules(report)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("dir.yml", bomb() + "users: *l8\n", "expands to more than"),
        ("dir.json", '{"users": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested more than"),
        ("dir.yml", "users: 5\n", "must be a list of names"),
        ("dir.yml", "teams: [{a: 1}]\n", "must be a list of names"),
    ],
    ids=["alias-bomb", "deep-json", "not-a-list", "not-names"],
)
def test_hostile_directory_file_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, text: str, message: str
) -> None:
    root = repo(tmp_path / "repo", {})
    (tmp_path / name).write_text(text)
    code, _, err = check(capsys, root, "--directory", str(tmp_path / name))
    assert code == 2
    assert err.startswith("ghapp: error: ") and err.count("\n") == 1 and message in err


def test_if_with_400_nested_parentheses_is_read_and_the_workflow_is_checked(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    deep = "(" * 400 + "github.event_name == 'push'" + ")" * 400
    workflow = DANGEROUS_WORKFLOW.replace(
        "      - run: make test", f"      - if: {deep}\n        run: make"
    )
    code, report, _ = check(capsys, repo(tmp_path, {".github/workflows/x.yml": workflow}))
    assert code == 1
    assert {"k8s/privileged", "workflow/untrusted-checkout"} <= rules(report)


def sparse(path: Path, size: int) -> None:
    """A file of `size` bytes that costs no disk (past the CLI's 25 MB read limit)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        out.truncate(size)


def test_dangerous_workflow_padded_to_3_mb_blocks(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    big = padded(DANGEROUS_WORKFLOW, 3_000_000)
    code, report, _ = check(capsys, repo(tmp_path, {".github/workflows/x.yml": big}))
    assert code == 1 and {"workflow/unreadable", "k8s/privileged"} <= rules(report)


def test_workflow_past_the_read_limit_blocks(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    sparse(tmp_path / ".github/workflows/x.yml", 30_000_000)
    code, report, _ = check(capsys, repo(tmp_path, {}))
    assert code == 1 and {"workflow/unreadable", "k8s/privileged"} <= rules(report)


def test_alias_bomb_workflow_blocks(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    workflow = bomb() + "name: *l8\n" + DANGEROUS_WORKFLOW
    code, report, _ = check(capsys, repo(tmp_path, {".github/workflows/x.yml": workflow}))
    assert code == 1 and {"workflow/unreadable", "k8s/privileged"} <= rules(report)


def test_policy_of_50_mb_is_an_error_not_a_missing_policy(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    root = repo(tmp_path, {})
    sparse(root / ".github/ghapp.yml", 50_000_000)
    code, report, _ = check(capsys, root)
    assert code == 1 and report["conclusion"] == "failure"
    assert {"config/invalid", "k8s/privileged"} <= rules(report)


def test_privileged_pod_padded_to_3_mb_blocks(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    big = padded(PRIVILEGED_POD, 3_000_000)
    code, report, _ = check(capsys, repo(tmp_path, {"deploy/big.yaml": big}))
    assert code == 1
    findings = {(f["rule"], f["path"]) for f in report["findings"] if f["severity"] == "error"}
    assert {("k8s/file-too-large", "deploy/big.yaml"), ("k8s/privileged", "deploy/pod.yaml")} <= (
        findings
    )


@pytest.mark.parametrize(
    "script",
    [
        "echo " + "${{" * 300_000,  # unclosed expressions: the lazy regex rescanned each
        "echo ${{ " + "github.event.commits " * 1000 + "}}",  # many starts of one pattern
        "echo ${{ github.event.commits }} # ghapp: ignore[x] y" + " " * 300_000 + "z",
        'echo "' + 'a \\" ' * 100_000,  # an unclosed quote: a regex restarted at each `"`
    ],
    ids=["unclosed-expressions", "repeated-context", "spaced-suppression", "unclosed-quote"],
)
def test_hostile_run_script_is_read_in_linear_time(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, script: str
) -> None:
    workflow = DANGEROUS_WORKFLOW + f"      - run: {script}\n"
    code, report, _ = check(capsys, repo(tmp_path, {".github/workflows/x.yml": workflow}))
    assert code == 1
    assert {"k8s/privileged", "workflow/untrusted-checkout"} <= rules(report)


def test_fanned_out_reusable_workflows_are_walked_within_a_budget(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # 20**6 = 64 million paths from 7 small files: the walk stops at its budget of jobs.
    code, report, _ = check(capsys, repo(tmp_path, fan_out(levels=6, width=20)))
    assert code == 1 and "k8s/privileged" in rules(report)
    assert report["coverage"]["secrets"]["on_pull_request"] is True
    assert len(report["coverage"]["secrets"]["sites"]) <= MAX_EXPANDED_JOBS


def test_many_suppressions_and_findings_are_matched_in_linear_time(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Each container is privileged (and more): F findings, S comments; matching was F * S.
    containers = "".join(
        f"    - {{name: c{i}, image: 'a:1', securityContext: {{privileged: true}}}}"
        "  # ghapp: ignore[k8s/privileged] lab image\n"
        for i in range(3000)
    )
    pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: many}\nspec:\n  containers:\n" + containers
    code, report, _ = check(capsys, repo(tmp_path, {"deploy/many.yaml": pod}))
    privileged = [f for f in report["findings"] if f["rule"] == "k8s/privileged"]
    assert code == 1 and len(privileged) == 3001
    assert sum(f["waived"] for f in privileged) == 3000  # all but deploy/pod.yaml's


def make_workflow(target: str) -> str:
    return (
        "on: pull_request\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        f"    steps:\n      - run: make {target}\n"
    )


def test_makefile_variable_bomb_is_expanded_within_a_budget(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # V11 = ten V10s = ... = 10**11 words: make's own "billion laughs".
    variables = ["V0 = lol lol lol lol lol lol lol lol lol lol"]
    variables += [f"V{i} = " + " ".join([f"$(V{i - 1})"] * 10) for i in range(1, 12)]
    makefile = "\n".join([*variables, "", "scan: $(V11)", "\tgitleaks detect", ""])
    files = {"Makefile": makefile, ".github/workflows/a.yml": make_workflow("scan")}
    code, report, _ = check(capsys, repo(tmp_path, files))
    assert code == 1 and "k8s/privileged" in rules(report)
    assert report["coverage"]["secrets"]["on_pull_request"] is True  # the recipe still counts


def test_makefile_target_fan_out_is_followed_within_a_budget(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # 20 prerequisites of 20 prerequisites ..., 8 levels: 20**8 paths through the targets.
    lines = []
    for level in range(8):
        for j in range(20):
            prerequisites = " ".join(f"t{level + 1}_{k}" for k in range(20)) if level < 7 else ""
            lines += [f"t{level}_{j}: {prerequisites}", "\techo hi"]
    files = {"Makefile": "\n".join(lines) + "\n", ".github/workflows/a.yml": make_workflow("t0_0")}
    code, report, _ = check(capsys, repo(tmp_path, files))
    assert code == 1 and "k8s/privileged" in rules(report)

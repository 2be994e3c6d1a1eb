"""The command line as a user meets it: the bundled example, the JSON contracts, exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ghapp.cli import EXIT_BROKEN_PIPE, main
from tests.conftest import EXAMPLES, ROOT

ACME = EXAMPLES / "acme-shop"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_on_the_bundled_example_fails_with_owners_services_and_findings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "check", str(ACME), "--format", "json", "--today", "2026-11-23")
    report = json.loads(out)
    assert code == 1 and report["conclusion"] == "failure"
    assert report["version"] == 1
    assert {s["name"] for s in report["services"]} == {"payments", "checkout", "search"}
    payments = next(s for s in report["services"] if s["name"] == "payments")
    assert payments["owner"] == "@acme/payments" and payments["tier"] == "1"
    assert payments["data"] == ["pci"]
    rules = {f["rule"] for f in report["findings"]}
    assert {"codeowners/invalid-owner", "codeowners/unowned-file", "config/expired-waiver"} <= rules
    assert set(report["coverage"]) == {"sast", "secrets", "sca", "container", "iac"}
    assert report["coverage"]["sast"]["on_pull_request"] is True
    assert report["coverage"]["secrets"]["blocking"] is False
    assert report["coverage"]["container"]["on_pull_request"] is False
    unowned = [f for f in report["files"] if not f["owners"]]
    assert any(f["path"].startswith("services/notifications/") for f in unowned)


def test_check_text_output_is_for_people(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", str(ACME))
    assert code == 1
    assert out.startswith("ghapp check: FAILURE")
    for heading in ("Ownership:", "Services:", "Security scans:", "Findings:"):
        assert heading in out


@pytest.mark.parametrize("fmt", ["sarif", "markdown"])
def test_check_other_formats(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    code, out, _ = run(capsys, "check", str(ACME), "--format", fmt)
    assert code == 1 and out.strip()
    if fmt == "sarif":
        assert json.loads(out)["version"] == "2.1.0"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["check", "/no/such/dir"], "no such directory"),
        (["check", str(ACME), "--base", "nope-ref"], "nope-ref"),
        (["check", str(ACME), "--config", "/no/such/file.yml"], "cannot read"),
        (["owners", "--codeowners", "/no/such/CODEOWNERS"], "cannot read"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_base_outside_a_git_repository_is_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    shutil.copytree(ACME, tmp_path / "acme")
    code, _, err = run(capsys, "check", str(tmp_path / "acme"), "--base", "HEAD~1")
    assert code == 2 and "not a git repository" in err


def test_owners_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "owners",
        "--repo",
        str(ACME),
        "--format",
        "json",
        "services/payments/src/app.py",
        "./services/notifications/src/send.py",
        "/docs/a/b.md",
    )
    assert code == 0
    data = json.loads(out)
    files = {f["path"]: f for f in data["files"]}
    assert files["services/payments/src/app.py"] == {
        "path": "services/payments/src/app.py",
        "owners": ["@acme/payments"],
        "line": 8,
        "pattern": "/services/payments/",
        "service": "payments",
    }
    assert files["services/notifications/src/send.py"]["owners"] == []
    assert files["services/notifications/src/send.py"]["line"] is None
    assert files["docs/a/b.md"]["owners"] == []  # `/docs/*` does not reach nested files
    (error,) = data["errors"]
    assert error["kind"] == "invalid-owner" and error["line"] == 11


def test_owners_reads_paths_from_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    monkeypatch.setattr(
        sys, "stdin", io.StringIO("services/payments/Dockerfile\n\ninfra/terraform/main.tf\n")
    )
    code, out, _ = run(capsys, "owners", "--repo", str(ACME), "--format", "json", "-")
    assert code == 0
    owners = [f["owners"] for f in json.loads(out)["files"]]
    assert owners == [["@acme/payments"], ["@acme/platform", "@acme/sre"]]


def test_rules_lists_the_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "rules")
    assert code == 0
    assert "config/invalid" in out and "scanner tools" in out


def test_readme_rules_reference_is_generated_from_the_catalog() -> None:
    from ghapp.cli.rules import rules_markdown

    readme = (ROOT / "README.md").read_text()
    begin = readme.index("<!-- rules:begin")
    begin = readme.index("\n", begin) + 1
    end = readme.index("<!-- rules:end -->")
    assert readme[begin:end] == rules_markdown(), "run: python -m tests.update_readme"


def test_console_script_runs_as_a_new_user_would() -> None:
    exe = Path(sys.executable).with_name("ghapp")
    if not exe.exists():
        pytest.skip("ghapp console script not installed in this environment")
    result = subprocess.run(
        [str(exe), "check", str(ACME)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 1, result.stderr
    assert "FAILURE" in result.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ["check", str(ACME)],  # a failing check: its status would be 1
        ["check", str(ACME), "--format", "json"],
        ["owners", "--repo", str(ACME)],
        ["rules"],
    ],
)
def test_a_reader_that_went_away_is_not_a_traceback_nor_a_policy_failure(argv: list[str]) -> None:
    # `ghapp check | head`: the pipe's read end is closed before ghapp writes a byte.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "ghapp", *argv],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    finally:
        os.close(write_end)
    assert result.stderr == ""
    assert result.returncode == EXIT_BROKEN_PIPE

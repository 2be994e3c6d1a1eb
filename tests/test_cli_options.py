"""What every reporting command shares: --min-severity, --fail-on, --color (and NO_COLOR),
--quiet; and what the command line imports for each command."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from ghapp.cli import main
from ghapp.cli.output import use_color
from tests.conftest import EXAMPLES

ACME = str(EXAMPLES / "acme-shop")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def severities(out: str) -> set[str]:
    return {f["severity"] for f in json.loads(out)["findings"]}


def test_min_severity_drops_what_is_below_it(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "check", ACME, "--format", "json")
    assert severities(out) == {"error", "warning", "notice"}
    _, out, _ = run(capsys, "check", ACME, "--format", "json", "--min-severity", "warning")
    assert severities(out) == {"error", "warning"}
    _, out, _ = run(capsys, "check", ACME, "--format", "json", "--min-severity", "error")
    assert severities(out) == {"error"}


def test_quiet_prints_the_conclusion_only(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "check", ACME, "--quiet") == (1, "ghapp check: FAILURE\n", "")


@pytest.mark.parametrize(
    ("fail_on", "code", "conclusion"),
    [("never", 0, "neutral"), ("error", 1, "failure"), ("policy", 0, "neutral")],
)
def test_fail_on_sets_the_threshold_even_without_a_config(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fail_on: str, code: int, conclusion: str
) -> None:
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
        "    - name: c\n      image: acme/c:latest\n"
    )
    result = run(capsys, "check", str(tmp_path), "--quiet", "--fail-on", fail_on)
    assert result == (code, f"ghapp check: {conclusion.upper()}\n", "")


def test_fail_on_warning_fails_on_new_warnings(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "CODEOWNERS").write_text("* @acme/a\n* @acme/b\n")  # a duplicate: a warning
    code, out, _ = run(capsys, "check", str(tmp_path), "--fail-on", "warning", "--color", "never")
    assert code == 1
    assert (
        "note: --fail-on warning: new, unwaived findings of severity warning or higher fail" in out
    )
    assert "report only" not in out


def test_color_always_paints_severities_and_the_conclusion(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, out, _ = run(capsys, "check", ACME, "--color", "always")
    assert out.startswith("ghapp check: \x1b[1;31mFAILURE\x1b[0m")
    assert "\x1b[31merror  \x1b[0m" in out
    _, out, _ = run(capsys, "check", ACME, "--color", "never")
    assert "\x1b[" not in out


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("choice", "environ", "stream", "expected"),
    [
        ("auto", {}, Terminal(), True),
        ("auto", {}, io.StringIO(), False),  # a pipe or a file
        ("auto", {"NO_COLOR": "1"}, Terminal(), False),
        ("auto", {"NO_COLOR": ""}, Terminal(), True),  # no-color.org: empty means unset
        ("auto", {"TERM": "dumb"}, Terminal(), False),
        ("always", {"NO_COLOR": "1"}, io.StringIO(), True),  # an explicit flag wins
        ("never", {}, Terminal(), False),
    ],
)
def test_color_auto_honours_the_terminal_and_no_color(
    choice: str, environ: dict[str, str], stream: io.StringIO, expected: bool
) -> None:
    assert use_color(choice, stream, environ) is expected


def imported_by(*argv: str) -> set[str]:
    code = (
        "import sys\nfrom ghapp.cli import main\n"
        f"try:\n    main({list(argv)!r})\nexcept SystemExit:\n    pass\n"
        "print(' '.join(sorted(m.split('.')[0] for m in sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.stderr == "" or "Traceback" not in result.stderr, result.stderr
    return set(result.stdout.splitlines()[-1].split())


SERVER_STACK = {"starlette", "githubkit", "sqlalchemy", "uvicorn", "alembic", "httpx", "jinja2"}


@pytest.mark.parametrize(
    "argv",
    [
        ["--version"],
        ["check", ACME, "--quiet"],
        ["owners", "--repo", ACME, "README.md"],
        ["rules"],
        ["hook", "--repo", ACME, "README.md"],
    ],
)
def test_offline_commands_never_import_the_server_stack(argv: list[str]) -> None:
    assert not imported_by(*argv) & SERVER_STACK


def test_jsonschema_is_imported_only_to_validate_a_config_file(tmp_path: Path) -> None:
    assert "jsonschema" not in imported_by("check", str(tmp_path), "--quiet")
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "ghapp.yml").write_text("version: 1\n")
    assert "jsonschema" in imported_by("check", str(tmp_path), "--quiet")


def test_a_server_command_without_the_server_extra_says_how_to_install_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An extension module as it behaves in the light install: its dependencies are missing.
    (tmp_path / "server_commands.py").write_text("import starlette_not_installed_here\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr("ghapp.cli.EXTENSIONS", ("server_commands",))
    code, out, err = run(capsys, "serve")
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert "pip install 'ghapp[server]'" in err and "'serve'" in err
    code, out, _ = run(capsys, "check", ACME, "--quiet")
    assert code == 1 and out == "ghapp check: FAILURE\n"

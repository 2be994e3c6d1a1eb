"""The command line on a hostile checkout: a symlink loop is a file it cannot read (no traceback),
and file names carrying newlines or terminal escape sequences are printed escaped."""

from __future__ import annotations

from pathlib import Path

import pytest

from ghapp.cli import main

EVIL = "svc/evil\n\x1b[31mFAKE LINE\x1b[0m.yaml"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def looped(tmp_path: Path) -> Path:
    """A repository whose manifest is a symlink to itself, beside a real one."""
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "catalog-info.yaml").symlink_to("catalog-info.yaml")
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "catalog-info.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: api\n"
        "spec:\n  owner: group:default/api\n"
    )
    (tmp_path / "CODEOWNERS").write_text("* @acme/api\n")
    return tmp_path


@pytest.mark.parametrize("command", [["check"], ["owners", "--repo"]])
def test_a_symlink_loop_named_like_a_manifest_is_not_a_traceback(
    capsys: pytest.CaptureFixture[str], looped: Path, command: list[str]
) -> None:
    code, out, err = run(capsys, *command, str(looped))
    assert code in (0, 1), err
    assert "Traceback" not in err and "RuntimeError" not in err
    assert "api" in out  # everything else is still checked


@pytest.fixture
def evil_names(tmp_path: Path) -> Path:
    (tmp_path / "svc").mkdir()
    (tmp_path / EVIL).write_text("kind: ConfigMap\n")
    (tmp_path / "CODEOWNERS").write_text("/other/ @acme/other\n")
    return tmp_path


def test_check_prints_hostile_file_names_escaped(
    capsys: pytest.CaptureFixture[str], evil_names: Path
) -> None:
    _, out, _ = run(capsys, "check", str(evil_names))
    assert "\x1b" not in out
    assert "FAKE LINE" in out and "\nFAKE LINE" not in out
    assert "svc/evil\\n\\x1b[31mFAKE LINE\\x1b[0m.yaml" in out


def test_owners_prints_hostile_file_names_escaped(
    capsys: pytest.CaptureFixture[str], evil_names: Path
) -> None:
    _, out, _ = run(capsys, "owners", "--repo", str(evil_names))
    assert "\x1b" not in out
    [line] = [line for line in out.splitlines() if "FAKE LINE" in line]
    assert line.startswith("svc/evil\\n\\x1b[31mFAKE LINE")

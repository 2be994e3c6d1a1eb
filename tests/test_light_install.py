"""The light install: `pip install ghapp` (no extras) into a fresh virtual environment gives a
working command line, and the app's commands say how to get them.

This installs the project for real (pip builds the wheel, dependencies come from the package
index), so it takes a while; it is the only test that shows the base dependencies suffice.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT

SERVER_MODULES = ("starlette", "githubkit", "sqlalchemy", "uvicorn", "alembic", "psycopg")


def run(*argv: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    return subprocess.run(
        [str(a) for a in argv],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
        env=env,
    )


@pytest.fixture(scope="module")
def light_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("light") / "venv"
    created = run(sys.executable, "-m", "venv", venv)
    assert created.returncode == 0, created.stderr
    installed = run(
        venv / "bin" / "python",
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        ROOT,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return venv


@pytest.mark.slow
def test_the_light_install_checks_the_bundled_example(light_venv: Path) -> None:
    result = run(light_venv / "bin" / "ghapp", "check", EXAMPLES / "acme-shop")
    assert result.returncode == 1, result.stderr  # the example has deliberate problems
    assert result.stdout.startswith("ghapp check: FAILURE")
    for command in (["rules"], ["owners", "--repo", EXAMPLES / "acme-shop", "README.md"]):
        assert run(light_venv / "bin" / "ghapp", *command).returncode == 0


@pytest.mark.slow
def test_the_light_install_has_no_server_stack(light_venv: Path) -> None:
    probe = (
        "import importlib.util as u; "
        f"print(' '.join(m for m in {SERVER_MODULES!r} if u.find_spec(m)))"
    )
    result = run(light_venv / "bin" / "python", "-c", probe)
    assert result.returncode == 0 and result.stdout.strip() == ""


@pytest.mark.slow
@pytest.mark.parametrize("command", ["serve", "worker", "replay"])
def test_server_commands_say_how_to_install_the_extra(light_venv: Path, command: str) -> None:
    result = run(light_venv / "bin" / "ghapp", command)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert "pip install 'ghapp[server]'" in result.stderr


@pytest.mark.slow
def test_ci_outside_actions_and_version_work_in_the_light_install(light_venv: Path) -> None:
    version = run(light_venv / "bin" / "ghapp", "--version")
    assert version.returncode == 0 and version.stdout.startswith("ghapp ")
    ci = run(light_venv / "bin" / "ghapp", "ci")
    assert ci.returncode == 2 and "GITHUB_ACTIONS" in ci.stderr


@pytest.mark.slow
def test_the_light_install_writes_the_compliance_report(light_venv: Path, tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    args = ("report", EXAMPLES / "acme-shop", "--format", "html", "--output", target)
    result = run(light_venv / "bin" / "ghapp", *args)
    assert result.returncode == 0, result.stderr
    assert "<table" in target.read_text() and "payments" in target.read_text()

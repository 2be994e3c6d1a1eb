"""`ghapp report` over local repositories of our own making: one row per service in JSON, CSV,
HTML, markdown and a table, each repository under its own policy layered over --org-config,
evaluated in parallel processes, with a progress bar only on a terminal."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ghapp.cli import main
from ghapp.cli.report import ProgressBar, repository_name
from ghapp.core.compliance import ComplianceReport, ServiceRow
from ghapp.render.compliance import inert_cell, render_html
from tests.orgrepos import ORG_REPOS

# The org default makes a privileged container a warning; `strict` (a copy of shop) sets it back
# to an error in its own config, so only its payments service fails for it.
ORG_CONFIG = "version: 1\nseverities:\n  k8s/privileged: warning\n"
STRICT = "version: 1\nseverities:\n  k8s/privileged: error\n"


@pytest.fixture
def repos(tmp_path: Path) -> list[Path]:
    """shop, ledger and web from tests/orgrepos.py, plus strict; shop is a git clone."""
    made = []
    layouts = {**ORG_REPOS, "strict": {**ORG_REPOS["shop"], ".github/ghapp.yml": STRICT}}
    for name, files in layouts.items():
        root = tmp_path / name
        for path, text in files.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(text)
        made.append(root)
    git = ["git", "-C", str(made[0])]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "remote", "add", "origin", "git@github.com:acme/shop.git"], check=True)
    (tmp_path / "org.yml").write_text(ORG_CONFIG)
    return made


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main(["report", *(str(a) for a in argv)])
    out, err = capsys.readouterr()
    return code, out, err


def by_service(data: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(s["repository"], s["service"]): s for s in data["services"]}


def test_json_has_a_row_per_service_under_each_repositorys_policy(
    capsys: pytest.CaptureFixture[str], repos: list[Path], tmp_path: Path
) -> None:
    code, out, err = run(capsys, *repos, "--org-config", tmp_path / "org.yml", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["version"] == 1 and data["generated_at"].endswith("Z")
    rows = by_service(data)
    assert list(rows) == [
        ("acme/shop", "cart"),  # named from the origin remote
        ("acme/shop", "payments"),
        ("ledger", "ledger"),  # no remote: the directory's name
        ("strict", "cart"),
        ("strict", "payments"),
        ("web", "web"),  # no manifest: one service named after the repository
    ]
    assert rows[("acme/shop", "payments")]["compliant"]  # the org default: a warning
    assert rows[("acme/shop", "payments")]["findings"]["warning"] == 1
    assert rows[("strict", "payments")]["failing"] == ["k8s/privileged"]  # its own config wins
    assert rows[("ledger", "ledger")]["compliant"]  # its waiver of the missing on-call applies
    payments = rows[("strict", "payments")]
    assert payments["owner"] == "@acme/payments" and payments["tier"] == "1"
    assert payments["data"] == ["pci"] and payments["oncall"] == ["pagerduty:P12"]
    assert payments["codeowners"] == {"valid": True, "unowned_files": 0}
    assert payments["coverage"]["sast"] == {
        "configured": True,
        "on_pull_request": True,
        "blocking": True,
    }
    assert payments["coverage"]["sca"]["configured"] is False
    assert data["summary"]["services"] == 6 and data["summary"]["compliant"] == 5
    assert data["summary"]["by_rule"] == {"k8s/privileged": 1}
    assert data["summary"]["by_owner"]["@acme/web"] == {"services": 3, "compliant": 3}


def test_csv_flattens_the_same_rows(
    capsys: pytest.CaptureFixture[str], repos: list[Path], tmp_path: Path
) -> None:
    code, out, _ = run(capsys, *repos, "--format", "csv")
    assert code == 0
    table = list(csv.DictReader(io.StringIO(out)))
    assert len(table) == 6
    strict = next(r for r in table if r["repository"] == "strict" and r["service"] == "payments")
    assert strict["coverage.sast.on_pull_request"] == "true"
    assert strict["coverage.container.configured"] == "false"
    assert strict["codeowners.valid"] == "true" and strict["codeowners.unowned_files"] == "0"
    assert strict["compliant"] == "false" and strict["failing"] == "k8s/privileged"
    assert strict["findings.error"] == "1" and strict["owner"] == "@acme/payments"
    ledger = next(r for r in table if r["service"] == "ledger")
    assert ledger["data"] == "pci;pii" and ledger["oncall"] == ""
    assert out.startswith("repository,service,path,owner,owner_source,oncall,tier,data,")


def test_html_is_one_self_contained_file(
    capsys: pytest.CaptureFixture[str], repos: list[Path], tmp_path: Path
) -> None:
    target = tmp_path / "report.html"
    code, out, _ = run(capsys, *repos, "--format", "html", "--output", target)
    assert code == 0 and out == ""
    html = target.read_text()
    assert html.startswith("<!doctype html>") and "<style>" in html
    for external in ("<script", "<link", "src=", "@import", "url("):
        assert external not in html
    assert "<strong>6</strong>services" in html and "<strong>4</strong>compliant (67%)" in html
    assert html.count("<tr><td><code>") == 6 + 1 + 2  # six services, one rule, two owners
    assert '<td class="failing">failing</td>' in html
    assert "<code>k8s/privileged</code>" in html


def test_html_escapes_what_repositories_say() -> None:
    row = ServiceRow("acme/x", "<img src=x onerror=alert(1)>", owner="@a/b<script>")
    html = render_html(ComplianceReport("t", (row,)))
    assert "<img" not in html and "<script>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


@pytest.mark.parametrize("fmt", ["table", "markdown"])
def test_table_and_markdown_list_every_service(
    capsys: pytest.CaptureFixture[str], repos: list[Path], fmt: str
) -> None:
    code, out, _ = run(capsys, *repos, "--format", fmt)
    assert code == 0
    assert out.count("payments") >= 2 and "6 services" in out
    if fmt == "markdown":
        assert "| Repository | Service | Owner |" in out and "`k8s/privileged`" in out
    else:
        assert out.splitlines()[0].startswith("REPOSITORY") and "FAILING" in out


def test_parallel_and_one_at_a_time_give_the_same_rows(
    capsys: pytest.CaptureFixture[str], repos: list[Path]
) -> None:
    _, parallel, _ = run(capsys, *repos, "--format", "json", "--jobs", "3")
    _, serial, _ = run(capsys, *repos, "--format", "json", "--jobs", "1")
    assert json.loads(parallel)["services"] == json.loads(serial)["services"]


def test_a_repository_that_cannot_be_evaluated_is_listed_and_the_rest_reported(
    capsys: pytest.CaptureFixture[str], repos: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import ghapp.core.evaluate

    real = ghapp.core.evaluate.evaluate

    def evaluate(snapshot: Any, **kw: Any) -> Any:
        if Path(snapshot.root).name == "ledger":
            raise RecursionError("maximum recursion depth exceeded")
        return real(snapshot, **kw)

    monkeypatch.setattr(ghapp.core.evaluate, "evaluate", evaluate)
    code, out, err = run(capsys, *repos, "--format", "json", "--jobs", "1")
    assert code == 2
    data = json.loads(out)
    assert data["errors"] == [
        {"repository": "ledger", "error": "RecursionError: maximum recursion depth exceeded"}
    ]
    assert len(data["services"]) == 5
    assert "ledger: not evaluated: RecursionError" in err


def test_a_missing_directory_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run(capsys, tmp_path / "nope")
    assert code == 2 and out == ""
    assert err.strip() == f"ghapp: error: {tmp_path / 'nope'}: no such directory"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_on_a_terminal_only() -> None:
    shown = Terminal()
    bar = ProgressBar(4, shown)
    bar.advance("acme/shop")
    bar.advance("acme/\x1b[31mweb")
    bar.close()
    lines = shown.getvalue().split("\r")
    assert lines[1].startswith("[#####---------------] 1/4 acme/shop")
    assert lines[2].startswith("[##########----------] 2/4 acme/\\x1b[31mweb")  # inert
    assert lines[-1] == ""  # the bar is wiped at the end
    quiet = io.StringIO()
    ProgressBar(4, quiet).advance("acme/shop")
    assert quiet.getvalue() == ""


def test_the_progress_bar_stays_off_when_stderr_is_not_a_terminal(
    capsys: pytest.CaptureFixture[str], repos: list[Path]
) -> None:
    _, _, err = run(capsys, *repos, "--format", "json")
    assert err == ""


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("git@github.com:acme/shop.git", "acme/shop"),
        ("https://github.com/acme/shop", "acme/shop"),
        ("https://github.example.com/acme/shop.git/", "acme/shop"),
        ("ssh://git@github.com/acme/shop.git", "acme/shop"),
        # A clone of a clone on this machine: its path names no repository.
        ("/srv/mirrors/acme+shop/repo", None),
        ("file:///srv/git/acme/shop.git", None),
        ("../acme/shop", None),
    ],
)
def test_the_repository_is_named_from_its_origin(
    tmp_path: Path, url: str, name: str | None
) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "remote", "add", "origin", url], check=True)
    assert repository_name(tmp_path) == (name or tmp_path.name)


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("@acme/payments", "@acme/payments"),
        ("payments", "payments"),
    ],
)
def test_csv_cells_never_run_as_formulas(cell: str, shown: str) -> None:
    assert inert_cell(cell) == shown

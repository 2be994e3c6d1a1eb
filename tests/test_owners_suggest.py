"""`ghapp owners --suggest` and suggestions in `ghapp check`, on generated git repositories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ghapp.cli import main
from tests.gitrepos import History, git
from tests.test_ci import Runner

DIRECTORY = """
teams:
  "@acme/payments": {members: [alice, bob]}
  acme/shipping:
    members: [carol]
emails:
  alice@acme.dev: alice
  bob@acme.dev: bob
  carol@acme.dev: carol
"""
CODEOWNERS = "/services/ship/ @acme/shipping\n/services/pay/generated/\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """services/pay by payments (unowned), services/ship owned by shipping, a generated
    directory deliberately unowned, and a directory file mapping emails and teams."""
    history = History()
    history.commit("erin", {".github/CODEOWNERS": CODEOWNERS}, days_ago=100)
    for i in range(6):
        history.commit("alice" if i % 2 else "bob", {"services/pay/api.py": f"{i}\n"}, days_ago=9)
        history.commit("bob", {f"services/pay/db{i % 2}.py": f"{i}\n"}, days_ago=8)
    history.commit("carol", {"services/ship/x.py": "x\n", "services/pay/generated/t.py": "t\n"})
    root = history.create(tmp_path / "repo")
    (tmp_path / "directory.yml").write_text(DIRECTORY)
    return root


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_keeps_the_contract_and_adds_suggestions_to_every_file(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = str(repo.parent / "directory.yml")
    code, out, _ = run(
        capsys, "owners", "--repo", str(repo), "--suggest", "--directory", directory,
        "--format", "json", "services/pay/api.py", "services/ship/x.py",
        "services/pay/generated/t.py",
    )  # fmt: skip
    assert code == 0
    body = json.loads(out)
    assert set(body) == {"files", "errors"}
    files = {f["path"]: f for f in body["files"]}
    api = files["services/pay/api.py"]
    assert set(api) == {"path", "owners", "line", "pattern", "service", "suggestions"}
    top = api["suggestions"][0]
    assert top["owner"] == "@acme/payments" and 0 < top["score"] <= 1
    assert top["evidence"][0].startswith("12 of 12 commits in the last 365 days by members of")
    assert top["rule"] == "/services/pay/ @acme/payments"
    assert files["services/ship/x.py"]["suggestions"] == []  # owned
    assert files["services/pay/generated/t.py"]["suggestions"] == []  # deliberately unowned


def test_text_names_the_line_to_add_its_evidence_and_deliberately_unowned_files(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = str(repo.parent / "directory.yml")
    code, out, _ = run(capsys, "owners", "--repo", str(repo), "--suggest", "--directory", directory)
    assert code == 0
    assert "Suggested owners (from 365 days of history" in out
    assert "/services/pay/  @acme/payments  score" in out
    # the line must come before the ownerless rule, or it would undo it
    assert (
        "Add `/services/pay/ @acme/payments` to .github/CODEOWNERS as line 2, before "
        "`/services/pay/generated/`"
    ) in out
    assert "- 12 of 12 commits in the last 365 days by members of @acme/payments" in out
    assert (
        "services/pay/generated/t.py: deliberately unowned (CODEOWNERS line 2 "
        "`/services/pay/generated/` lists no owners)"
    ) in out


def test_without_a_directory_history_credits_nobody_and_says_so(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "owners", "--repo", str(repo), "--suggest", "--format", "json")
    assert code == 0
    files = {f["path"]: f for f in json.loads(out)["files"]}
    assert files["services/pay/api.py"]["suggestions"] == []
    assert "not mapped to GitHub users were credited to nobody" in err


def test_all_ranks_owned_paths_too(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = str(repo.parent / "directory.yml")
    code, out, _ = run(
        capsys, "owners", "--repo", str(repo), "--suggest", "--all", "--directory", directory,
        "--format", "json", "services/ship/x.py",
    )  # fmt: skip
    assert code == 0
    (entry,) = json.loads(out)["files"]
    assert entry["owners"] == ["@acme/shipping"]
    assert entry["suggestions"][0]["owner"] == "@acme/shipping"


def test_since_and_all_go_with_suggest(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "owners", "--repo", str(repo), "--since", "30")
    assert code == 2 and "--all and --since go with --suggest" in err


def test_a_window_of_no_days_is_refused(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["owners", "--repo", str(repo), "--suggest", "--since", "0"])
    assert exited.value.code == 2 and "at least 1 day" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("teams: {'@acme/a': {members: alice}}", "`teams.@acme/a` must be {members:"),
        ("emails: {alice@acme.dev: [alice]}", "`emails.alice@acme.dev` must be the GitHub login"),
        ("users: alice", "`users` must be a list"),
    ],
)
def test_a_malformed_directory_file_is_a_clear_usage_error(
    repo: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    bad = repo.parent / "bad.yml"
    bad.write_text(text)
    code, _, err = run(capsys, "owners", "--repo", str(repo), "--suggest", "--directory", str(bad))
    assert code == 2 and message in err


def test_check_puts_the_top_suggestion_on_the_unowned_file_finding(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / ".github" / "ghapp.yml").write_text("version: 1\nowners:\n  require: ['services/**']\n")
    directory = str(repo.parent / "directory.yml")
    code, out, _ = run(capsys, "check", str(repo), "--directory", directory, "--format", "json")
    assert code in (0, 1)
    findings = {
        f["path"]: f for f in json.loads(out)["findings"] if f["rule"] == "codeowners/unowned-file"
    }
    api = findings["services/pay/api.py"]
    assert api["suggested_owner"]["owner"] == "@acme/payments"
    assert api["suggested_owner"]["rule"] == "/services/pay/ @acme/payments"
    assert "Suggested owner: `@acme/payments`" in api["message"]
    assert api["fix"].startswith("Add `/services/pay/ @acme/payments` to .github/CODEOWNERS")
    generated = findings["services/pay/generated/t.py"]
    assert "deliberately unowned" in generated["message"] and "suggested_owner" not in generated
    code, text, _ = run(capsys, "check", str(repo), "--directory", directory)
    assert "Suggested owner: `@acme/payments`" in text
    assert "fix: Add `/services/pay/ @acme/payments` to .github/CODEOWNERS as line 2" in text


def test_ci_puts_the_suggestion_in_the_job_summary_and_the_log(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / ".github" / "ghapp.yml").write_text("version: 1\nowners:\n  require: ['services/**']\n")
    (repo / "services" / "pay" / "api.py").write_text("changed\n")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=alice", "-c", "user.email=alice@acme.dev", "commit", "-qm", "x")
    head = git(repo, "rev-parse", "HEAD").strip()
    runner = Runner(tmp_path, monkeypatch, capsys, repo)
    runner.event("push", {"ref": "refs/heads/main", "before": "0" * 40, "after": head}, head)
    code, out, _ = runner.run("--directory", str(repo.parent / "directory.yml"))
    assert code in (0, 1)
    assert "Suggested owner: `@acme/payments`" in runner.summary.read_text()
    assert "fix: Add `/services/pay/ @acme/payments` to .github/CODEOWNERS" in out

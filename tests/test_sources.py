"""Local snapshots for the CLI: a directory (git-aware) and a commit of a git repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ghapp.core.errors import GhappError
from ghapp.sources import DirectorySnapshot, GitSnapshot


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        text=True,
        env={
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com",
            "HOME": str(repo),
            "PATH": "/usr/bin:/bin",
        },
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("a = 1\n")
    (tmp_path / "CODEOWNERS").write_text("* @o/t\n")
    (tmp_path / ".gitignore").write_text("*.log\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "one")
    (tmp_path / "src" / "b.py").write_text("b = 2\n")
    (tmp_path / "debug.log").write_text("ignored\n")
    return tmp_path


def test_directory_snapshot_in_a_checkout_lists_tracked_and_untracked_not_ignored(
    repo: Path,
) -> None:
    snap = DirectorySnapshot(repo)
    assert list(snap.paths()) == [".gitignore", "CODEOWNERS", "src/a.py", "src/b.py"]
    assert snap.read("src/b.py") == b"b = 2\n"
    assert snap.size("src/a.py") == 6


def test_directory_snapshot_never_reads_outside_its_root(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("x")
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "link").symlink_to(tmp_path / "secret")
    snap = DirectorySnapshot(tmp_path / "repo")
    assert snap.read("../secret") is None
    assert snap.read("link") is None
    assert snap.read("missing") is None


def test_directory_snapshot_of_a_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(GhappError, match="no such directory"):
        DirectorySnapshot(tmp_path / "nope")


def test_git_snapshot_reads_the_commit_not_the_working_tree(repo: Path) -> None:
    (repo / "src" / "a.py").write_text("changed\n")
    snap = GitSnapshot(repo, "HEAD")
    assert list(snap.paths()) == [".gitignore", "CODEOWNERS", "src/a.py"]
    assert snap.read("src/a.py") == b"a = 1\n"
    assert snap.size("src/a.py") == 6


def test_git_snapshot_of_a_subdirectory_sees_the_tree_below_it(repo: Path) -> None:
    snap = GitSnapshot(repo / "src", "HEAD")
    assert list(snap.paths()) == ["a.py"]


def test_git_snapshot_of_a_directory_added_later_is_empty_at_older_commits(repo: Path) -> None:
    (repo / "new").mkdir()
    (repo / "new" / "x.py").write_text("x\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "two")
    assert list(GitSnapshot(repo / "new", "HEAD~1").paths()) == []
    assert list(GitSnapshot(repo / "new", "HEAD").paths()) == ["x.py"]


def test_git_snapshot_errors_are_one_line(
    repo: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with pytest.raises(GhappError, match="'nope' is not a commit"):
        GitSnapshot(repo, "nope")
    with pytest.raises(GhappError, match="not a git repository"):
        GitSnapshot(tmp_path_factory.mktemp("plain"), "HEAD")

"""Local snapshots for the CLI: a directory (git-aware) and a commit of a git repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ghapp.core.errors import GhappError
from ghapp.core.evaluate import changed_paths
from ghapp.sources import DirectorySnapshot, GitObjects, GitSnapshot


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


def test_directory_links_and_dot_dot_paths_cannot_lead_outside_either(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.yaml").write_text("x")
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    (repo / "docs" / "readme.md").write_text("inside")
    (repo / "escape").symlink_to(outside)  # a directory link out of the repository
    (repo / "docs" / "here").symlink_to(repo / "docs")  # a directory link inside it
    (repo / "docs" / "readme-link.md").symlink_to("readme.md")
    snap = DirectorySnapshot(repo)
    for path in ("escape/secret.yaml", "docs/../../outside/secret.yaml", "/etc/hostname", ".."):
        assert snap.read(path) is None and snap.size(path) is None, path
    assert snap.read("docs/here/readme.md") == b"inside"
    assert snap.read("docs/readme-link.md") == b"inside"
    assert snap.read("docs") is None and snap.size("docs") is None  # a directory is no file
    assert snap.read("docs/readme.md") == b"inside"  # asked again: the remembered answer


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


def test_git_snapshots_of_one_repository_share_one_cat_file_process(repo: Path) -> None:
    (repo / "src" / "a.py").write_text("a = 2\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "two")
    with GitObjects(repo) as objects:
        old, new = GitSnapshot(repo, "HEAD~1", objects), GitSnapshot(repo, "HEAD", objects)
        assert old.read("src/a.py") == b"a = 1\n"
        assert new.read("src/a.py") == b"a = 2\n"
        assert dict(new.read_many(["CODEOWNERS", "missing", "src/a.py"])) == {
            "CODEOWNERS": b"* @o/t\n",
            "missing": None,
            "src/a.py": b"a = 2\n",
        }
        process = objects._process
        assert process is not None and process.poll() is None
    assert process.wait(timeout=5) == 0  # closing ends git cat-file --batch


def test_git_snapshot_blob_ids_are_equal_exactly_when_bytes_are(repo: Path) -> None:
    (repo / "src" / "a.py").write_text("a = 2\n")
    (repo / "copy.py").write_text("a = 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "two")
    old, new = GitSnapshot(repo, "HEAD~1"), GitSnapshot(repo, "HEAD")
    assert old.blob_id("CODEOWNERS") == new.blob_id("CODEOWNERS")
    assert old.blob_id("src/a.py") != new.blob_id("src/a.py")
    assert new.blob_id("copy.py") == old.blob_id("src/a.py")
    assert new.blob_id("missing") is None


def test_reads_still_work_when_the_cat_file_process_dies(repo: Path) -> None:
    with GitObjects(repo) as objects:
        snap = GitSnapshot(repo, "HEAD", objects)
        assert snap.read(".gitignore") == b"*.log\n"
        process = objects._process
        assert process is not None
        process.kill()
        process.wait()
        # The next read notices, and falls back to one `git cat-file blob` per file.
        assert snap.read("src/a.py") == b"a = 1\n"
        assert dict(snap.read_many(["CODEOWNERS"])) == {"CODEOWNERS": b"* @o/t\n"}


def test_directory_snapshot_blob_ids_only_for_files_the_work_tree_left_as_committed(
    repo: Path,
) -> None:
    (repo / "CODEOWNERS").write_text("* @o/other\n")  # modified, not staged
    snap, head = DirectorySnapshot(repo), GitSnapshot(repo, "HEAD")
    assert snap.blob_id("src/a.py") == head.blob_id("src/a.py")  # clean
    assert snap.blob_id("CODEOWNERS") is None  # modified: its bytes must be compared
    assert snap.blob_id("src/b.py") is None  # untracked


def test_pr_mode_over_two_refs_and_over_the_work_tree_finds_what_changed(repo: Path) -> None:
    (repo / "src" / "a.py").write_text("a = 2\n")
    git(repo, "add", "src/a.py")
    git(repo, "commit", "-qm", "two")
    (repo / "CODEOWNERS").write_text("* @o/other\n")
    (repo / ".gitignore").write_text("*.log\n")  # rewritten, same bytes
    with GitObjects(repo) as objects:
        base = GitSnapshot(repo, "HEAD~1", objects)
        assert changed_paths(base, GitSnapshot(repo, "HEAD", objects)) == ["src/a.py"]
        # The work tree: a modified file, the committed change, an untracked file.
        assert changed_paths(base, DirectorySnapshot(repo)) == [
            "CODEOWNERS",
            "src/a.py",
            "src/b.py",
        ]

"""Reading a local repository's history with one `git log` process."""

from __future__ import annotations

from pathlib import Path

from ghapp.history import covering_paths, read_history
from tests.gitrepos import History, git


def test_each_commit_is_read_with_its_author_date_and_lines_per_file(tmp_path: Path) -> None:
    history = History()
    history.commit("alice", {"a.py": "1\n2\n"}, days_ago=3)
    history.commit("bob", {"a.py": "1\n3\n", "b.py": "x\n"}, days_ago=1)
    root = history.create(tmp_path / "repo")
    newest, oldest = read_history(root, now=history.now, since_days=30)
    assert (newest.author_name, newest.author_email) == ("bob", "bob@acme.dev")
    assert dict(newest.files) == {"a.py": 2, "b.py": 1}  # one line replaced: 1 added, 1 deleted
    assert dict(oldest.files) == {"a.py": 2}
    assert (history.now - newest.when).days == 1 and newest.parents == 1
    assert len(newest.sha) == 40


def test_odd_file_names_and_binary_files_come_through_whole(tmp_path: Path) -> None:
    names = ["with space.txt", "tab\there.txt", "ünï/cödé.py", 'quote".txt', "line\nbreak.txt"]
    history = History()
    history.commit("alice", {**{n: "x\n" for n in names}, "logo.png": b"\x89PNG\0\0\1"})
    root = history.create(tmp_path / "repo")
    (record,) = read_history(root, now=history.now, since_days=30)
    assert dict(record.files) == {**dict.fromkeys(names, 1), "logo.png": 0}


def test_merges_are_left_out_and_commits_before_the_window_are_not_read(tmp_path: Path) -> None:
    history = History()
    history.commit("alice", {"a.py": "1\n"}, days_ago=90)
    history.commit("bob", {"b.py": "1\n"}, days_ago=5, branch="feature")
    history.merge("carol", "feature", days_ago=4)
    root = history.create(tmp_path / "repo")
    records = read_history(root, now=history.now, since_days=30)
    assert [r.author_name for r in records] == ["bob"]


def test_paths_are_relative_to_a_subdirectory_and_filtered_by_keep(tmp_path: Path) -> None:
    history = History()
    history.commit("alice", {"app/src/x.py": "1\n", "app/y.py": "1\n", "other/z.py": "1\n"})
    history.commit("bob", {"other/z.py": "2\n"})
    root = history.create(tmp_path / "repo")
    (record,) = read_history(root / "app", now=history.now, since_days=30)
    assert dict(record.files) == {"src/x.py": 1, "y.py": 1}
    kept = read_history(root, now=history.now, since_days=30, keep={"app/y.py"}.__contains__)
    assert [dict(r.files) for r in kept] == [{"app/y.py": 1}]


def test_no_history_outside_git_or_before_the_first_commit(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    assert read_history(plain, now=History().now, since_days=30) == []
    empty = tmp_path / "empty"
    empty.mkdir()
    git(empty, "init", "-q")
    assert read_history(empty, now=History().now, since_days=30) == []


def test_only_commits_within_the_covering_paths_are_read(tmp_path: Path) -> None:
    history = History()
    history.commit("alice", {"a/x.py": "1\n", "b/y.py": "1\n", "c d/z.py": "1\n", "c d/k": "1"})
    history.commit("bob", {"a/x.py": "2\n"})
    history.commit("carol", {"c d/z.py": "2\n", "e*[x].py": "2\n"})
    root = history.create(tmp_path / "repo")
    universe = ["a/x.py", "b/y.py", "c d/k", "c d/z.py", "e*[x].py"]
    within = covering_paths({"b/y.py", "c d/z.py", "c d/k"}, universe)
    assert within == ["b", "c d"]
    records = read_history(root, now=history.now, since_days=30, within=within)
    assert [(r.author_name, sorted(dict(r.files))) for r in records] == [
        ("carol", ["c d/z.py"]),
        ("alice", ["b/y.py", "c d/k", "c d/z.py"]),
    ]
    # a name a CODEOWNERS pattern cannot express: read everything rather than guess
    assert covering_paths({"e*[x].py"}, universe) == []

"""Snapshots of local repositories for the CLI: a directory on disk, or a git ref."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from ghapp.core.errors import GhappError

MAX_READ_BYTES = 25 * 1024 * 1024  # larger files are treated as unreadable


class DirectorySnapshot:
    """The working tree of a directory. In a git checkout: tracked and untracked, not ignored,
    files (like `git ls-files -co --exclude-standard`); elsewhere every file below it but `.git`."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise GhappError(f"{root}: no such directory")
        self._paths: tuple[str, ...] | None = None

    def paths(self) -> Sequence[str]:
        if self._paths is None:
            self._paths = tuple(sorted(_git_files(self.root) or _walk(self.root)))
        return self._paths

    def read(self, path: str) -> bytes | None:
        full = self._inside(path)
        if full is None or not full.is_file():
            return None
        try:
            if full.stat().st_size > MAX_READ_BYTES:
                return None
            return full.read_bytes()
        except OSError:
            return None

    def size(self, path: str) -> int | None:
        full = self._inside(path)
        try:
            return full.stat().st_size if full is not None and full.is_file() else None
        except OSError:
            return None

    def _inside(self, path: str) -> Path | None:
        # Never read outside the root, whatever the path or a symlink says.
        try:
            full = (self.root / path).resolve()
        except (RuntimeError, OSError):  # a symlink loop (RuntimeError before Python 3.13)
            return None
        return full if full.is_relative_to(self.root) else None


class GitSnapshot:
    """The tree of a commit in a local git repository (`git ls-tree` + `git cat-file`)."""

    def __init__(self, repo: str | Path, ref: str) -> None:
        self.repo = Path(repo).resolve()
        self.ref = ref
        self.commit = _git(
            self.repo,
            "rev-parse",
            "--verify",
            "--quiet",
            f"{ref}^{{commit}}",
            what=f"{ref!r} is not a commit in {repo}",
        ).strip()
        # A directory inside a larger repository sees the tree below it, like the working tree.
        prefix = _git(self.repo, "rev-parse", "--show-prefix").strip()
        tree = f"{self.commit}:{prefix}" if prefix else self.commit
        self._entries: dict[str, tuple[str, int]] = {}
        if prefix and not _exists(self.repo, tree):
            self._paths: tuple[str, ...] = ()  # the directory did not exist yet at that commit
            return
        listing = _git(self.repo, "ls-tree", "-r", "-z", "--long", "--full-tree", tree)
        for record in listing.split("\0"):
            if not record:
                continue
            meta, _, path = record.partition("\t")
            _mode, kind, sha, size = meta.split()
            if kind == "blob":
                self._entries[path] = (sha, int(size) if size.isdigit() else 0)
        self._paths = tuple(sorted(self._entries))

    def paths(self) -> Sequence[str]:
        return self._paths

    def read(self, path: str) -> bytes | None:
        entry = self._entries.get(path)
        if entry is None or entry[1] > MAX_READ_BYTES:
            return None
        result = subprocess.run(
            ["git", "-C", str(self.repo), "cat-file", "blob", entry[0]],
            capture_output=True,
            check=False,
        )
        return result.stdout if result.returncode == 0 else None

    def size(self, path: str) -> int | None:
        entry = self._entries.get(path)
        return entry[1] if entry else None


def is_git_repo(root: str | Path) -> bool:
    result = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--is-inside-work-tree"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode == 0 and result.stdout.strip() == "true"


def _git(repo: Path, *args: str, what: str | None = None) -> str:
    try:
        result = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        raise GhappError("git is not installed (needed for --base/--head)") from None
    if result.returncode != 0:
        if not is_git_repo(repo):
            raise GhappError(f"{repo}: not a git repository (needed for --base/--head)")
        raise GhappError(what or (result.stderr.strip().splitlines() or ["git failed"])[0])
    return result.stdout


def _exists(repo: Path, treeish: str) -> bool:
    result = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "-e", treeish], capture_output=True, check=False
    )
    return result.returncode == 0


def _git_files(root: Path) -> list[str] | None:
    if not (root / ".git").exists():
        return None
    result = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z", "-co", "--exclude-standard"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        return None
    return [p for p in result.stdout.split("\0") if p and (root / p).is_file()]


def _walk(root: Path) -> list[str]:
    out: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        rel = os.path.relpath(dirpath, root)
        for name in filenames:
            path = name if rel == "." else f"{rel}/{name}".replace(os.sep, "/")
            out.append(path)
    return out


class MountedSnapshot:
    """Another snapshot seen under a directory prefix, e.g. a folder of workflow files checked as
    if it were a repository's `.github/workflows/` (`ghapp check --workflows DIR`)."""

    def __init__(self, inner: DirectorySnapshot, prefix: str) -> None:
        self.inner = inner
        self.prefix = prefix.rstrip("/") + "/"
        self._paths = tuple(self.prefix + p for p in inner.paths())

    def paths(self) -> Sequence[str]:
        return self._paths

    def read(self, path: str) -> bytes | None:
        return self.inner.read(path[len(self.prefix) :]) if path.startswith(self.prefix) else None

    def size(self, path: str) -> int | None:
        return self.inner.size(path[len(self.prefix) :]) if path.startswith(self.prefix) else None

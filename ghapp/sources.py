"""Snapshots of local repositories for the CLI: a directory on disk, or a git ref."""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ghapp.core.errors import GhappError

MAX_READ_BYTES = 25 * 1024 * 1024  # larger files are treated as unreadable
# Blob ids asked of `git cat-file --batch` at once: 41 bytes each, well inside a pipe's buffer.
BATCH_BLOBS = 500


class DirectorySnapshot:
    """The working tree of a directory. In a git checkout: tracked and untracked, not ignored,
    files (like `git ls-files -co --exclude-standard`); elsewhere every file below it but `.git`."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise GhappError(f"{root}: no such directory")
        self._paths: tuple[str, ...] | None = None
        self._ids: dict[str, str] | None = None
        self._where: dict[str, Path | None] = {}
        self._dirs: dict[str, Path | None] = {}

    def paths(self) -> Sequence[str]:
        if self._paths is None:
            self._paths = tuple(sorted(_git_files(self.root) or _walk(self.root)))
        return self._paths

    def blob_id(self, path: str) -> str | None:
        """The git blob id of a tracked file the working tree has not modified (its bytes are
        the index's); None for other files, whose bytes must be compared."""
        if self._ids is None:
            self._ids = _clean_index_ids(self.root) if (self.root / ".git").exists() else {}
        return self._ids.get(path)

    def read(self, path: str) -> bytes | None:
        full = self._inside(path)
        if full is None:
            return None
        try:
            info = os.stat(full)
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_READ_BYTES:
                return None
            with open(full, "rb") as handle:
                return handle.read()
        except OSError:
            return None

    def size(self, path: str) -> int | None:
        full = self._inside(path)
        if full is None:
            return None
        try:
            info = os.stat(full)
        except OSError:
            return None
        return info.st_size if stat.S_ISREG(info.st_mode) else None

    def _inside(self, path: str) -> Path | None:
        """Where `path` really is, or None when that is outside the root (whatever the path or
        a symlink says) or cannot be resolved (a symlink loop). Remembered per path, and the
        directories above it once each: checks ask for a file's size and then its bytes, and
        most files share their directories."""
        if path in self._where:
            return self._where[path]
        parent, _, name = path.rpartition("/")
        full: Path | None
        if name in ("", ".", "..") or _is_link(self.root / path):
            full = self._resolve(path)
        else:
            above = self._resolve_dir(parent)
            full = None if above is None else above / name
        self._where[path] = full
        return full

    def _resolve_dir(self, directory: str) -> Path | None:
        if directory not in self._dirs:
            self._dirs[directory] = self._resolve(directory)
        return self._dirs[directory]

    def _resolve(self, path: str) -> Path | None:
        try:
            full = (self.root / path).resolve()
        except (RuntimeError, OSError):  # a symlink loop (RuntimeError before Python 3.13)
            return None
        return full if full.is_relative_to(self.root) else None


def _is_link(path: Path) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(path).st_mode)
    except OSError:
        return False


class GitObjects:
    """Blobs of one local repository, read through a single long-lived `git cat-file --batch`
    process (one process per repository, not one per file) with a small cache by blob id, so
    the base and head of a change read a file they share once. Thread-safe; `close()` ends the
    process (also done when the object is collected)."""

    def __init__(self, repo: str | Path, *, cache_bytes: int = 64 * 1024 * 1024) -> None:
        self.repo = Path(repo).resolve()
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._broken = False
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cache_bytes = 0
        self._cache_limit = cache_bytes
        self._finalizer: weakref.finalize[Any, GitObjects] | None = None

    def read(self, sha: str) -> bytes | None:
        """The blob's bytes (None when git does not have it)."""
        return self.read_many((sha,))[sha]

    def read_many(self, shas: Sequence[str]) -> dict[str, bytes | None]:
        """Blobs by id, asked of git in pipelined chunks (one round trip per chunk, not per
        blob: on a busy machine each round trip costs a context switch or two)."""
        out: dict[str, bytes | None] = {}
        with self._lock:
            wanted = []
            for sha in dict.fromkeys(shas):
                data = self._cache.get(sha)
                if data is None:
                    wanted.append(sha)
                else:
                    self._cache.move_to_end(sha)
                    out[sha] = data
            for start in range(0, len(wanted), BATCH_BLOBS):
                chunk = wanted[start : start + BATCH_BLOBS]
                answers = None if self._broken else self._exchange(chunk)
                if answers is None:  # git cat-file --batch unusable: one process per blob
                    answers = [self._single_read(sha) for sha in chunk]
                for sha, data in zip(chunk, answers, strict=True):
                    out[sha] = data
                    if data is not None and len(data) <= self._cache_limit // 8:
                        self._remember(sha, data)
        return out

    def close(self) -> None:
        """End the git process (reads after this start a new one)."""
        with self._lock:
            self._stop()

    def __enter__(self) -> GitObjects:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _exchange(self, shas: Sequence[str]) -> list[bytes | None] | None:
        """Ask for every blob, then read every answer. A chunk of requests fits in the pipe's
        buffer, so writing it all first cannot wait on git writing its answers."""
        process = self._process or self._start()
        if process is None or process.stdin is None or process.stdout is None:
            return None
        try:
            process.stdin.write(b"".join(sha.encode("ascii") + b"\n" for sha in shas))
            process.stdin.flush()
            answers: list[bytes | None] = []
            for _ in shas:
                header = process.stdout.readline().split()
                if len(header) == 2 and header[1] == b"missing":
                    answers.append(None)
                    continue
                if len(header) != 3 or not header[2].isdigit():
                    raise OSError(f"unexpected git cat-file answer {header!r}")
                size = int(header[2])
                data = process.stdout.read(size)
                if len(data) != size or process.stdout.read(1) != b"\n":
                    raise OSError("git cat-file answer cut short")
                answers.append(data)
            return answers
        except (OSError, ValueError, UnicodeEncodeError):
            self._broken = True
            self._stop()
            return None

    def _start(self) -> subprocess.Popen[bytes] | None:
        try:
            process = subprocess.Popen(
                ["git", "-C", str(self.repo), "cat-file", "--batch"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        except OSError:
            self._broken = True
            return None
        self._process = process
        self._finalizer = weakref.finalize(self, _end_process, process)
        return process

    def _stop(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
        self._process = None

    def _single_read(self, sha: str) -> bytes | None:
        result = subprocess.run(
            ["git", "-C", str(self.repo), "cat-file", "blob", sha],
            capture_output=True,
            check=False,
        )
        return result.stdout if result.returncode == 0 else None

    def _remember(self, sha: str, data: bytes) -> None:
        self._cache[sha] = data
        self._cache_bytes += len(data)
        while self._cache_bytes > self._cache_limit:
            _, dropped = self._cache.popitem(last=False)
            self._cache_bytes -= len(dropped)


def _end_process(process: subprocess.Popen[bytes]) -> None:
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
    try:
        process.wait(timeout=5)  # closing stdin ends `git cat-file --batch`
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class GitSnapshot:
    """The tree of a commit in a local git repository: `git ls-tree` once for paths, sizes and
    blob ids; file bytes from `objects` (a `GitObjects`, shared by the snapshots of one
    repository so that a base and a head read a common blob once)."""

    def __init__(self, repo: str | Path, ref: str, objects: GitObjects | None = None) -> None:
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
        self.objects = objects or GitObjects(self.repo)
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
        return self.objects.read(entry[0])

    def read_many(self, paths: Sequence[str]) -> Iterator[tuple[str, bytes | None]]:
        """`(path, read(path))` for each path, fetched from git a chunk at a time."""
        for start in range(0, len(paths), BATCH_BLOBS):
            chunk = paths[start : start + BATCH_BLOBS]
            entries = [self._entries.get(path) for path in chunk]
            shas = [e[0] for e in entries if e is not None and e[1] <= MAX_READ_BYTES]
            blobs = self.objects.read_many(shas)
            for path, entry in zip(chunk, entries, strict=True):
                readable = entry is not None and entry[1] <= MAX_READ_BYTES
                yield path, blobs.get(entry[0]) if entry is not None and readable else None

    def size(self, path: str) -> int | None:
        entry = self._entries.get(path)
        return entry[1] if entry else None

    def blob_id(self, path: str) -> str | None:
        """The git blob id of the file (equal ids: equal bytes), None when absent."""
        entry = self._entries.get(path)
        return entry[0] if entry else None


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


def _clean_index_ids(root: Path) -> dict[str, str]:
    """Index blob ids of regular files whose working-tree copy matches the index (symlinks and
    files that `git status` reports modified are left out)."""
    listing = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-s", "-z"], capture_output=True, check=False
    )
    # GIT_OPTIONAL_LOCKS=0: status refreshes stat data in memory, never writes the index.
    status = subprocess.run(
        [
            *("git", "-C", str(root), "status", "--porcelain", "-z"),
            *("--untracked-files=no", "--no-renames", "--ignore-submodules"),
        ],
        capture_output=True,
        check=False,
        env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
    )
    if listing.returncode != 0 or status.returncode != 0:
        return {}
    ids: dict[str, str] = {}
    for record in listing.stdout.split(b"\0"):
        meta, _, name = record.partition(b"\t")
        fields = meta.split()
        if len(fields) == 3 and fields[2] == b"0" and fields[0] in (b"100644", b"100755"):
            ids[os.fsdecode(name)] = fields[1].decode("ascii")
    for entry in status.stdout.split(b"\0"):
        if len(entry) > 3 and entry[1:2] != b" ":  # Y: the working tree differs from the index
            ids.pop(os.fsdecode(entry[3:]), None)
    return ids


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

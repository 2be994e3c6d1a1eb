"""What the core knows of a repository at one commit: its file list and, on demand, file bytes.

The core asks a `Snapshot` for paths and reads only the files it needs (CODEOWNERS, manifests,
workflows, Kubernetes YAML, config). The CLI implements it over a directory or a git ref
(`ghapp.sources`), the app over the GitHub API (`ghapp.github.snapshot`), tests over a dict.
Two optional abilities, beside the protocol: a file's content identity without reading it
(`ContentIdentity`, e.g. git blob ids), so comparing snapshots and reusing per-file results
read only what changed; and reading many files in one go (`BulkRead`, e.g. one round trip to
git per chunk of files). `content_ids` and `read_files` use them when a snapshot has them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Protocol, runtime_checkable


class Snapshot(Protocol):
    """A repository at one commit."""

    def paths(self) -> Sequence[str]:
        """Every file path, repository-relative, '/'-separated, no leading '/'."""
        ...

    def read(self, path: str) -> bytes | None:
        """The file's bytes, or None when it does not exist or cannot be read."""
        ...

    def size(self, path: str) -> int | None:
        """The file's size in bytes without reading it (None when unknown or missing)."""
        ...


@runtime_checkable
class ContentIdentity(Protocol):
    """Optional, beside `Snapshot`: an id per file such that equal ids mean equal bytes."""

    def blob_id(self, path: str) -> str | None:
        """The file's content id (a git blob id), or None when unknown: compare bytes then."""
        ...


def content_ids(snapshot: Snapshot) -> Callable[[str], str | None] | None:
    """The snapshot's `blob_id` when it has one."""
    return snapshot.blob_id if isinstance(snapshot, ContentIdentity) else None


@runtime_checkable
class BulkRead(Protocol):
    """Optional, beside `Snapshot`: read many files at once."""

    def read_many(self, paths: Sequence[str]) -> Iterator[tuple[str, bytes | None]]:
        """`(path, read(path))` for each path, in order."""
        ...


def read_files(snapshot: Snapshot, paths: Sequence[str]) -> Iterator[tuple[str, bytes | None]]:
    """`(path, bytes or None)` for each path, in bulk when the snapshot can."""
    if isinstance(snapshot, BulkRead):
        yield from snapshot.read_many(paths)
        return
    for path in paths:
        yield path, snapshot.read(path)


class DictSnapshot:
    """A snapshot held in memory: `{path: text or bytes}`. For tests and embedding."""

    def __init__(self, files: Mapping[str, str | bytes]) -> None:
        self._files = {p: (v.encode() if isinstance(v, str) else v) for p, v in files.items()}
        self._paths = tuple(sorted(self._files))

    def paths(self) -> Sequence[str]:
        return self._paths

    def read(self, path: str) -> bytes | None:
        return self._files.get(path)

    def size(self, path: str) -> int | None:
        data = self._files.get(path)
        return None if data is None else len(data)


def read_text(snapshot: Snapshot, path: str) -> str | None:
    """Decode a file as UTF-8 (invalid bytes replaced), or None when absent."""
    data = snapshot.read(path)
    return None if data is None else data.decode("utf-8", errors="replace")

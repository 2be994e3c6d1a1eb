"""A Snapshot over the GitHub API: one recursive tree per commit, blobs fetched lazily, cached.

Theory of operation. The core's `Snapshot.read` is synchronous; githubkit is async. We do two
things, and both are needed:

1. Before evaluating, `prefetch()` fetches, concurrently, the blobs the core is known to read
   (CODEOWNERS, service manifests, workflows, YAML that may be Kubernetes, the config), skipping
   those already in the `BlobCache`. On a warm cache this costs only the blobs that changed.
2. The core then runs in a worker thread (`asyncio.to_thread`). A `read()` of a blob nobody
   prefetched is not an error: it schedules the fetch on the event loop with
   `asyncio.run_coroutine_threadsafe` and waits for it. So a new check that reads some other
   file is correct from day one, and only slower until the prefetch list learns about it.

Blobs are content-addressed, so the cache is keyed by blob SHA alone and shared by every
repository and event in the process: an unchanged file is never fetched twice. Trees are
immutable per commit and cached by (repository, commit SHA), so a PR's base tree is fetched once
while the base branch does not move.
"""

from __future__ import annotations

import asyncio
import base64
import posixpath
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ghapp.github.client import InstallationClient

PREFETCH_MAX_BYTES = 3 * 1024 * 1024  # GitHub ignores a CODEOWNERS over 3 MB; YAML beyond is rare
READ_MAX_BYTES = 10 * 1024 * 1024
PREFETCH_CONCURRENCY = 8
READ_TIMEOUT_SECONDS = 120.0
PR_FILES_LIMIT = 3000  # GitHub's pull request files API stops here
PER_PAGE = 100

PREFETCH_NAMES = frozenset(
    {
        "CODEOWNERS",
        "Dockerfile",  # presence comes from the tree; read only if small (scanners may parse it)
        "sonar-project.properties",
        ".gitleaks.toml",
        ".snyk",
        "Kustomization",
    }
)


@dataclass(frozen=True)
class TreeEntry:
    sha: str
    size: int | None


@dataclass(frozen=True)
class Tree:
    """The files of one commit (blobs only; submodules and directories are left out)."""

    sha: str
    entries: dict[str, TreeEntry]
    truncated: bool = False

    @property
    def note(self) -> str | None:
        if not self.truncated:
            return None
        return (
            f"The file tree of {self.sha[:12]} is larger than GitHub returns in one response "
            "(100,000 entries / 7 MB): files beyond that were not checked."
        )


class LRU:
    """A bounded least-recently-used map; bound by entries or by total weight (bytes)."""

    def __init__(self, max_weight: int, weigh: Callable[[Any], int] | None = None) -> None:
        self._items: OrderedDict[object, object] = OrderedDict()
        self._weights: dict[object, int] = {}
        self._max = max_weight
        self._weigh = weigh
        self._total = 0
        self._lock = threading.Lock()  # read() runs in worker threads

    def get(self, key: object) -> object | None:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: object, value: object) -> None:
        weight = self._weigh(value) if self._weigh else 1
        if weight > self._max:
            return
        with self._lock:
            if key in self._items:
                self._total -= self._weights[key]
            self._items[key] = value
            self._items.move_to_end(key)
            self._weights[key] = weight
            self._total += weight
            while self._total > self._max:
                old, _ = self._items.popitem(last=False)
                self._total -= self._weights.pop(old)

    def __len__(self) -> int:
        return len(self._items)


class BlobCache(LRU):
    """Blob bytes by SHA, bounded by total bytes (default 128 MiB)."""

    def __init__(self, max_bytes: int = 128 * 1024 * 1024) -> None:
        super().__init__(max_bytes, len)


class TreeCache(LRU):
    """Trees by (repository, commit SHA), bounded by count."""

    def __init__(self, max_trees: int = 64) -> None:
        super().__init__(max_trees)


@dataclass
class Caches:
    """The process-wide caches the processor owns and every snapshot shares."""

    blobs: BlobCache = field(default_factory=BlobCache)
    trees: TreeCache = field(default_factory=TreeCache)
    # Downloads under way: the base and head snapshots share most blobs and prefetch at the
    # same time, so the second asker waits for the first download instead of repeating it.
    inflight: dict[str, asyncio.Future[bytes]] = field(default_factory=dict)
    # Ownership suggestions (ghapp.github.history): commits per (repository, commit, path, since
    # day), immutable; team member lists per (installation, org, team), with their expiry.
    history: LRU = field(default_factory=lambda: LRU(4096))
    teams: LRU = field(default_factory=lambda: LRU(1024))


async def load_tree(client: InstallationClient, repo: str, sha: str, caches: Caches) -> Tree:
    """The recursive tree of commit `sha` (one API call, none when cached)."""
    cached = caches.trees.get((repo, sha))
    if isinstance(cached, Tree):
        return cached
    data = await client.request("GET", f"/repos/{repo}/git/trees/{sha}", params={"recursive": "1"})
    entries = {
        str(item["path"]): TreeEntry(str(item["sha"]), item.get("size"))
        for item in data.get("tree", [])
        if item.get("type") == "blob"
    }
    tree = Tree(sha=sha, entries=entries, truncated=bool(data.get("truncated")))
    caches.trees.put((repo, sha), tree)
    return tree


class GitHubSnapshot:
    """The Snapshot protocol over one commit of one repository (see the module docstring)."""

    def __init__(
        self,
        client: InstallationClient,
        repo: str,
        tree: Tree,
        caches: Caches,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.client = client
        self.repo = repo
        self.tree = tree
        self.caches = caches
        self.loop = loop
        self._paths = tuple(sorted(tree.entries))
        self.lazy_reads = 0  # blobs read() had to fetch because prefetch did not

    @classmethod
    async def load(
        cls, client: InstallationClient, repo: str, sha: str, caches: Caches
    ) -> GitHubSnapshot:
        tree = await load_tree(client, repo, sha, caches)
        return cls(client, repo, tree, caches, asyncio.get_running_loop())

    def paths(self) -> Sequence[str]:
        return self._paths

    def size(self, path: str) -> int | None:
        entry = self.tree.entries.get(path)
        return None if entry is None else entry.size

    def read(self, path: str) -> bytes | None:
        entry = self.tree.entries.get(path)
        if entry is None or (entry.size or 0) > READ_MAX_BYTES:
            return None
        cached = self.caches.blobs.get(entry.sha)
        if isinstance(cached, bytes):
            return cached
        if _on_loop_thread(self.loop):
            raise RuntimeError(
                f"{path}: not prefetched, and read() cannot wait on the event loop's own thread; "
                "run the core with asyncio.to_thread (as the processor does)"
            )
        self.lazy_reads += 1
        future = asyncio.run_coroutine_threadsafe(self._fetch(entry.sha), self.loop)
        return future.result(timeout=READ_TIMEOUT_SECONDS)

    async def fetch(self, path: str) -> bytes | None:
        """What `read(path)` returns, awaited on the loop (for callers that must not block it)."""
        entry = self.tree.entries.get(path)
        if entry is None or (entry.size or 0) > READ_MAX_BYTES:
            return None
        return await self._fetch(entry.sha)

    async def prefetch(self, paths: Iterable[str] | None = None) -> int:
        """Fetch the blobs of `paths` (default: `wanted_paths`) not cached yet; how many fetched."""
        chosen = wanted_paths(self._paths) if paths is None else list(paths)
        shas = {
            entry.sha
            for p in chosen
            if (entry := self.tree.entries.get(p)) is not None
            and (entry.size or 0) <= PREFETCH_MAX_BYTES
            and self.caches.blobs.get(entry.sha) is None
        }
        limit = asyncio.Semaphore(PREFETCH_CONCURRENCY)

        async def fetch(sha: str) -> None:
            async with limit:
                await self._fetch(sha)

        await asyncio.gather(*(fetch(sha) for sha in sorted(shas)))
        return len(shas)

    async def _fetch(self, sha: str) -> bytes:
        cached = self.caches.blobs.get(sha)
        if isinstance(cached, bytes):
            return cached
        inflight = self.caches.inflight
        task = inflight.get(sha)
        if task is None or task.get_loop() is not asyncio.get_running_loop():
            task = asyncio.ensure_future(self._download(sha))
            inflight[sha] = task
            task.add_done_callback(lambda done: _forget(inflight, sha, done))
        return await task

    async def _download(self, sha: str) -> bytes:
        data = await self.client.request("GET", f"/repos/{self.repo}/git/blobs/{sha}")
        content = str(data.get("content", ""))
        raw = base64.b64decode(content) if data.get("encoding") == "base64" else content.encode()
        self.caches.blobs.put(sha, raw)
        return raw


def _forget(
    inflight: dict[str, asyncio.Future[bytes]], sha: str, done: asyncio.Future[bytes]
) -> None:
    if inflight.get(sha) is done:
        del inflight[sha]


def wanted_paths(paths: Iterable[str]) -> list[str]:
    """The files the core reads: CODEOWNERS, manifests, config, workflows and every YAML file."""
    out = []
    for path in paths:
        name = posixpath.basename(path)
        if name in PREFETCH_NAMES or name.endswith((".yaml", ".yml")):
            out.append(path)
    return out


def _on_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


@dataclass(frozen=True)
class ChangedFile:
    path: str
    status: str  # added, removed, modified, renamed, copied, changed, unchanged
    patch: str | None
    previous_path: str | None = None


@dataclass(frozen=True)
class ChangedFiles:
    files: tuple[ChangedFile, ...]
    truncated: bool = False

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(f.path for f in self.files)

    @property
    def note(self) -> str | None:
        if not self.truncated:
            return None
        return (
            f"This pull request changes more than {PR_FILES_LIMIT:,} files, the most GitHub's API "
            "lists: only the first 3,000 were checked as changed."
        )


async def load_changed_files(client: InstallationClient, repo: str, number: int) -> ChangedFiles:
    """The PR's changed files with patches: 100 per page, stopping at GitHub's 3,000 limit."""
    files: list[ChangedFile] = []
    page = 1
    while True:
        batch = await client.request(
            "GET",
            f"/repos/{repo}/pulls/{number}/files",
            params={"per_page": PER_PAGE, "page": page},
        )
        for item in batch or []:
            files.append(
                ChangedFile(
                    path=str(item["filename"]),
                    status=str(item.get("status", "modified")),
                    patch=item.get("patch"),
                    previous_path=item.get("previous_filename"),
                )
            )
        if len(batch or []) < PER_PAGE:
            return ChangedFiles(tuple(files))
        if len(files) >= PR_FILES_LIMIT:
            return ChangedFiles(tuple(files[:PR_FILES_LIMIT]), truncated=True)
        page += 1

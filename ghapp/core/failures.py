"""One check that fails does not take the others down: its failure becomes a finding.

The evaluator runs each step (parsing CODEOWNERS, reading manifests, each check, coverage)
through `Guard.run`. An unexpected exception becomes a `ghapp/check-failed` error that names the
step and, when it can be told, the file it was reading; the findings the step made before it
failed are kept, and every other step still runs. The file is found in the traceback: the
innermost frame of the failing step that holds a snapshot path (a local `path`, or an object
such as a workflow or workload whose `path` is one).

A failure of the snapshot itself (the GitHub API, the disk) is not a check's fault and a retry may
cure it, so it is let through to the caller: `WatchedSnapshot` records such failures.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import TracebackType
from typing import TypeVar

from ghapp.core.catalog import Catalog
from ghapp.core.model import Finding
from ghapp.core.snapshot import Snapshot, content_ids, read_files

CHECK_FAILED = "ghapp/check-failed"
T = TypeVar("T")


class WatchedSnapshot:
    """A snapshot that remembers whether reading it raised (then guarded steps re-raise)."""

    def __init__(self, inner: Snapshot) -> None:
        self.inner = inner
        self.failed = False

    def paths(self) -> Sequence[str]:
        return self._watch(self.inner.paths)

    def read(self, path: str) -> bytes | None:
        return self._watch(lambda: self.inner.read(path))

    def size(self, path: str) -> int | None:
        return self._watch(lambda: self.inner.size(path))

    def read_many(self, paths: Sequence[str]) -> Iterator[tuple[str, bytes | None]]:
        """Bulk reads pass through when the inner snapshot has them (`BulkRead`)."""
        found = self._watch(lambda: read_files(self.inner, paths))
        while True:
            item = self._watch(lambda: next(found, None))
            if item is None:
                return
            yield item

    def blob_id(self, path: str) -> str | None:
        """The inner snapshot's content id when it has one (`ContentIdentity`)."""
        ids = content_ids(self.inner)
        return self._watch(lambda: ids(path)) if ids is not None else None

    def _watch(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except BaseException:
            self.failed = True
            raise


class Guard:
    """Runs the evaluation's steps over one snapshot, turning failures into findings."""

    def __init__(self, snapshot: WatchedSnapshot, catalog: Catalog) -> None:
        self.snapshot = snapshot
        self.catalog = catalog

    def run(self, step: str, call: Callable[[], T], fallback: T) -> tuple[T, list[Finding]]:
        """`call()`, or `fallback` and a failure finding when it raises."""
        try:
            return call(), []
        except Exception as exc:
            return fallback, [self._failure(step, exc)]

    def findings(self, step: str, produce: Callable[[], Iterable[Finding]]) -> list[Finding]:
        """The findings `produce()` yields; on failure, those made so far and a failure."""
        found: list[Finding] = []
        try:
            found.extend(produce())  # extend keeps what a generator yielded before it raised
        except Exception as exc:
            found.append(self._failure(step, exc))
        return found

    def _failure(self, step: str, exc: Exception) -> Finding:
        if self.snapshot.failed:
            raise exc
        path = failing_path(exc.__traceback__, frozenset(self.snapshot.paths()))
        where = f" on {path}" if path else ""
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
        rule = self.catalog.rule(CHECK_FAILED)
        return Finding(
            rule=CHECK_FAILED,
            severity=rule.severity,
            message=f"ghapp's {step} failed{where} ({detail}); what it would have found is "
            "missing from this report",
            path=path,
            fix=rule.fix,
            subject=f"{step} {path or ''}".strip(),
        )


def failing_path(tb: TracebackType | None, paths: frozenset[str]) -> str | None:
    """The snapshot path the innermost frame of a traceback was working on, if any."""
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        values = frame.f_locals
        named = values.get("path")
        if isinstance(named, str) and named in paths:
            return named
        for value in values.values():
            held = getattr(value, "path", None) if dataclasses.is_dataclass(value) else None
            if isinstance(held, str) and held in paths:
                return held
    return None

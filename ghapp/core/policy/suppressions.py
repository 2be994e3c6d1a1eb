"""Inline suppressions: `# ghapp: ignore[rule-id, ...] reason` in YAML files and CODEOWNERS.

A suppression after content on a line waives that line's findings of the named rules; one on a
comment-only line waives the findings of the next line that is not itself a comment (so several
can be stacked above one line). A finding without a line is waived by a suppression in the
file's leading comments. Waived findings stay in the report, with the reason; a suppression that
matches no finding is itself reported (`config/unused-suppression`), so a stale or mistyped one
cannot quietly waive a future finding.

Suppressions are collected from the files the checks read, through `SuppressionRecorder`: no file
is read twice and none is read only to look for comments.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from ghapp.core.model import Finding
from ghapp.core.snapshot import Snapshot, content_ids, read_files

MARKER = b"ghapp:"
INLINE_PREFIX = "suppressed inline at"  # how a waived finding's text names an inline suppression
# `#` starts a comment at the start of a line or after whitespace (YAML and CODEOWNERS alike).
_SUPPRESSION = re.compile(r"(?:^|\s)#\s*ghapp:\s*ignore\[([^\]]*)\][ \t]*(.*?)\s*$")
_COMMENT_ONLY = re.compile(r"^\s*#")
_CODEOWNERS_NAMES = frozenset({"CODEOWNERS"})


@dataclass(frozen=True)
class Suppression:
    """One `ghapp: ignore[...]` comment: where it is and which line's findings it waives."""

    path: str
    line: int
    target: int | None  # None: the file's leading comments, for findings without a line
    rules: tuple[str, ...]
    reason: str

    @property
    def comment(self) -> str:
        return f"# ghapp: ignore[{', '.join(self.rules)}]"

    def waives(self, finding: Finding) -> bool:
        if finding.path != self.path or finding.rule not in self.rules:
            return False
        if finding.line is None:
            return self.target is None
        return finding.line == self.target

    def describe(self) -> str:
        """The waiver text a waived finding carries (shown by every renderer)."""
        reason = self.reason or "no reason given"
        return f"{INLINE_PREFIX} {self.path}:{self.line}: {reason}"


def may_hold_suppressions(path: str) -> bool:
    """Files whose comments are read: YAML (workflows, manifests, Kubernetes, config), CODEOWNERS."""
    return path.endswith((".yml", ".yaml")) or path.rsplit("/", 1)[-1] in _CODEOWNERS_NAMES


def find_suppressions(path: str, text: str) -> tuple[Suppression, ...]:
    """Every suppression comment in one file's text."""
    lines = text.split("\n")
    out: list[Suppression] = []
    pending: list[tuple[int, tuple[str, ...], str]] = []  # comment-only lines awaiting a target
    in_header = True
    for number, line in enumerate(lines, start=1):
        match = _SUPPRESSION.search(line)
        comment_only = _COMMENT_ONLY.match(line) is not None
        if match is not None:
            rules = tuple(r.strip() for r in match.group(1).split(",") if r.strip())
            if comment_only:
                pending.append((number, rules, match.group(2)))
                if in_header:
                    out.append(Suppression(path, number, None, rules, match.group(2)))
                continue
            out.append(Suppression(path, number, number, rules, match.group(2)))
        if comment_only or not line.strip():
            continue
        in_header = False
        out += [Suppression(path, n, number, rules, reason) for n, rules, reason in pending]
        pending.clear()
    return tuple(out)


def match_suppression(suppressions: Sequence[Suppression], finding: Finding) -> Suppression | None:
    """The suppression that waives `finding`, if any."""
    return next((s for s in suppressions if s.waives(finding)), None)


def unused_suppressions(
    suppressions: Iterable[Suppression], findings: Sequence[Finding]
) -> list[Suppression]:
    """Suppression comments that waive none of `findings` (one entry per comment: a comment at
    the top of a file serves both its next line and the file's findings without a line)."""
    by_path: dict[str, list[Finding]] = {}
    for finding in findings:
        if finding.path:
            by_path.setdefault(finding.path, []).append(finding)
    comments: dict[tuple[str, int], list[Suppression]] = {}
    for s in suppressions:
        comments.setdefault((s.path, s.line), []).append(s)
    return [
        group[0]
        for _, group in sorted(comments.items())
        if not any(s.waives(f) for s in group for f in by_path.get(s.path, ()))
    ]


class SuppressionRecorder:
    """A snapshot that remembers the suppressions of every file read through it."""

    def __init__(self, inner: Snapshot) -> None:
        self.inner = inner
        self._found: dict[str, tuple[Suppression, ...]] = {}

    def paths(self) -> Sequence[str]:
        return self.inner.paths()

    def size(self, path: str) -> int | None:
        return self.inner.size(path)

    def read(self, path: str) -> bytes | None:
        return self._record(path, self.inner.read(path))

    def read_many(self, paths: Sequence[str]) -> Iterator[tuple[str, bytes | None]]:
        """Bulk reads pass through (and are recorded) when the inner snapshot has them."""
        for path, data in read_files(self.inner, paths):
            yield path, self._record(path, data)

    def blob_id(self, path: str) -> str | None:
        ids = content_ids(self.inner)
        return ids(path) if ids is not None else None

    def _record(self, path: str, data: bytes | None) -> bytes | None:
        if data is not None and MARKER in data and may_hold_suppressions(path):
            self._found[path] = find_suppressions(path, data.decode("utf-8", errors="replace"))
        return data

    @property
    def suppressions(self) -> tuple[Suppression, ...]:
        return tuple(s for path in sorted(self._found) for s in self._found[path])

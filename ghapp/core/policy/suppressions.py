"""Inline suppressions: `# ghapp: ignore[rule-id, ...] reason` in YAML files and CODEOWNERS.

A suppression after content on a line waives that line's findings of the named rules; one on a
comment-only line waives the findings of the next line that is not itself a comment (so several
can be stacked above one line). A finding without a line is waived by a suppression in the
file's leading comments. Waived findings stay in the report, with the reason; a suppression that
matches no finding is itself reported (`config/unused-suppression`), so a stale or mistyped one
cannot quietly waive a future finding.

Suppressions are collected from the files the checks read, through `SuppressionRecorder`: no file
is read twice and none is read only to look for comments. A file over the YAML size limit holds
no suppressions, and findings about content ghapp could not read or check (`NOT_SUPPRESSIBLE`)
cannot be waived inline at all: a comment inside that content cannot vouch for it (a waiver in
the config still can).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from ghapp.core.model import Finding
from ghapp.core.snapshot import Snapshot, content_ids, read_files
from ghapp.core.yamlnodes import MAX_YAML_BYTES

MARKER = b"ghapp:"
INLINE_PREFIX = "suppressed inline at"  # how a waived finding's text names an inline suppression
# `#` starts a comment at the start of a line or after whitespace (YAML and CODEOWNERS alike).
# The reason is everything after `]`, stripped in Python: `(.*?)\s*$` would take quadratic time
# on a long run of spaces followed by more text, and the line comes from a pull request.
_SUPPRESSION = re.compile(r"(?:^|\s)#\s*ghapp:\s*ignore\[([^\]]*)\](.*)$")
_COMMENT_ONLY = re.compile(r"^\s*#")
_CODEOWNERS_NAMES = frozenset({"CODEOWNERS"})
NOT_SUPPRESSIBLE = frozenset({"workflow/unreadable", "k8s/file-too-large", "ghapp/check-failed"})


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
        if finding.rule in NOT_SUPPRESSIBLE:
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
        reason = match.group(2).strip() if match is not None else ""
        comment_only = _COMMENT_ONLY.match(line) is not None
        if match is not None:
            rules = tuple(r.strip() for r in match.group(1).split(",") if r.strip())
            if comment_only:
                pending.append((number, rules, reason))
                if in_header:
                    out.append(Suppression(path, number, None, rules, reason))
                continue
            out.append(Suppression(path, number, number, rules, reason))
        if comment_only or not line.strip():
            continue
        in_header = False
        out += [Suppression(path, n, number, rules, reason) for n, rules, reason in pending]
        pending.clear()
    return tuple(out)


class SuppressionIndex:
    """Suppressions by the (path, line) they waive, so that matching F findings against S
    comments costs F + S, not F * S (both come from a pull request)."""

    def __init__(self, suppressions: Iterable[Suppression]) -> None:
        self._at: dict[tuple[str, int | None], list[Suppression]] = {}
        for s in suppressions:
            self._at.setdefault((s.path, s.target), []).append(s)

    def match(self, finding: Finding) -> Suppression | None:
        """The suppression that waives `finding`, if any (the first, in file order)."""
        if finding.path is None:
            return None
        candidates = self._at.get((finding.path, finding.line), ())
        return next((s for s in candidates if s.waives(finding)), None)


def match_suppression(suppressions: Sequence[Suppression], finding: Finding) -> Suppression | None:
    """The suppression that waives `finding`, if any (index them when matching many)."""
    return SuppressionIndex(suppressions).match(finding)


def unused_suppressions(
    suppressions: Iterable[Suppression], findings: Sequence[Finding]
) -> list[Suppression]:
    """Suppression comments that waive none of `findings` (one entry per comment: a comment at
    the top of a file serves both its next line and the file's findings without a line)."""
    waivable = {
        (f.path, f.line, f.rule) for f in findings if f.path and f.rule not in NOT_SUPPRESSIBLE
    }
    comments: dict[tuple[str, int], list[Suppression]] = {}
    for s in suppressions:
        comments.setdefault((s.path, s.line), []).append(s)
    return [
        group[0]
        for _, group in sorted(comments.items())
        if not any((s.path, s.target, rule) in waivable for s in group for rule in s.rules)
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
        if (
            data is not None
            and len(data) <= MAX_YAML_BYTES
            and MARKER in data
            and may_hold_suppressions(path)
        ):
            self._found[path] = find_suppressions(path, data.decode("utf-8", errors="replace"))
        return data

    @property
    def suppressions(self) -> tuple[Suppression, ...]:
        return tuple(s for path in sorted(self._found) for s in self._found[path])

"""What every renderer shares: owners grouped by team, finding counts, icons."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from ghapp.core.model import FileOwners, Finding

ICONS = {"error": "❌", "warning": "⚠️", "notice": "ℹ️"}
UNOWNED = "(unowned)"


def owners_by_team(files: Iterable[FileOwners]) -> dict[str, list[str]]:
    """Paths grouped by each owner (a file with two owners appears under both)."""
    groups: dict[str, list[str]] = defaultdict(list)
    for f in files:
        for owner in f.owners or (UNOWNED,):
            groups[owner].append(f.path)
    return dict(groups)


def counts(findings: Sequence[Finding]) -> str:
    by = {s: sum(1 for f in findings if f.severity == s) for s in ("error", "warning", "notice")}
    new = sum(1 for f in findings if f.new and not f.waived)
    waived = sum(1 for f in findings if f.waived)
    tail = f", {waived} waived" if waived else ""
    return (
        f"{by['error']} errors, {by['warning']} warnings, {by['notice']} notices ({new} new{tail})"
    )


def yes(value: bool) -> str:
    return "yes" if value else "no"


def tick(value: bool) -> str:
    return "✅" if value else "❌"

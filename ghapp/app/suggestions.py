"""Owner suggestions in the app: history and team members from GitHub, the ranking from the core.

After an evaluation, each `codeowners/unowned-file` finding gets its top suggestion, the
evidence and the exact CODEOWNERS line (ghapp.core.ownership.suggest.annotate_findings), so the
check run, review comments and details show them. History is read for the unowned files only
(at most history.MAX_PATHS per evaluation, cached); team members only when the history names
GitHub users. Suggestions are an extra: when GitHub refuses or fails these calls, the report is
published without them, never held back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from ghapp.core.model import Report, Service
from ghapp.core.ownership.codeowners import LOCATIONS, CodeOwners, find_codeowners
from ghapp.core.ownership.directory import People
from ghapp.core.ownership.evidence import CommitRecord
from ghapp.core.ownership.suggest import (
    DEFAULT_SINCE_DAYS,
    Suggestions,
    annotate_findings,
    finding_targets,
    suggest_owners,
)
from ghapp.core.snapshot import Snapshot
from ghapp.github.errors import GitHubError
from ghapp.logs import log_json

logger = logging.getLogger("ghapp.suggestions")


class SuggestionSource(Protocol):
    """Where history and team membership come from (ghapp.github.history.GitHubHistory)."""

    async def history(
        self, repo: str, sha: str, paths: Sequence[str], since: datetime
    ) -> Sequence[CommitRecord]: ...

    async def teams(self, org: str, named: Sequence[str]) -> Mapping[str, tuple[str, ...]]: ...


@dataclass(frozen=True)
class _Ownership:
    text: str | None
    path: str
    table: CodeOwners
    unowned: tuple[str, ...]  # targets no line matches: the ones history is read for


async def suggestions_for(
    source: SuggestionSource,
    repo: str,
    sha: str,
    snapshot: Snapshot,
    targets: Sequence[str],
    services: Sequence[Service],
    now: datetime,
    extra_paths: Sequence[str] = (),
) -> Suggestions:
    """Suggestions for `targets` of `snapshot` (plus `extra_paths`, files a pull request adds),
    with the history of `sha`."""
    universe = sorted({*snapshot.paths(), *extra_paths})
    ownership = await asyncio.to_thread(_ownership, snapshot, targets)
    since = now - timedelta(days=DEFAULT_SINCE_DAYS)
    records = await source.history(repo, sha, ownership.unowned, since)
    teams: Mapping[str, tuple[str, ...]] = {}
    if any(r.login for r in records):
        named = {o for rule in ownership.table.rules for o in rule.owners if "/" in o}
        named |= {s.owner for s in services if s.owner and s.owner.startswith("@")}
        teams = await source.teams(repo.split("/", 1)[0], sorted(named))
    return await asyncio.to_thread(
        lambda: suggest_owners(
            table=ownership.table,
            codeowners_text=ownership.text,
            codeowners_path=ownership.path,
            universe=universe,
            targets=targets,
            history=records,
            people=People(teams=teams),
            services=services,
            now=now,
        )
    )


async def with_owner_suggestions(
    source: SuggestionSource,
    repo: str,
    sha: str,
    snapshot: Snapshot,
    report: Report,
    now: datetime,
) -> Report:
    """The report with suggestions on its unowned-file findings (unchanged when there are none,
    or when GitHub cannot tell)."""
    targets = finding_targets(report.findings, snapshot.paths())
    if not targets:
        return report
    try:
        found = await suggestions_for(source, repo, sha, snapshot, targets, report.services, now)
    except GitHubError as exc:
        log_json(logger, logging.WARNING, "no owner suggestions", repo=repo, error=str(exc))
        return report
    return replace(report, findings=annotate_findings(report.findings, found))


def _ownership(snapshot: Snapshot, targets: Sequence[str]) -> _Ownership:
    located = find_codeowners(snapshot)
    text = located.text if located is not None else None
    table = CodeOwners.from_text(text or "")
    unowned = tuple(
        p for p, m in zip(targets, table.resolve_all(targets), strict=True) if m is None
    )
    return _Ownership(text, located.path if located is not None else LOCATIONS[0], table, unowned)

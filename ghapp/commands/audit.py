"""The audit log: every command accepted or refused, every waiver and ownership change.

`AuditLog` is the protocol the command handlers write to and the CLI (`ghapp audit`) reads
from; `MemoryAuditLog` keeps entries in a list (tests, `ghapp serve` without a database); the
durable one lives in ghapp.store.audit. PR waivers are audit entries too (`command == "waive"`,
`outcome == "accepted"`, the waiver in `data`), so `waivers_for` reads them back for the
evaluator and an expired one simply stops being returned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, Literal, Protocol

from ghapp.core.policy.policy import Waiver

Outcome = Literal["accepted", "refused", "failed", "ignored"]


@dataclass(frozen=True)
class AuditEntry:
    """One audited event. `source` says what triggered it (`comment:<id>`,
    `check_run:<id>`), `data` holds structured details (the waiver, the claim PR, ...)."""

    actor: str
    at: datetime
    repository: str
    pr: int | None
    command: str
    arguments: tuple[str, ...] = ()
    outcome: Outcome = "accepted"
    detail: str = ""
    source: str = ""
    data: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def to_json(self) -> dict[str, Any]:
        return {
            "actor": self.actor,
            "at": self.at.isoformat(),
            "repository": self.repository,
            "pr": self.pr,
            "command": self.command,
            "arguments": list(self.arguments),
            "outcome": self.outcome,
            "detail": self.detail,
            "source": self.source,
            "data": dict(self.data),
        }


class AuditLog(Protocol):
    """Where audit entries go. Implementations must be safe to call from the worker's event
    loop (they may block briefly: one INSERT)."""

    def record(self, entry: AuditEntry) -> None:
        """Append one entry (never updates or deletes)."""
        ...

    def query(
        self,
        repo: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> Sequence[AuditEntry]:
        """Entries, newest first, filtered by repository, actor (case-insensitive) and time."""
        ...

    def waivers_for(self, repo: str, pr: int, today: date) -> tuple[Waiver, ...]:
        """The PR waivers of `repo#pr` still valid on `today` (see `active_waivers`)."""
        ...


def waiver_data(waiver: Waiver) -> dict[str, Any]:
    """How a waiver is stored in `AuditEntry.data` (JSON-safe)."""
    return {
        "rule": waiver.rule,
        "reason": waiver.reason,
        "approved_by": waiver.approved_by,
        "until": waiver.until.isoformat() if waiver.until else None,
        "path": waiver.path,
        "service": waiver.service,
    }


def active_waivers(entries: Iterable[AuditEntry], pr: int, today: date) -> tuple[Waiver, ...]:
    """Waivers recorded for `pr` among `entries` that have not expired (`until` is the last day
    a waiver applies); a duplicate (same rule, target and date) counts once."""
    out: dict[tuple[Any, ...], Waiver] = {}
    for entry in entries:
        if entry.command != "waive" or entry.outcome != "accepted" or entry.pr != pr:
            continue
        if entry.data.get("standing"):
            continue  # a config PR: it applies through .github/ghapp.yml once merged
        data = entry.data
        until = date.fromisoformat(data["until"]) if data.get("until") else None
        if until is not None and until < today:
            continue
        waiver = Waiver(
            rule=str(data["rule"]),
            reason=str(data.get("reason", "")),
            approved_by=str(data.get("approved_by", entry.actor)),
            until=until,
            path=data.get("path"),
            service=data.get("service"),
        )
        out.setdefault((waiver.rule, waiver.path, waiver.service, waiver.until), waiver)
    return tuple(out.values())


class MemoryAuditLog:
    """An AuditLog in a list (tests, single-process runs without a database)."""

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    def record(self, entry: AuditEntry) -> None:
        self.entries.append(entry)

    def query(
        self,
        repo: str | None = None,
        actor: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> Sequence[AuditEntry]:
        found = [
            e
            for e in reversed(self.entries)
            if (repo is None or e.repository == repo)
            and (actor is None or e.actor.lower() == actor.lower())
            and (since is None or e.at >= since)
        ]
        return found[:limit]

    def waivers_for(self, repo: str, pr: int, today: date) -> tuple[Waiver, ...]:
        return active_waivers((e for e in self.entries if e.repository == repo), pr, today)

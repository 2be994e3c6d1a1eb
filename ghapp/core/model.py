"""The data the core passes around: findings, services, coverage and the report.

Everything here is a frozen dataclass: checks build these values, the evaluator combines them,
renderers turn them into text. No I/O, no clock, no environment.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

Severity = Literal["error", "warning", "notice"]
Conclusion = Literal["success", "neutral", "failure"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "notice")
CATEGORIES: tuple[str, ...] = ("sast", "secrets", "sca", "container", "iac")


@dataclass(frozen=True)
class OwnerSuggestion:
    """A candidate owner for unowned files: how sure (0..1), why (sentences), and the exact
    CODEOWNERS line that would make it so (None when no line can be placed)."""

    owner: str
    score: float
    evidence: tuple[str, ...] = ()
    rule: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "owner": self.owner,
            "score": round(self.score, 2),
            "evidence": list(self.evidence),
        }
        if self.rule is not None:
            out["rule"] = self.rule
        return out


@dataclass(frozen=True)
class Finding:
    """One problem, with where it is, why it matters, how to fix it and who must fix it.

    `subject` identifies the problem independently of line numbers (for example the pattern,
    the action name or the container name), so a finding on the base and the same finding on
    the head compare equal even when lines moved. `suggestion` is the replacement text for the
    whole line `line` when the fix is mechanical (rendered as a GitHub suggested change).
    """

    rule: str
    severity: Severity
    message: str
    path: str | None = None
    line: int | None = None
    column: int | None = None
    owners: tuple[str, ...] = ()
    fix: str | None = None
    service: str | None = None
    subject: str = ""
    suggestion: str | None = None
    new: bool = True
    waived: bool = False
    waiver: str | None = None
    suggested_owner: OwnerSuggestion | None = None  # codeowners/unowned-file: who probably should

    @property
    def fingerprint(self) -> tuple[str, str, str]:
        """What makes two findings 'the same problem' across commits."""
        return (self.rule, self.path or "", self.subject or self.message)

    def with_(self, **changes: Any) -> Finding:
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.rule,
            "severity": self.severity,
            "path": self.path,
            "line": self.line,
            "message": self.message,
            "owners": list(self.owners),
            "new": self.new,
            "waived": self.waived,
        }
        if self.column is not None:
            out["column"] = self.column
        if self.fix:
            out["fix"] = self.fix
        if self.service:
            out["service"] = self.service
        if self.waiver:
            out["waiver"] = self.waiver
        if self.suggestion is not None:
            out["suggestion"] = self.suggestion
        if self.suggested_owner is not None:
            out["suggested_owner"] = self.suggested_owner.to_json()
        return out


@dataclass(frozen=True)
class Service:
    """A service record read from a manifest (Backstage catalog-info.yaml, opslevel.yml, cortex.yaml).

    `path` is the manifest's directory ("" for the repository root); files below it belong to the
    service unless a nearer manifest claims them. `lines` maps a field name to the manifest line
    that set it, for findings.
    """

    name: str
    path: str
    manifest: str
    source: str = "backstage"
    owner: str | None = None
    oncall: tuple[str, ...] = ()
    tier: str | None = None
    data: tuple[str, ...] = ()
    lifecycle: str | None = None
    system: str | None = None
    runbook: str | None = None
    dashboard: str | None = None
    slo: str | None = None
    line: int = 1
    lines: tuple[tuple[str, int], ...] = ()

    def line_of(self, fieldname: str) -> int:
        return dict(self.lines).get(fieldname, self.line)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "owner": self.owner,
            "tier": self.tier,
            "data": list(self.data),
            "manifest": self.manifest,
            "source": self.source,
            "oncall": list(self.oncall),
            "lifecycle": self.lifecycle,
            "runbook": self.runbook,
            "dashboard": self.dashboard,
            "slo": self.slo,
        }


@dataclass(frozen=True)
class Source:
    """A file and line that proves a coverage claim."""

    path: str
    line: int | None

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line}


@dataclass(frozen=True)
class CategoryCoverage:
    """Whether one scan category (sast, secrets, ...) is configured, runs on PRs, and blocks."""

    configured: bool = False
    on_pull_request: bool = False
    blocking: bool = False
    tools: tuple[str, ...] = ()
    sources: tuple[Source, ...] = ()
    signals: tuple[Source, ...] = ()  # repo-level signals (dependabot, pre-commit, sonar config)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "configured": self.configured,
            "on_pull_request": self.on_pull_request,
            "blocking": self.blocking,
            "tools": list(self.tools),
            "sources": [s.to_json() for s in self.sources],
        }
        if self.signals:
            out["signals"] = [s.to_json() for s in self.signals]
        return out


@dataclass(frozen=True)
class FileOwners:
    """The owners of one path and the rule (CODEOWNERS line) and service that decided them."""

    path: str
    owners: tuple[str, ...]
    line: int | None
    pattern: str | None
    service: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "owners": list(self.owners),
            "line": self.line,
            "pattern": self.pattern,
            "service": self.service,
        }


@dataclass(frozen=True)
class Report:
    """The result of evaluating a snapshot (or a change): the `ghapp check` JSON contract."""

    conclusion: Conclusion
    findings: tuple[Finding, ...]
    coverage: dict[str, CategoryCoverage] = field(default_factory=dict)
    services: tuple[Service, ...] = ()
    files: tuple[FileOwners, ...] = ()
    policy_configured: bool = False
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "conclusion": self.conclusion,
            "findings": [f.to_json() for f in self.findings],
            "coverage": {k: v.to_json() for k, v in self.coverage.items()},
            "services": [s.to_json() for s in self.services],
            "files": [f.to_json() for f in self.files],
            "notes": list(self.notes),
        }

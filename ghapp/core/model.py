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
            "score": self.score,
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
    `fixture` marks a finding about test fixtures (e.g. a Helm test pod) wherever its file is:
    like findings under test directories, it is counted rather than reported by default.
    `copy_of` names the file that reports the same problem when this one is a generated copy of
    it (a `DO NOT EDIT` bundle built from a kustomize base): counted, not reported.
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
    fixture: bool = False
    copy_of: str | None = None
    owner_source: OwnerSource | None = None
    waiver_detail: AppliedWaiver | None = None
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
        if self.subject:
            out["subject"] = self.subject
        if self.owner_source is not None:
            out["owner_source"] = self.owner_source.to_json()
        if self.waiver_detail is not None:
            out["waiver_detail"] = self.waiver_detail.to_json()
        if self.suggested_owner is not None:
            out["suggested_owner"] = self.suggested_owner.to_json()
        return out


@dataclass(frozen=True)
class OwnerSource:
    """Why a finding has its owners: which CODEOWNERS line or which service manifest decided.

    `kind` is `codeowners` (the rule matching the finding's path), `manifest` (the owner of the
    service the path belongs to), `codeowners-file` (nobody owns the path: whoever owns the
    CODEOWNERS file decides) or `check` (the check named the owners itself). `validated` is
    False when an owner is only as written in a manifest, not a handle ghapp resolved, so
    renderers never turn it into a live mention.
    """

    kind: str
    path: str | None = None
    line: int | None = None
    pattern: str | None = None
    validated: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "path": self.path,
            "line": self.line,
            "pattern": self.pattern,
            "validated": self.validated,
        }


@dataclass(frozen=True)
class AppliedWaiver:
    """A waiver as it applied to a finding (or expired): who approved it, why, until when, and
    where it was granted (`source`: the config file, or a `/waive` comment)."""

    rule: str
    approved_by: str
    reason: str
    until: str | None = None  # ISO date
    source: str | None = None
    line: int | None = None
    path: str | None = None
    service: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "approved_by": self.approved_by,
            "reason": self.reason,
            "until": self.until,
            "source": self.source,
            "line": self.line,
            "path": self.path,
            "service": self.service,
        }


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
    owner_as_written: str | None = None  # the manifest's owner when it was resolved to a handle

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
            "system": self.system,
            "line": self.line,
            "lines": dict(self.lines),
            "owner_as_written": self.owner_as_written,
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
    sites: tuple[ScanSite, ...] = ()  # each recognised scan, with why it does or does not count

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
        if self.sites:
            out["sites"] = [s.to_json() for s in self.sites]
        return out


@dataclass(frozen=True)
class ScanSite:
    """One recognised scan step: where it is (workflow, job, step, line), whether it runs on
    pull requests and blocks, and if not, why (a trigger, an `if:`, a paths filter,
    `continue-on-error`, the tool's own soft mode)."""

    tool: str
    path: str
    line: int | None
    workflow: str
    job: str | None = None
    step: str | None = None
    on_pull_request: bool = False
    blocking: bool = False
    why_not_on_pull_request: str | None = None
    why_not_blocking: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "path": self.path,
            "line": self.line,
            "workflow": self.workflow,
            "job": self.job,
            "step": self.step,
            "on_pull_request": self.on_pull_request,
            "blocking": self.blocking,
            "why_not_on_pull_request": self.why_not_on_pull_request,
            "why_not_blocking": self.why_not_blocking,
        }


@dataclass(frozen=True)
class ServiceCoverage:
    """Scan coverage for one service's changed files, and the categories its policy requires."""

    service: str
    categories: dict[str, CategoryCoverage] = field(default_factory=dict)
    required: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "categories": {k: v.to_json() for k, v in self.categories.items()},
            "required": list(self.required),
        }


@dataclass(frozen=True)
class PolicyLayer:
    """One config file that contributed to the policy: `organisation` or `repository`."""

    name: str
    path: str
    keys: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "keys": list(self.keys)}


@dataclass(frozen=True)
class PolicyInfo:
    """Which policy applied: its layers (org default, repository), locked keys, and waivers."""

    configured: bool = False
    enforce: bool = True
    layers: tuple[PolicyLayer, ...] = ()
    locked: tuple[str, ...] = ()
    waivers: tuple[AppliedWaiver, ...] = ()
    expired_waivers: tuple[AppliedWaiver, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "configured": self.configured,
            "enforce": self.enforce,
            "layers": [layer.to_json() for layer in self.layers],
            "locked": list(self.locked),
            "waivers": [w.to_json() for w in self.waivers],
            "expired_waivers": [w.to_json() for w in self.expired_waivers],
        }


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
    policy: PolicyInfo | None = None
    service_coverage: tuple[ServiceCoverage, ...] = ()  # the services the change touches
    codeowners_path: str | None = None
    compared_to_base: bool = False  # findings are new/existing against a base

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "version": 1,
            "conclusion": self.conclusion,
            "findings": [f.to_json() for f in self.findings],
            "coverage": {k: v.to_json() for k, v in self.coverage.items()},
            "services": [s.to_json() for s in self.services],
            "files": [f.to_json() for f in self.files],
            "notes": list(self.notes),
            "policy_configured": self.policy_configured,
            "compared_to_base": self.compared_to_base,
            "codeowners_path": self.codeowners_path,
            "service_coverage": [c.to_json() for c in self.service_coverage],
        }
        if self.policy is not None:
            out["policy"] = self.policy.to_json()
        return out

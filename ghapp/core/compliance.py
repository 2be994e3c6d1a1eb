"""Compliance per service: the organisation view's rows, built from a whole-repository report.

Theory of operation. A repository's report (every file, no base) already holds what a row
needs: the services and their records, scan coverage scoped to each service's files
(`Report.service_coverage`), the owners of every file and the findings after the repository's
policy (ignores, severity overrides, waivers). `service_rows` cuts it into one row per service; a
repository without manifests is one service named after the repository. A finding that belongs
to no service (a CODEOWNERS syntax error, a workflow) is the repository's, so it counts for every
service of that repository. A service is *compliant* when no unwaived error remains: `failing`
lists the rules of those errors. `ghapp report` and the app's dashboard both use these rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ghapp.core.model import CATEGORIES, SEVERITIES, FileOwners, Finding, Report, Service

UNOWNED = "(unowned)"  # the by_owner key of services nobody owns
CSV_LIST_SEPARATOR = ";"


@dataclass(frozen=True)
class Coverage:
    """One scan category for one service: configured, runs on pull requests, blocks."""

    configured: bool = False
    on_pull_request: bool = False
    blocking: bool = False

    def to_json(self) -> dict[str, bool]:
        return {
            "configured": self.configured,
            "on_pull_request": self.on_pull_request,
            "blocking": self.blocking,
        }


@dataclass(frozen=True)
class ServiceRow:
    """One service of one repository, as the compliance report and the dashboard show it."""

    repository: str
    service: str
    path: str = ""
    owner: str | None = None
    owner_source: str | None = None  # "file:line" of the manifest or CODEOWNERS line that decided
    oncall: tuple[str, ...] = ()
    tier: str | None = None
    data: tuple[str, ...] = ()
    lifecycle: str | None = None
    codeowners_valid: bool = False
    unowned_files: int = 0
    coverage: tuple[tuple[str, Coverage], ...] = ()
    findings: tuple[tuple[str, int], ...] = ()  # unwaived findings per severity
    failing: tuple[str, ...] = ()  # rules with an unwaived error

    @property
    def compliant(self) -> bool:
        return not self.failing

    def coverage_of(self, category: str) -> Coverage:
        return dict(self.coverage).get(category, Coverage())

    def count(self, severity: str) -> int:
        return dict(self.findings).get(severity, 0)

    def to_json(self) -> dict[str, Any]:
        return {
            "repository": self.repository,
            "service": self.service,
            "path": self.path,
            "owner": self.owner,
            "owner_source": self.owner_source,
            "oncall": list(self.oncall),
            "tier": self.tier,
            "data": list(self.data),
            "lifecycle": self.lifecycle,
            "codeowners": {"valid": self.codeowners_valid, "unowned_files": self.unowned_files},
            "coverage": {c: self.coverage_of(c).to_json() for c in CATEGORIES},
            "findings": {s: self.count(s) for s in SEVERITIES},
            "compliant": self.compliant,
            "failing": list(self.failing),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ServiceRow:
        """The row `to_json` gave (unknown keys ignored, missing ones defaulted)."""
        codeowners = _mapping(data.get("codeowners"))
        coverage = _mapping(data.get("coverage"))
        findings = _mapping(data.get("findings"))
        return cls(
            repository=str(data.get("repository", "")),
            service=str(data.get("service", "")),
            path=str(data.get("path") or ""),
            owner=_opt(data.get("owner")),
            owner_source=_opt(data.get("owner_source")),
            oncall=_strings(data.get("oncall")),
            tier=_opt(data.get("tier")),
            data=_strings(data.get("data")),
            lifecycle=_opt(data.get("lifecycle")),
            codeowners_valid=bool(codeowners.get("valid", False)),
            unowned_files=_count(codeowners.get("unowned_files")),
            coverage=tuple(
                (c, _coverage(_mapping(coverage.get(c)))) for c in CATEGORIES if c in coverage
            ),
            findings=tuple((s, _count(findings.get(s))) for s in SEVERITIES),
            failing=_strings(data.get("failing")),
        )


@dataclass(frozen=True)
class RepositoryError:
    """A repository that could not be evaluated, and why."""

    repository: str
    error: str

    def to_json(self) -> dict[str, str]:
        return {"repository": self.repository, "error": self.error}


@dataclass(frozen=True)
class ComplianceReport:
    """The `ghapp report` JSON contract (`"version": 1`): rows, their summary, and errors."""

    generated_at: str
    services: tuple[ServiceRow, ...]
    errors: tuple[RepositoryError, ...] = field(default=())

    def summary(self) -> dict[str, Any]:
        return summarise(self.services)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "version": 1,
            "generated_at": self.generated_at,
            "services": [row.to_json() for row in self.services],
            "summary": self.summary(),
        }
        if self.errors:
            out["errors"] = [e.to_json() for e in self.errors]
        return out


def service_rows(repository: str, report: Report) -> tuple[ServiceRow, ...]:
    """One row per service of `repository` (`owner/name`) from its whole-repository report."""
    services = _unique(report.services)
    names = {s.name for s in services}  # empty: the repository is the one service
    if not services:
        services = [Service(name=repository.rsplit("/", 1)[-1], path="", manifest="")]
    shared = [f for f in report.findings if f.service not in names]
    coverage = {c.service: c.categories for c in report.service_coverage}
    codeowners_valid = report.codeowners_path is not None and not any(
        f.rule.startswith("codeowners/") and f.severity == "error" and not f.waived
        for f in report.findings
    )
    rows = []
    for service in services:
        own = [f for f in report.findings if names and f.service == service.name] + shared
        files = [f for f in report.files if not names or f.service == service.name]
        owner, source = _owner(service, files, report.codeowners_path)
        categories = coverage.get(service.name, report.coverage)
        rows.append(
            ServiceRow(
                repository=repository,
                service=service.name,
                path=service.path,
                owner=owner,
                owner_source=source,
                oncall=service.oncall,
                tier=service.tier,
                data=service.data,
                lifecycle=service.lifecycle,
                codeowners_valid=codeowners_valid,
                unowned_files=sum(1 for f in files if not f.owners),
                coverage=tuple(
                    (c, Coverage(v.configured, v.on_pull_request, v.blocking))
                    for c in CATEGORIES
                    if (v := categories.get(c)) is not None
                ),
                findings=_counts(own),
                failing=tuple(
                    sorted({f.rule for f in own if f.severity == "error" and not f.waived})
                ),
            )
        )
    return tuple(rows)


def summarise(rows: Sequence[ServiceRow]) -> dict[str, Any]:
    """Services and compliant services in all and per owner; per rule, the services it fails."""
    by_owner: dict[str, dict[str, int]] = {}
    for row in rows:
        counts = by_owner.setdefault(row.owner or UNOWNED, {"services": 0, "compliant": 0})
        counts["services"] += 1
        counts["compliant"] += row.compliant
    by_rule = Counter(rule for row in rows for rule in row.failing)
    return {
        "services": len(rows),
        "compliant": sum(1 for row in rows if row.compliant),
        "by_owner": dict(sorted(by_owner.items(), key=lambda kv: (kv[0] == UNOWNED, kv[0]))),
        "by_rule": dict(sorted(by_rule.items(), key=lambda kv: (-kv[1], kv[0]))),
    }


def csv_columns() -> list[str]:
    """The CSV header: the JSON row's keys, nested ones flattened with dots."""
    return list(flatten(ServiceRow("", "").to_json()))


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """`{"coverage": {"sast": {"blocking": true}}}` -> `{"coverage.sast.blocking": "true"}`;
    lists joined with `;`, null as an empty cell."""
    out: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, list | tuple):
            out[name] = CSV_LIST_SEPARATOR.join(str(v) for v in value)
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        else:
            out[name] = "" if value is None else str(value)
    return out


def _unique(services: Iterable[Service]) -> list[Service]:
    seen: set[str] = set()
    out = []
    for service in services:
        if service.name not in seen:  # a duplicate name is a manifest finding already
            seen.add(service.name)
            out.append(service)
    return out


def _owner(
    service: Service, files: Sequence[FileOwners], codeowners_path: str | None
) -> tuple[str | None, str | None]:
    """The manifest's owner, else the CODEOWNERS owner of most of the service's files."""
    if service.owner:
        return service.owner, f"{service.manifest}:{service.line_of('owner')}"
    votes = Counter(owner for f in files for owner in f.owners)
    if not votes:
        return None, None
    owner = min(votes, key=lambda o: (-votes[o], o))
    lines = Counter(f.line or 0 for f in files if owner in f.owners)
    line = min(lines, key=lambda n: (-lines[n], n))
    return owner, f"{codeowners_path or 'CODEOWNERS'}:{line}"


def _counts(findings: Iterable[Finding]) -> tuple[tuple[str, int], ...]:
    counted = Counter(f.severity for f in findings if not f.waived)
    return tuple((s, counted.get(s, 0)) for s in SEVERITIES)


def _coverage(data: Mapping[str, Any]) -> Coverage:
    return Coverage(
        bool(data.get("configured", False)),
        bool(data.get("on_pull_request", False)),
        bool(data.get("blocking", False)),
    )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list | tuple) else ()


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0

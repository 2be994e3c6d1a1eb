"""How a report is divided for people: what blocks, other new findings, existing, waived.

The check-run summary (markdown) and the details page (ghapp.web) both use these, so the title,
the summary and the page always count the same findings in the same place: every finding is in
exactly one of `blocking`, `other_new`, `existing` and `waived`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ghapp.core.model import Finding, Report, Service, ServiceCoverage

UNOWNED_GROUP = "Unowned"


def enforcing(report: Report) -> bool:
    """Whether errors block (a configured policy with `enforce` on)."""
    if report.policy is not None:
        return report.policy.configured and report.policy.enforce
    return report.policy_configured and report.conclusion != "neutral"


def blocking(findings: Iterable[Finding]) -> list[Finding]:
    """New, unwaived errors: what fails the check when the policy is enforced."""
    return [f for f in findings if f.new and not f.waived and f.severity == "error"]


def other_new(findings: Iterable[Finding]) -> list[Finding]:
    """New, unwaived warnings and notices."""
    return [f for f in findings if f.new and not f.waived and f.severity != "error"]


def existing(findings: Iterable[Finding]) -> list[Finding]:
    """Unwaived findings the base already had (they never block)."""
    return [f for f in findings if not f.new and not f.waived]


def waived(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.waived]


@dataclass(frozen=True)
class Counts:
    """The four numbers every surface shows; `new` includes `blocking`."""

    blocking: int
    new: int
    existing: int
    waived: int

    @classmethod
    def of(cls, findings: Sequence[Finding]) -> Counts:
        first = len(blocking(findings))
        return cls(
            blocking=first,
            new=first + len(other_new(findings)),
            existing=len(existing(findings)),
            waived=len(waived(findings)),
        )

    def title(self, enforced: bool = True) -> str:
        """ "2 blocking · 5 new · 31 existing" (errors that would block when not enforced)."""
        if not (self.new or self.existing or self.waived):
            return "No problems found" + ("" if enforced else " · report only")
        first = f"{self.blocking} blocking" if enforced else f"{self.blocking} errors"
        parts = [first, f"{self.new} new", f"{self.existing} existing"]
        if self.waived:
            parts.append(f"{self.waived} waived")
        if not enforced:
            parts.append("report only")
        return " · ".join(parts)


def owner_key(finding: Finding) -> str:
    """The group a finding is listed under: its owners together (one group, never two)."""
    return ", ".join(finding.owners) if finding.owners else UNOWNED_GROUP


def by_owner(findings: Iterable[Finding]) -> list[tuple[str, list[Finding]]]:
    """Findings grouped by owners, groups in name order with the unowned last."""
    groups: dict[str, list[Finding]] = {}
    for f in findings:
        groups.setdefault(owner_key(f), []).append(f)
    return sorted(groups.items(), key=lambda kv: (kv[0] == UNOWNED_GROUP, kv[0].lower()))


def counts_by_rule_and_owner(findings: Iterable[Finding]) -> list[tuple[str, str, int]]:
    """(rule, owners, count), largest first."""
    counted = Counter((f.rule, owner_key(f)) for f in findings)
    return [(rule, owner, n) for (rule, owner), n in sorted(counted.items(), key=_by_count)]


def _by_count(item: tuple[tuple[str, str], int]) -> tuple[int, str, str]:
    (rule, owner), n = item
    return (-n, rule, owner)


def touched_services(report: Report) -> list[tuple[Service, ServiceCoverage | None]]:
    """The services the evaluated change touches (every service for a whole-repository check),
    each with its scan coverage when the report has it."""
    coverage = {c.service: c for c in report.service_coverage}
    names = {f.service for f in report.files if f.service}
    out: list[tuple[Service, ServiceCoverage | None]] = []
    seen: set[str] = set()
    restrict = report.compared_to_base or bool(report.files)
    for service in report.services:
        if service.name in seen or (restrict and service.name not in names):
            continue
        seen.add(service.name)
        out.append((service, coverage.get(service.name)))
    return out


def coverage_state(configured: bool, on_pull_request: bool, is_blocking: bool) -> str:
    """One word for a category: blocks, advisory (runs on PRs, never fails), not-on-prs, missing."""
    if not configured:
        return "missing"
    if not on_pull_request:
        return "not-on-prs"
    return "blocks" if is_blocking else "advisory"


COVERAGE_LABELS = {
    "blocks": "✅ blocks",
    "advisory": "⚠️ advisory",
    "not-on-prs": "⚠️ not on PRs",
    "missing": "❌ missing",
}

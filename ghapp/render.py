"""One renderer for every surface: terminal text, JSON, SARIF and markdown (check-run summary).

Each takes a `Report` and returns a string; nothing here knows about GitHub's API.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from ghapp import __version__
from ghapp.core.catalog import Catalog
from ghapp.core.model import CATEGORIES, FileOwners, Finding, Report

SUMMARY_LIMIT = 65_535  # bytes, GitHub's cap on output.summary and output.text
ICONS = {"error": "❌", "warning": "⚠️", "notice": "ℹ️"}
UNOWNED = "(unowned)"


def render_json(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False)


def render_text(report: Report, *, show_files: int = 40) -> str:
    """For people at a terminal: ownership, services, coverage, then findings."""
    lines = [f"ghapp check: {report.conclusion.upper()}"]
    lines += [f"  note: {note}" for note in report.notes]
    if report.files:
        groups = owners_by_team(report.files)
        unowned = groups.pop(UNOWNED, [])
        lines.append(f"\nOwnership: {len(report.files)} files, {len(unowned)} unowned")
        for owner, files in sorted(groups.items()):
            lines.append(f"  {owner}: {len(files)} files")
        for path in unowned[:show_files]:
            lines.append(f"  unowned: {path}")
        if len(unowned) > show_files:
            lines.append(f"  ... and {len(unowned) - show_files} more unowned files")
    if report.services:
        lines.append(f"\nServices: {len(report.services)}")
        for s in report.services:
            data = ",".join(s.data) or "-"
            lines.append(
                f"  {s.name:<20} owner={s.owner or '-'} tier={s.tier or '-'} data={data} "
                f"oncall={'yes' if s.oncall else 'no'} ({s.manifest})"
            )
    if report.coverage:
        lines.append("\nSecurity scans:  configured  on-PR  blocking  tools")
        for category in CATEGORIES:
            c = report.coverage.get(category)
            if c is None:
                continue
            lines.append(
                f"  {category:<14} {_yes(c.configured):<11} {_yes(c.on_pull_request):<6} "
                f"{_yes(c.blocking):<9} {', '.join(c.tools) or '-'}"
            )
            if c.sources:
                shown = ", ".join(f"{s.path}:{s.line}" for s in c.sources[:3])
                more = f" (+{len(c.sources) - 3} more)" if len(c.sources) > 3 else ""
                lines.append(f"      from {shown}{more}")
        signals = [
            f"{category}: {', '.join(sorted({s.path for s in c.signals}))}"
            for category, c in report.coverage.items()
            if c.signals
        ]
        if signals:
            lines.append("  repository signals (not PR scans): " + "; ".join(signals))
    counts = _counts(report.findings)
    lines.append(f"\nFindings: {counts}")
    for f in report.findings:
        where = f"{f.path}:{f.line}" if f.path and f.line else (f.path or "-")
        flags = "" if f.new else " (existing)"
        flags += f" (waived: {f.waiver})" if f.waived else ""
        owners = " ".join(f.owners) or "nobody"
        lines.append(f"  {f.severity:<7} {f.rule:<34} {where}{flags}")
        lines.append(f"          {f.message}")
        lines.append(f"          owner: {owners}" + (f" | fix: {f.fix}" if f.fix else ""))
    return "\n".join(lines) + "\n"


def render_markdown(report: Report, max_bytes: int = SUMMARY_LIMIT) -> str:
    """The check-run summary; kept under `max_bytes` UTF-8 bytes with a truncation note."""
    sections = [
        _md_headline(report),
        _md_findings(report.findings),
        _md_owners(report.files),
        _md_services(report),
        _md_coverage(report),
    ]
    return _fit("\n\n".join(s for s in sections if s), max_bytes)


def render_sarif(report: Report, catalog: Catalog) -> str:
    """SARIF 2.1.0 for code-scanning upload."""
    rule_ids = sorted({f.rule for f in report.findings})
    rules = []
    for rule_id in rule_ids:
        rule = catalog.rules.get(rule_id)
        entry: dict[str, Any] = {"id": rule_id}
        if rule is not None:
            entry.update(
                name=rule.title,
                shortDescription={"text": rule.title},
                fullDescription={"text": rule.rationale},
                help={"text": rule.fix},
                helpUri=rule.docs,
                defaultConfiguration={"level": _sarif_level(rule.severity)},
            )
        rules.append(entry)
    results = []
    for f in report.findings:
        result: dict[str, Any] = {
            "ruleId": f.rule,
            "level": _sarif_level(f.severity),
            "message": {
                "text": f.message + (f" Owners: {' '.join(f.owners)}." if f.owners else "")
            },
            "properties": {"owners": list(f.owners), "new": f.new, "waived": f.waived},
        }
        if f.path:
            location: dict[str, Any] = {"artifactLocation": {"uri": f.path}}
            if f.line:
                location["region"] = {"startLine": f.line}
            result["locations"] = [{"physicalLocation": location}]
        if f.waived:
            result["suppressions"] = [{"kind": "external", "justification": f.waiver or ""}]
        results.append(result)
    sarif = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "ghapp",
                        "version": __version__,
                        "informationUri": "https://github.com/ghapp/ghapp",
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(sarif, indent=2, ensure_ascii=False)


def owners_by_team(files: Iterable[FileOwners]) -> dict[str, list[str]]:
    """Paths grouped by each owner (a file with two owners appears under both)."""
    groups: dict[str, list[str]] = defaultdict(list)
    for f in files:
        for owner in f.owners or (UNOWNED,):
            groups[owner].append(f.path)
    return dict(groups)


def _md_headline(report: Report) -> str:
    new = [f for f in report.findings if f.new and not f.waived]
    blocking = [f for f in new if f.severity == "error"]
    head = f"**{report.conclusion}**: {len(report.findings)} findings, {len(new)} new"
    if blocking and report.conclusion == "failure":
        head += f", {len(blocking)} blocking"
    notes = "".join(f"\n\n> {n}" for n in report.notes)
    return f"### ghapp\n\n{head}{notes}"


def _md_findings(findings: Sequence[Finding]) -> str:
    if not findings:
        return ""
    rows = ["#### Findings", "", "| | Rule | Where | Owner | Message |", "|---|---|---|---|---|"]
    for f in findings:
        where = f"`{f.path}:{f.line}`" if f.path and f.line else (f"`{f.path}`" if f.path else "")
        tag = "" if f.new else " (existing)"
        tag += " (waived)" if f.waived else ""
        rows.append(
            f"| {ICONS.get(f.severity, '')} | `{f.rule}`{tag} | {where} | "
            f"{' '.join(f.owners) or 'unowned'} | {_cell(f.message)} |"
        )
    return "\n".join(rows)


def _md_owners(files: Sequence[FileOwners]) -> str:
    if not files:
        return ""
    rows = ["#### Owners of changed files", ""]
    for owner, paths in sorted(owners_by_team(files).items()):
        shown = ", ".join(f"`{p}`" for p in paths[:20])
        more = f" and {len(paths) - 20} more" if len(paths) > 20 else ""
        rows.append(f"- **{owner}** ({len(paths)}): {shown}{more}")
    return "\n".join(rows)


def _md_services(report: Report) -> str:
    if not report.services:
        return ""
    rows = [
        "#### Services",
        "",
        "| Service | Owner | Tier | Data | On-call | Manifest |",
        "|---|---|---|---|---|---|",
    ]
    for s in report.services:
        rows.append(
            f"| {s.name} | {s.owner or '—'} | {s.tier or '—'} | {', '.join(s.data) or '—'} | "
            f"{'yes' if s.oncall else 'no'} | `{s.manifest}` |"
        )
    return "\n".join(rows)


def _md_coverage(report: Report) -> str:
    if not report.coverage:
        return ""
    rows = [
        "#### Security scans",
        "",
        "| Category | Configured | On PRs | Blocking | Tools |",
        "|---|---|---|---|---|",
    ]
    for category in CATEGORIES:
        c = report.coverage.get(category)
        if c is not None:
            rows.append(
                f"| {category} | {_tick(c.configured)} | {_tick(c.on_pull_request)} | "
                f"{_tick(c.blocking)} | {', '.join(c.tools) or '—'} |"
            )
    signals = sorted({s.path for c in report.coverage.values() for s in c.signals})
    if signals:
        rows += [
            "",
            "Repository signals (not PR-blocking scans): " + ", ".join(f"`{p}`" for p in signals),
        ]
    return "\n".join(rows)


def _fit(text: str, max_bytes: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    note = "\n\n…truncated: the full report is in the annotations and `ghapp check --format json`."
    budget = max_bytes - len(note.encode("utf-8"))
    cut = data[:budget].decode("utf-8", errors="ignore")  # never split a character
    cut = cut[: cut.rfind("\n")] if "\n" in cut else cut
    return cut + note


def _counts(findings: Sequence[Finding]) -> str:
    by = {s: sum(1 for f in findings if f.severity == s) for s in ("error", "warning", "notice")}
    new = sum(1 for f in findings if f.new and not f.waived)
    return f"{by['error']} errors, {by['warning']} warnings, {by['notice']} notices ({new} new)"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _tick(value: bool) -> str:
    return "✅" if value else "❌"


def _sarif_level(severity: str) -> str:
    return {"error": "error", "warning": "warning"}.get(severity, "note")

"""Markdown for the check-run summary (and `ghapp check --format markdown`)."""

from __future__ import annotations

from collections.abc import Sequence

from ghapp.core.model import CATEGORIES, FileOwners, Finding, Report
from ghapp.render.common import ICONS, owners_by_team, tick

SUMMARY_LIMIT = 65_535  # bytes, GitHub's cap on output.summary and output.text


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
                f"| {category} | {tick(c.configured)} | {tick(c.on_pull_request)} | "
                f"{tick(c.blocking)} | {', '.join(c.tools) or '—'} |"
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


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")

"""Terminal text for people at a shell: ownership, services, coverage, then findings.

Everything a repository controls (paths, names, owners, messages that quote files) goes through
`t` (escape.terminal): a file name with a newline or an escape sequence is shown escaped, so it
can neither forge output lines nor drive the terminal.
"""

from __future__ import annotations

from ghapp.core.model import CATEGORIES, Report
from ghapp.render.color import paint
from ghapp.render.common import UNOWNED, counts, owners_by_team, yes
from ghapp.render.escape import terminal as t


def render_text(report: Report, *, show_files: int = 40, color: bool = False) -> str:
    """For people at a terminal: ownership, services, coverage, then findings."""
    lines = [f"ghapp check: {paint(report.conclusion.upper(), report.conclusion, color)}"]
    lines += [f"  note: {t(note)}" for note in report.notes]
    if report.files:
        groups = owners_by_team(report.files)
        unowned = groups.pop(UNOWNED, [])
        lines.append(f"\nOwnership: {len(report.files)} files, {len(unowned)} unowned")
        for owner, files in sorted(groups.items()):
            lines.append(f"  {t(owner)}: {len(files)} file{'' if len(files) == 1 else 's'}")
        for path in unowned[:show_files]:
            lines.append(f"  unowned: {t(path)}")
        if len(unowned) > show_files:
            lines.append(f"  ... and {len(unowned) - show_files} more unowned files")
    if report.services:
        lines.append(f"\nServices: {len(report.services)}")
        for s in report.services:
            data = t(",".join(s.data) or "-")
            lines.append(
                f"  {t(s.name):<20} owner={t(s.owner or '-')} tier={t(s.tier or '-')} "
                f"data={data} oncall={'yes' if s.oncall else 'no'} ({t(s.manifest)})"
            )
    if report.coverage:
        lines.append("\nSecurity scans:  configured  on-PR  blocking  tools")
        for category in CATEGORIES:
            c = report.coverage.get(category)
            if c is None:
                continue
            lines.append(
                f"  {category:<14} {yes(c.configured):<11} {yes(c.on_pull_request):<6} "
                f"{yes(c.blocking):<9} {t(', '.join(c.tools) or '-')}"
            )
            if c.sources:
                shown = ", ".join(f"{t(s.path)}:{s.line}" for s in c.sources[:3])
                more = f" (+{len(c.sources) - 3} more)" if len(c.sources) > 3 else ""
                lines.append(f"      from {shown}{more}")
        signals = [
            f"{category}: {', '.join(sorted({t(s.path) for s in c.signals}))}"
            for category, c in report.coverage.items()
            if c.signals
        ]
        if signals:
            lines.append("  repository signals (not PR scans): " + "; ".join(signals))
    totals = counts(report.findings)
    lines.append(f"\nFindings: {totals}")
    for f in report.findings:
        where = t(f.path or "-") + (f":{f.line}" if f.path and f.line else "")
        flags = "" if f.new else " (existing)"
        flags += f" (waived: {t(f.waiver)})" if f.waived else ""
        owners = t(" ".join(f.owners)) or "nobody"
        severity = paint(f"{f.severity:<7}", f.severity, color)
        lines.append(f"  {severity} {f.rule:<34} {where}{flags}")
        lines.append(f"          {t(f.message)}")
        lines.append(f"          owner: {owners}" + (f" | fix: {t(f.fix)}" if f.fix else ""))
    return "\n".join(lines) + "\n"

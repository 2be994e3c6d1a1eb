"""The compliance report (`ghapp report`) as a terminal table, CSV, markdown and one HTML file.

Every format shows the same rows (`ghapp.core.compliance.ServiceRow`). Text from repositories
(service names, owners, on-call entries) is made inert for each medium: escaped for HTML and
markdown, control characters shown as escapes on a terminal, and CSV cells that a spreadsheet
would run as a formula get a leading apostrophe. The HTML is one self-contained file (inline
CSS, no scripts) that can be attached to an audit; it is built with the standard library so the
light install (no Jinja2) can write it.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from html import escape

from ghapp.core.compliance import ComplianceReport, ServiceRow, csv_columns, flatten
from ghapp.core.model import CATEGORIES
from ghapp.render import escape as md
from ghapp.render.sections import coverage_state

CATEGORY_TITLES = {
    "sast": "SAST",
    "secrets": "Secrets",
    "sca": "SCA",
    "container": "Container",
    "iac": "IaC",
}
STATE_WORDS = {"blocks": "blocks", "advisory": "advisory", "not-on-prs": "no PRs", "missing": "—"}
STATE_TITLES = {
    "blocks": "runs on pull requests and blocks",
    "advisory": "runs on pull requests, does not block",
    "not-on-prs": "configured, but not on pull requests",
    "missing": "not configured",
}
_FORMULA = re.compile(r"^[=+\-@\t\r]")
_HANDLE = re.compile(r"^@[A-Za-z0-9][A-Za-z0-9-]*(/[A-Za-z0-9][A-Za-z0-9_.-]*)?$")


def render_json(report: ComplianceReport) -> str:
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n"


def render_csv(rows: Sequence[ServiceRow]) -> str:
    """One header line (`coverage.sast.on_pull_request` style) and one line per service."""
    out = io.StringIO()
    columns = csv_columns()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: inert_cell(v) for k, v in flatten(row.to_json()).items()})
    return out.getvalue()


def inert_cell(value: str) -> str:
    """A cell a spreadsheet shows as text: a leading `=`, `+`, `-`, `@` is a formula to Excel
    and LibreOffice, so it gets an apostrophe, except a plain `@org/team` handle."""
    if _FORMULA.match(value) and not _HANDLE.match(value):
        return "'" + value
    return value


def state(row: ServiceRow, category: str) -> str:
    c = row.coverage_of(category)
    return coverage_state(c.configured, c.on_pull_request, c.blocking)


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "—"


# ---- terminal ----------------------------------------------------------------------------------
def render_table(report: ComplianceReport) -> str:
    """Aligned columns for a terminal, then the summary."""
    header = [
        "REPOSITORY",
        "SERVICE",
        "OWNER",
        "TIER",
        "DATA",
        "ONCALL",
        *(CATEGORY_TITLES[c].upper() for c in CATEGORIES),
        "E/W/N",
        "STATUS",
    ]
    lines = [header]
    for row in report.services:
        lines.append(
            [
                md.terminal(row.repository),
                md.terminal(row.service),
                md.terminal(row.owner or "-"),
                md.terminal(row.tier or "-"),
                md.terminal(",".join(row.data) or "-"),
                "yes" if row.oncall else "no",
                *(STATE_WORDS[state(row, c)].replace("—", "-") for c in CATEGORIES),
                f"{row.count('error')}/{row.count('warning')}/{row.count('notice')}",
                "compliant" if row.compliant else "FAILING",
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = [
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    ]
    out.append("")
    out += _summary_lines(report)
    return "\n".join(out) + "\n"


def _summary_lines(report: ComplianceReport) -> list[str]:
    summary = report.summary()
    total, compliant = summary["services"], summary["compliant"]
    out = [f"{total} services, {compliant} compliant ({percent(compliant, total)})"]
    if summary["by_rule"]:
        out.append(
            "Failing rules (services): "
            + ", ".join(f"{rule} ({n})" for rule, n in list(summary["by_rule"].items())[:10])
        )
    for error in report.errors:
        out.append(f"Not evaluated: {md.terminal(error.repository)}: {md.terminal(error.error)}")
    return out


# ---- markdown ----------------------------------------------------------------------------------
def render_markdown(report: ComplianceReport) -> str:
    summary = report.summary()
    total, compliant = summary["services"], summary["compliant"]
    out = [
        "## Service compliance",
        "",
        f"{total} services, **{compliant} compliant** ({percent(compliant, total)}); "
        f"generated {md.text(report.generated_at)}.",
        "",
        "| Repository | Service | Owner | Tier | Data | On-call | "
        + " | ".join(CATEGORY_TITLES[c] for c in CATEGORIES)
        + " | Errors | Status | Failing rules |",
        "|" + "---|" * (9 + len(CATEGORIES)),
    ]
    for row in report.services:
        cells = [
            md.code(row.repository, in_table=True),
            md.text(row.service),
            md.code(row.owner, in_table=True) if row.owner else "—",
            md.text(row.tier or "—"),
            md.text(", ".join(row.data) or "—"),
            "yes" if row.oncall else "**no**",
            *(STATE_WORDS[state(row, c)] for c in CATEGORIES),
            str(row.count("error")),
            "✅ compliant" if row.compliant else "❌ failing",
            ", ".join(md.code(r, in_table=True) for r in row.failing) or "—",
        ]
        out.append("| " + " | ".join(cells) + " |")
    if summary["by_rule"]:
        out += ["", "### Failing rules", "", "| Rule | Services |", "|---|---|"]
        out += [f"| {md.code(r, in_table=True)} | {n} |" for r, n in summary["by_rule"].items()]
    if summary["by_owner"]:
        out += ["", "### By owner", "", "| Owner | Services | Compliant |", "|---|---|---|"]
        out += [
            f"| {md.code(o, in_table=True)} | {c['services']} | {c['compliant']} |"
            for o, c in summary["by_owner"].items()
        ]
    for error in report.errors:
        out += ["", f"Not evaluated: {md.code(error.repository)}: {md.text(error.error)}"]
    return "\n".join(out) + "\n"


# ---- HTML --------------------------------------------------------------------------------------
HTML_STYLE = """
:root { --fg: #1f2328; --muted: #57606a; --line: #d0d7de; --soft: #f6f8fa; --ok: #116329;
        --bad: #a40e26; --warn: #7d4e00; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 120rem; padding: 1.5rem; color: var(--fg);
       font: 13px/1.4 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; } h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; }
.muted { color: var(--muted); }
.cards { display: flex; flex-wrap: wrap; gap: 1rem; margin: 1rem 0; padding: 0; list-style: none; }
.cards li { border: 1px solid var(--line); border-radius: 6px; padding: .6rem 1rem; min-width: 10rem; }
.cards strong { display: block; font-size: 1.6rem; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid var(--line); padding: .3rem .4rem; text-align: left;
         vertical-align: top; }
td .muted { font-size: .9em; word-break: break-all; }
thead th { background: var(--soft); position: sticky; top: 0; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.wrap { overflow-x: auto; }
table.narrow { width: auto; min-width: 24rem; }
code { font: .9em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.s-blocks { color: var(--ok); } .s-advisory, .s-not-on-prs { color: var(--warn); }
.s-missing { color: var(--bad); }
.compliant { color: var(--ok); font-weight: 600; } .failing { color: var(--bad); font-weight: 600; }
.legend { margin: .5rem 0; }
@media print { body { padding: 0; font-size: 11px; } thead th { position: static; }
               .wrap { overflow: visible; } }
"""


def render_html(report: ComplianceReport) -> str:
    """A self-contained HTML page: summary, per-rule and per-owner counts, the service table."""
    summary = report.summary()
    total, compliant = summary["services"], summary["compliant"]
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>Service compliance report</title>",
        f"<style>{HTML_STYLE}</style></head><body>",
        "<header><h1>Service compliance report</h1>",
        f'<p class="muted">Generated {escape(report.generated_at)} by ghapp. A service is '
        "compliant when no unwaived error remains under its repository's policy.</p></header>",
        '<ul class="cards">',
        f"<li><strong>{total}</strong>services</li>",
        f"<li><strong>{compliant}</strong>compliant ({percent(compliant, total)})</li>",
        f"<li><strong>{total - compliant}</strong>failing</li>",
        f"<li><strong>{len({r.repository for r in report.services})}</strong>repositories</li>",
        "</ul>",
        '<section aria-labelledby="services"><h2 id="services">Services</h2>',
        '<p class="legend muted">Scans: <span class="s-blocks">blocks</span> (runs on pull '
        'requests and blocks) · <span class="s-advisory">advisory</span> (does not block) · '
        '<span class="s-not-on-prs">no PRs</span> (not on pull requests) · '
        '<span class="s-missing">—</span> (none).</p>',
        '<div class="wrap"><table><thead><tr><th>Repository</th><th>Service</th><th>Owner</th>'
        "<th>Tier</th>"
        "<th>Data</th><th>On-call</th><th>CODEOWNERS</th>"
        + "".join(f"<th>{CATEGORY_TITLES[c]}</th>" for c in CATEGORIES)
        + '<th class="num">Errors</th><th class="num">Warnings</th><th>Status</th>'
        "<th>Failing rules</th></tr></thead><tbody>",
    ]
    parts += [_html_row(row) for row in report.services]
    parts.append("</tbody></table></div></section>")
    if summary["by_rule"]:
        parts.append(
            '<section aria-labelledby="rules"><h2 id="rules">Failing rules</h2><table class="narrow">'
            '<thead><tr><th>Rule</th><th class="num">Services</th></tr></thead><tbody>'
        )
        parts += [
            f'<tr><td><code>{escape(rule)}</code></td><td class="num">{n}</td></tr>'
            for rule, n in summary["by_rule"].items()
        ]
        parts.append("</tbody></table></section>")
    parts.append(
        '<section aria-labelledby="owners"><h2 id="owners">By owner</h2><table class="narrow"><thead><tr>'
        '<th>Owner</th><th class="num">Services</th><th class="num">Compliant</th></tr>'
        "</thead><tbody>"
    )
    parts += [
        f'<tr><td><code>{escape(owner)}</code></td><td class="num">{c["services"]}</td>'
        f'<td class="num">{c["compliant"]}</td></tr>'
        for owner, c in summary["by_owner"].items()
    ]
    parts.append("</tbody></table></section>")
    if report.errors:
        parts.append('<section aria-labelledby="errors"><h2 id="errors">Not evaluated</h2><ul>')
        parts += [
            f"<li><code>{escape(e.repository)}</code>: {escape(e.error)}</li>"
            for e in report.errors
        ]
        parts.append("</ul></section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _html_row(row: ServiceRow) -> str:
    cells = [
        f"<td><code>{escape(row.repository)}</code></td>",
        f"<td>{escape(row.service)}"
        + (f'<br><span class="muted">{escape(row.path)}</span>' if row.path else "")
        + "</td>",
        f"<td>{_code_or_dash(row.owner)}"
        + (f'<br><span class="muted">{escape(row.owner_source)}</span>' if row.owner_source else "")
        + "</td>",
        f"<td>{escape(row.tier or '—')}</td>",
        f"<td>{escape(', '.join(row.data) or '—')}</td>",
        f"<td>{escape(', '.join(row.oncall)) if row.oncall else '<span class=failing>none</span>'}</td>",
        "<td>"
        + ("valid" if row.codeowners_valid else '<span class="failing">invalid</span>')
        + (f"; {row.unowned_files} unowned" if row.unowned_files else "")
        + "</td>",
    ]
    for category in CATEGORIES:
        s = state(row, category)
        cells.append(f'<td class="s-{s}" title="{STATE_TITLES[s]}">{STATE_WORDS[s]}</td>')
    cells += [
        f'<td class="num">{row.count("error")}</td>',
        f'<td class="num">{row.count("warning")}</td>',
        '<td class="compliant">compliant</td>'
        if row.compliant
        else '<td class="failing">failing</td>',
        "<td>" + ", ".join(f"<code>{escape(r)}</code>" for r in row.failing) + "</td>",
    ]
    return "<tr>" + "".join(cells) + "</tr>"


def _code_or_dash(value: str | None) -> str:
    return f"<code>{escape(value)}</code>" if value else "—"

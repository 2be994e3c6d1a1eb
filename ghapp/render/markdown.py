"""Markdown for the check-run summary (and `ghapp check --format markdown`).

The summary leads with what a reviewer must act on, in this order:
1. what blocks (new, unwaived errors) grouped by owning team, each with file:line and the fix;
2. other new findings, grouped the same way, collapsed when long;
3. security-scan coverage of the services the change touches, and their ownership records;
4. existing findings, counted per rule and owner, the list inside `<details>`;
5. waived findings with approver, reason and expiry.
Under the byte limit, sections 1 and 3 always survive: items are cut from the end of sections
5, 4 and 2 first (ghapp.render.fit), and the summary says what was cut and links to the details
page. Every piece of text a pull request controls goes through ghapp.render.escape.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ghapp.core.model import CATEGORIES, Finding, Report, Service, ServiceCoverage
from ghapp.render.escape import code, mention, text
from ghapp.render.fit import Block, Part, fit
from ghapp.render.sections import (
    COVERAGE_LABELS,
    UNOWNED_GROUP,
    Counts,
    blocking,
    by_owner,
    counts_by_rule_and_owner,
    coverage_state,
    enforcing,
    existing,
    other_new,
    owner_key,
    touched_services,
    waived,
)

_CODE_SPAN = re.compile(r"`([^`\n]+)`")
SUMMARY_LIMIT = 65_535  # bytes, GitHub's cap on output.summary and output.text
COLLAPSE_AFTER = 8  # other new findings beyond this many go inside <details>
ICON = {"failure": "❌", "success": "✅", "neutral": "⚪"}
SEVERITY_ICON = {"error": "❌", "warning": "⚠️", "notice": "ℹ️"}
CATEGORY_NAMES = {
    "sast": "SAST",
    "secrets": "Secrets",
    "sca": "Dependencies",
    "container": "Container",
    "iac": "IaC",
}
# Cutting order: (section, items kept at least). Sections 1 and 3 are cut last and only when
# everything else is gone, keeping a first screenful before giving up more.
STAGES = (
    ("waived", 0),
    ("existing", 0),
    ("other", 0),
    ("scans", 20),
    ("blocking", 20),
    ("scans", 0),
    ("blocking", 0),
)


def render_markdown(
    report: Report,
    max_bytes: int = SUMMARY_LIMIT,
    *,
    details_url: str | None = None,
    subject: str | None = None,
) -> str:
    """The check-run summary, at most `max_bytes` UTF-8 bytes; `details_url` is the details
    page of this evaluation (linked, and named wherever something had to be cut). `subject`
    names what was evaluated ("pull request", "push"); by default a pull request when a base
    was compared, else a commit."""
    parts = summary_parts(report, details_url, subject)

    def note(cut: int, noun: str) -> str:
        where = (
            f"the [details page]({details_url})" if details_url else "`ghapp check --format json`"
        )
        return f"_… {cut:,} more {noun} not shown here to fit GitHub's size limit: see {where}._"

    return fit(parts, max_bytes, note, STAGES)


def title_of(report: Report) -> str:
    """The check run's title: "2 blocking · 5 new · 31 existing"."""
    return Counts.of(report.findings).title(enforcing(report))


def summary_parts(
    report: Report, details_url: str | None, subject: str | None = None
) -> list[Part]:
    """The summary's sections in order, as parts `fit` can cut."""
    findings = report.findings
    subject = subject or ("pull request" if report.compared_to_base else "commit")
    parts = [
        _headline(report, details_url),
        _blocking(blocking(findings), subject, enforcing(report)),
        _other(other_new(findings)),
        _scans(report, subject),
        _existing(existing(findings)),
        _waived(waived(findings)),
    ]
    return [p for p in parts if p.blocks]


def _headline(report: Report, details_url: str | None) -> Part:
    counts = Counts.of(report.findings)
    lines = [f"### {ICON.get(report.conclusion, '')} {counts.title(enforcing(report))}"]
    body = [f"> {text(n)}" for n in report.notes]
    if details_url:
        body.append(f"Provenance, filters and every finding: [details page]({details_url}).")
    return Part("head", [Block(head=lines + ([""] if body else []) + body)])


def _blocking(findings: Sequence[Finding], subject: str, enforced: bool) -> Part:
    if not findings:
        return Part("blocking", [])
    title = (
        f"#### What blocks this {subject} ({len(findings)})"
        if enforced
        else f"#### Errors ({len(findings)}): they would block, but ghapp only reports here"
    )
    blocks = [Block(head=[title], keep=True), *_groups(findings, with_fix=True)]
    return Part("blocking", blocks, noun="blocking findings")


def _other(findings: Sequence[Finding]) -> Part:
    if not findings:
        return Part("other", [])
    title = f"#### Other new findings ({len(findings)})"
    if len(findings) <= COLLAPSE_AFTER:
        groups = _groups(findings, with_fix=True)
        return Part("other", [Block(head=[title], keep=True), *groups], noun="new findings")
    # One item per finding (so cut counts are findings), each group's heading before its first.
    items = [
        (f"\n{_group_heading(group, members)}\n\n" if i == 0 else "") + _item(f, True)
        for group, members in by_owner(findings)
        for i, f in enumerate(members)
    ]
    summary = f"<details><summary>Show {len(findings)} warnings and notices</summary>"
    details = Block(head=[summary], items=items, tail=["", "</details>"])
    return Part("other", [Block(head=[title], keep=True), details], noun="new findings")


def _groups(findings: Sequence[Finding], *, with_fix: bool) -> list[Block]:
    return [
        Block(head=[_group_heading(group, items), ""], items=_items(items, with_fix))
        for group, items in by_owner(findings)
    ]


def _group_heading(group: str, items: Sequence[Finding]) -> str:
    return f"**{_owners_label(group, all(map(_vouched, items)))}** · {len(items)}"


def _vouched(f: Finding) -> bool:
    """Whether ghapp resolved the finding's owners itself (CODEOWNERS), so they may be mentioned."""
    return f.owner_source is not None and f.owner_source.validated


def _items(findings: Sequence[Finding], with_fix: bool) -> list[str]:
    return [_item(f, with_fix) for f in findings]


def _item(f: Finding, with_fix: bool) -> str:
    line = f"- {SEVERITY_ICON.get(f.severity, '')} {_where(f)} {code(f.rule)}: {prose(f.message)}"
    if with_fix and f.fix:
        line += f"  \n  **Fix:** {prose(f.fix)}"
    return line


def prose(value: str) -> str:
    """A message or fix as inert markdown that keeps its `code spans` (each re-fenced by
    `code`, so nothing inside one can end it) and escapes everything else with `text`."""
    out, last = [], 0
    for match in _CODE_SPAN.finditer(value):
        out += [text(value[last : match.start()]), code(match.group(1))]
        last = match.end()
    out.append(text(value[last:]))
    return "".join(out)


def _owners_label(group: str, vouched: bool) -> str:
    if group == UNOWNED_GROUP:
        return "Unowned: nobody is named to act"
    return ", ".join(mention(o) if vouched else code(o) for o in group.split(", "))


def _where(f: Finding, *, in_table: bool = False) -> str:
    if not f.path:
        return "(repository)"
    return code(f"{f.path}:{f.line}" if f.line else f.path, in_table=in_table)


def _scans(report: Report, subject: str) -> Part:
    touched = touched_services(report)
    title = (
        f"#### Security scans and ownership of the services this {subject} touches"
        if touched
        else "#### Security scans"
    )
    if not touched and not report.coverage:
        return Part("scans", [])
    blocks = [Block(head=[title], keep=True)]
    header = "| Service | " + " | ".join(CATEGORY_NAMES[c] for c in CATEGORIES) + " |"
    rule = "|---" * (len(CATEGORIES) + 1) + "|"
    rows = [_coverage_row(s.name, c) for s, c in touched if c is not None]
    if not rows and report.coverage:
        rows = [_coverage_row("(repository)", ServiceCoverage("", dict(report.coverage)))]
    if rows:
        blocks.append(Block(head=[header, rule], items=rows))
        blocks.append(
            Block(
                head=[
                    "✅ runs on pull requests and fails on findings · ⚠️ advisory: runs but never "
                    "fails, or not on pull requests · ❌ missing · **required** by policy"
                ]
            )
        )
    if touched:
        records = [_record_row(s) for s, _ in touched]
        blocks.append(
            Block(
                head=[
                    "| Service | Owner | On-call | Tier | Data | Manifest |",
                    "|---|---|---|---|---|---|",
                ],
                items=records,
            )
        )
    return Part("scans", blocks, noun="service rows")


def _coverage_row(name: str, coverage: ServiceCoverage) -> str:
    cells = [text(name)]
    for category in CATEGORIES:
        c = coverage.categories.get(category)
        state = coverage_state(c.configured, c.on_pull_request, c.blocking) if c else "missing"
        label = COVERAGE_LABELS[state]
        cells.append(f"**{label}**" if category in coverage.required else label)
    return "| " + " | ".join(cells) + " |"


def _record_row(s: Service) -> str:
    owner = code(s.owner, in_table=True) if s.owner else "❌ none"
    oncall = text(", ".join(s.oncall)) if s.oncall else "❌ none"
    data = text(", ".join(s.data)) if s.data else "—"
    return (
        f"| {text(s.name)} | {owner} | {oncall} | {text(s.tier) if s.tier else '—'} | {data} | "
        f"{code(s.manifest, in_table=True)} |"
    )


def _existing(findings: Sequence[Finding]) -> Part:
    if not findings:
        return Part("existing", [])
    title = f"#### Existing findings ({len(findings)}): already on the base, they never block"
    vouched = {owner_key(f) for f in findings if _vouched(f)}
    counts = [
        f"| {code(rule, in_table=True)} | {_owners_cell(owner, owner in vouched)} | {n} |"
        for rule, owner, n in counts_by_rule_and_owner(findings)
    ]
    table = Block(head=["| Rule | Owner | Findings |", "|---|---|---|"], items=counts)
    summary = f"<details><summary>List all {len(findings)} existing findings</summary>"
    listing = Block(head=[summary, ""], items=_items(findings, False), tail=["", "</details>"])
    return Part(
        "existing", [Block(head=[title], keep=True), table, listing], noun="existing-finding rows"
    )


def _owners_cell(group: str, vouched: bool) -> str:
    return "unowned" if group == UNOWNED_GROUP else _owners_label(group, vouched)


def _waived(findings: Sequence[Finding]) -> Part:
    if not findings:
        return Part("waived", [])
    rows = []
    for f in findings:
        w = f.waiver_detail
        approver = text(w.approved_by) if w else "—"
        reason = text(w.reason) if w else text(f.waiver or "")
        until = text(w.until) if w and w.until else "never"
        rows.append(
            f"| {code(f.rule, in_table=True)} | {_where(f, in_table=True)} | {approver} | "
            f"{reason} | {until} |"
        )
    table = Block(
        head=["| Rule | Where | Approved by | Reason | Expires |", "|---|---|---|---|---|"],
        items=rows,
    )
    title = f"#### Waived findings ({len(findings)})"
    return Part("waived", [Block(head=[title], keep=True), table], noun="waived findings")

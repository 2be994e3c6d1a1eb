"""GitHub Actions workflow commands: one `::error file=…,line=…,title=…::message` per finding.

GitHub shows at most 10 error and 10 warning annotations per step (and 50 per job), so each
level is capped and one closing notice counts what was left out. Values are escaped as the
runner's command parser expects: `%`, CR and LF in the message; also `:` and `,` in properties.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ghapp.core.model import SEVERITIES, Finding

PER_LEVEL = 10
_COMMANDS = {"error": "error", "warning": "warning", "notice": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def workflow_command(finding: Finding, title: str | None = None) -> str:
    """One workflow command for a finding, at its file and line when it has them."""
    props: list[tuple[str, str]] = []
    if finding.path:
        props.append(("file", finding.path))
        if finding.line:
            props.append(("line", str(finding.line)))
            if finding.column:
                props.append(("col", str(finding.column)))
    props.append(("title", f"{finding.rule}: {title}" if title else finding.rule))
    message = finding.message
    if finding.owners:
        message += f"\nOwner: {' '.join(finding.owners)}"
    if finding.fix:
        message += f"\nFix: {finding.fix}"
    rendered = ",".join(f"{k}={escape_property(v)}" for k, v in props)
    return f"::{_COMMANDS[finding.severity]} {rendered}::{escape_data(message)}"


def workflow_commands(
    findings: Iterable[Finding],
    titles: dict[str, str] | None = None,
    per_level: int = PER_LEVEL,
) -> list[str]:
    """Workflow commands for `findings`, errors first, at most `per_level` per level; when some
    are left out, a last notice says how many (the notices leave it room)."""
    by_level: dict[str, list[Finding]] = {s: [] for s in SEVERITIES}
    for finding in findings:
        by_level[finding.severity].append(finding)
    out: list[str] = []
    left = 0
    caps = {s: per_level for s in SEVERITIES}
    if any(len(v) > per_level for v in by_level.values()):
        caps["notice"] = per_level - 1  # room for the closing notice
    for severity in SEVERITIES:
        shown: Sequence[Finding] = by_level[severity][: caps[severity]]
        out += [workflow_command(f, (titles or {}).get(f.rule)) for f in shown]
        left += len(by_level[severity]) - len(shown)
    if left:
        out.append(
            f"::notice title=ghapp::{left} more new finding(s) are not annotated (GitHub shows "
            f"{per_level} per level); all are in the job summary and the SARIF file"
        )
    return out

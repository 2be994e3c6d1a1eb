"""Options that shape what `check`, `ci` and `hook` report: --min-severity, --fail-on, --color,
--quiet. Filtering comes first: a finding below --min-severity is neither shown nor counted."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # the core is imported when a command runs, not when the parser is built
    from ghapp.core.model import Finding, Report

FAIL_ON = ("policy", "error", "warning", "never")
_RANK: dict[str, int] = {"error": 0, "warning": 1, "notice": 2}


def add_output_options(p: Any, *, fail_on: str = "policy") -> None:
    p.add_argument(
        "--min-severity",
        choices=("notice", "warning", "error"),
        default="notice",
        help="report only findings of this severity or higher (default: notice, all)",
    )
    p.add_argument(
        "--fail-on",
        choices=FAIL_ON,
        default=fail_on,
        help="what fails (exit 1): 'policy' the config's conclusion (errors, only with a config); "
        "'error' or 'warning' any new, unwaived finding at or above it; 'never' nothing "
        f"(default: {fail_on})",
    )
    p.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the text report (auto: on a terminal, unless NO_COLOR is set)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="print the conclusion only")


def shape_report(report: Report, args: argparse.Namespace) -> Report:
    """The report as the options ask: findings below --min-severity dropped, --fail-on applied."""
    from dataclasses import replace

    from ghapp.core.evaluate import REPORT_ONLY_NOTE

    threshold = _RANK[args.min_severity]
    findings = tuple(f for f in report.findings if _RANK[f.severity] <= threshold)
    report = replace(report, findings=findings)
    if args.fail_on == "policy":
        return report
    # The threshold replaces the config's verdict, so "report only" no longer holds.
    notes = tuple(n for n in report.notes if n != REPORT_ONLY_NOTE)
    if args.fail_on == "never":
        conclusion = "neutral" if report.conclusion == "failure" else report.conclusion
        note = "--fail-on never: findings are reported, nothing fails"
        return replace(report, conclusion=conclusion, notes=(*notes, note))
    blocking = blocking_findings(report, args.fail_on)
    note = f"--fail-on {args.fail_on}: new, unwaived findings of severity {args.fail_on} or higher fail"
    return replace(report, conclusion="failure" if blocking else "success", notes=(*notes, note))


def blocking_findings(report: Report, fail_on: str) -> list[Finding]:
    """The findings that make (or would make) the check fail."""
    if fail_on == "never":
        return []
    if fail_on == "policy":
        if report.conclusion != "failure":
            return []
        fail_on = "error"
    limit = _RANK[fail_on]
    return [f for f in report.findings if f.new and not f.waived and _RANK[f.severity] <= limit]


def exit_status(report: Report) -> int:
    return 1 if report.conclusion == "failure" else 0


def use_color(choice: str, stream: IO[str], environ: Mapping[str, str]) -> bool:
    """--color: `always`/`never` as said; `auto` on a terminal unless NO_COLOR is set (no-color.org)
    or TERM is dumb."""
    if choice != "auto":
        return choice == "always"
    if environ.get("NO_COLOR") or environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def quiet_line(command: str, report: Report) -> str:
    return f"ghapp {command}: {report.conclusion.upper()}"

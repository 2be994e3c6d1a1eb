"""`ghapp hook FILE...`: the pre-commit entry point (`.pre-commit-hooks.yaml`).

pre-commit passes the staged file names. Ownership, coverage and services are facts about the
whole repository, so the repository is evaluated whole; only findings on the given files are
reported, and only they decide the exit status.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ghapp.cli import UsageError, normalise_path
from ghapp.cli.check import add_policy_options, policy_inputs
from ghapp.cli.output import add_output_options, exit_status, quiet_line, shape_report, use_color


def add_command(sub: Any) -> None:
    p = sub.add_parser(
        "hook",
        help="pre-commit: check the repository, report findings on the given files",
        description="Evaluate the repository at --repo and report only the findings on FILEs "
        "(pre-commit passes the files being committed).",
    )
    p.add_argument("files", nargs="*", metavar="FILE")
    p.add_argument("--repo", type=Path, default=Path("."), help="repository directory")
    add_policy_options(p)
    add_output_options(p, fail_on="error")
    p.set_defaults(run=run_hook)


def run_hook(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ghapp.core.evaluate import evaluate
    from ghapp.render import render_text
    from ghapp.rules import default_catalog
    from ghapp.sources import DirectorySnapshot

    if not args.repo.is_dir():
        raise UsageError(f"{args.repo}: no such directory")
    wanted = {normalise_path(_relative(Path(f), args.repo)) for f in args.files}
    if not wanted:
        return 0
    report = evaluate(
        DirectorySnapshot(args.repo), catalog=default_catalog(), **policy_inputs(args)
    )
    # Only the committed files: neither the repository-wide tables nor findings elsewhere, and
    # the config's verdict (when it has one) is about these findings alone.
    findings = tuple(f for f in report.findings if f.path in wanted)
    conclusion = report.conclusion
    if conclusion != "neutral":
        blocks = any(f.severity == "error" and f.new and not f.waived for f in findings)
        conclusion = "failure" if blocks else "success"
    report = replace(
        report, findings=findings, conclusion=conclusion, files=(), services=(), coverage={}
    )
    report = shape_report(report, args)
    if args.quiet:
        print(quiet_line("hook", report))
    elif report.findings or report.conclusion == "failure":
        text = render_text(report, color=use_color(args.color, sys.stdout, os.environ))
        print(text.replace("ghapp check:", "ghapp hook:", 1), end="")
    return exit_status(report)


def _relative(path: Path, repo: Path) -> str:
    """A file name as pre-commit gives it (relative to the repository) or absolute."""
    if path.is_absolute():
        try:
            return path.resolve().relative_to(repo.resolve()).as_posix()
        except ValueError:
            return path.as_posix()
    return path.as_posix()

"""`ghapp ci`: the GitHub Actions entry point.

It reads the runner's environment: on `pull_request`/`pull_request_target` (and `merge_group`)
it evaluates the payload's base SHA against its head SHA, on `push` the pushed commit against its
parent, on anything else the whole tree. Missing commits of a shallow checkout are fetched. It
writes SARIF (`--sarif`), the markdown summary to `$GITHUB_STEP_SUMMARY`, one annotation per new
finding (capped), and `conclusion`, `new-findings`, `blocking` to `$GITHUB_OUTPUT`. Exit status
as `ghapp check`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ghapp.cli import UsageError
from ghapp.cli.check import add_policy_options, policy_inputs, with_suggestions
from ghapp.cli.output import (
    add_output_options,
    blocking_findings,
    exit_status,
    quiet_line,
    shape_report,
    use_color,
)

SUMMARY_BYTES = 1_000_000  # GitHub accepts 1 MiB of step summary per step
NEEDS = (
    "GITHUB_ACTIONS=true, GITHUB_EVENT_NAME, GITHUB_EVENT_PATH, GITHUB_SHA, GITHUB_WORKSPACE "
    "(and GITHUB_STEP_SUMMARY, GITHUB_OUTPUT to write to)"
)


def add_command(sub: Any) -> None:
    p = sub.add_parser(
        "ci",
        help="run in GitHub Actions: SARIF, job summary, annotations and step outputs",
        description="Evaluate what the workflow run is about (a pull request's base..head, a "
        "pushed commit against its parent, otherwise the whole tree) and report it where "
        f"GitHub Actions shows it. Needs {NEEDS}.",
    )
    p.add_argument("dir", nargs="?", help="repository directory (default: $GITHUB_WORKSPACE)")
    p.add_argument("--sarif", type=Path, default=Path("ghapp.sarif"), help="SARIF file to write")
    p.add_argument(
        "--max-annotations",
        type=int,
        default=10,
        help="annotations per severity level (GitHub shows 10 per step)",
    )
    add_policy_options(p)
    add_output_options(p)
    p.set_defaults(run=run_ci)


def run_ci(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> int:
    import secrets

    from ghapp import commits
    from ghapp.cli.actions_env import ActionsEnvironment, event_range
    from ghapp.core.evaluate import evaluate
    from ghapp.render import render_markdown, render_sarif, render_text
    from ghapp.render.annotations import workflow_commands
    from ghapp.rules import default_catalog
    from ghapp.sources import DirectorySnapshot, GitSnapshot

    env = ActionsEnvironment.from_environ(os.environ if environ is None else environ)
    root = Path(args.dir) if args.dir else env.workspace or Path(".")
    if not root.is_dir():
        raise UsageError(f"{root}: no such directory")
    span = event_range(env, root)
    catalog = default_catalog()
    changed = None
    if span.head is None:
        head: Any = DirectorySnapshot(root)
        base = None
    else:
        commits.ensure_commit(root, span.head, "the head commit")
        head = GitSnapshot(root, span.head)
        base = None
        if span.base is not None:
            commits.ensure_commit(root, span.base, "the base commit")
            base = GitSnapshot(root, span.base)
            changed = _below(
                commits.prefix_of(root), commits.changed_paths(root, span.base, span.head)
            )
    inputs = policy_inputs(args)
    report = evaluate(head, base=base, changed=changed, catalog=catalog, **inputs)
    report = with_suggestions(report, root, head, inputs["directory"], span.head)
    report = shape_report(report, args)

    args.sarif.write_text(render_sarif(report, catalog) + "\n", encoding="utf-8")
    if env.step_summary is not None:
        with env.step_summary.open("a", encoding="utf-8") as summary:
            text = render_markdown(report, max_bytes=SUMMARY_BYTES, subject=span.subject)
            summary.write(text + "\n")
    new = [f for f in report.findings if f.new and not f.waived]
    blocking = blocking_findings(report, args.fail_on)
    if env.output is not None:
        with env.output.open("a", encoding="utf-8") as output:
            output.write(f"conclusion={report.conclusion}\n")
            output.write(f"new-findings={len(new)}\n")
            output.write(f"blocking={len(blocking)}\n")
            output.write(f"sarif={args.sarif}\n")

    if not args.quiet:
        # Finding text comes from the repository: fence it so that no line of it can be read
        # as a workflow command (GitHub's stop-commands, with a token nobody can guess).
        token = secrets.token_hex(16)
        print(f"ghapp ci: {span.description}")
        print(f"::stop-commands::{token}")
        print(render_text(report, color=use_color(args.color, sys.stdout, os.environ)), end="")
        print(f"::{token}::")
    titles = {f.rule: catalog.rules[f.rule].title for f in new if f.rule in catalog.rules}
    for line in workflow_commands(new, titles, per_level=max(args.max_annotations, 1)):
        print(line)
    print(quiet_line("ci", report))
    return exit_status(report)


def _below(prefix: str, paths: list[str]) -> list[str]:
    """Repository paths as seen from a directory inside it (paths outside are dropped)."""
    return [p[len(prefix) :] for p in paths if p.startswith(prefix)]

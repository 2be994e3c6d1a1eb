"""`ghapp check`: evaluate a local repository, or the change between two git refs."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ghapp.cli import UsageError, load_directory, parse_date, read_file
from ghapp.cli.output import add_output_options, exit_status, quiet_line, shape_report, use_color
from ghapp.core.errors import GhappError

if TYPE_CHECKING:
    from ghapp.core.model import Report
    from ghapp.core.snapshot import Snapshot


def add_command(sub: Any) -> None:
    p = sub.add_parser(
        "check",
        help="evaluate a repository, or the change between two git refs",
        description="Evaluate a local repository (or the change between --base and --head) and "
        "report ownership, service records, security-scan coverage and findings.",
    )
    p.add_argument("dir", nargs="?", default=".", help="repository directory (default: .)")
    p.add_argument("--base", help="git ref of the base; findings it already has are not new")
    p.add_argument("--head", help="git ref of the head (default: the working tree)")
    add_policy_options(p)
    p.add_argument(
        "--workflows",
        action="store_true",
        help="DIR is a folder of workflow files: check them as .github/workflows/",
    )
    p.add_argument("--format", choices=("text", "json", "sarif", "markdown"), default="text")
    add_output_options(p)
    p.set_defaults(run=run_check)


def add_policy_options(p: Any) -> None:
    """--config, --org-config, --directory, --today: what `check`, `ci` and `hook` share."""
    p.add_argument("--config", type=Path, help="config file to use instead of .github/ghapp.yml")
    p.add_argument("--org-config", type=Path, help="organisation default config to layer under")
    p.add_argument(
        "--directory",
        type=Path,
        help="YAML/JSON file of known users/teams/emails and who may write",
    )
    p.add_argument("--today", type=parse_date, help="evaluate waivers as of this date (YYYY-MM-DD)")


def policy_inputs(args: argparse.Namespace) -> dict[str, Any]:
    """The evaluate() keyword arguments the policy options give."""
    return {
        "today": args.today or date.today(),
        "org_config": read_file(args.org_config) if args.org_config else None,
        "repo_config": read_file(args.config) if args.config else None,
        "directory": load_directory(args.directory) if args.directory else None,
    }


def run_check(args: argparse.Namespace) -> int:
    from ghapp.core.evaluate import evaluate
    from ghapp.render import render_json, render_markdown, render_sarif, render_text
    from ghapp.rules import default_catalog
    from ghapp.sources import DirectorySnapshot, GitObjects, GitSnapshot, MountedSnapshot

    root = Path(args.dir)
    if not root.is_dir():
        raise UsageError(f"{args.dir}: no such directory")
    if args.workflows and (args.base or args.head):
        raise UsageError("--workflows checks a folder of files; it does not take --base/--head")
    # One `git cat-file --batch` process serves both refs; a blob they share is read once.
    with GitObjects(root) as objects:
        head: Any = GitSnapshot(root, args.head, objects) if args.head else DirectorySnapshot(root)
        if args.workflows:
            head = MountedSnapshot(head, ".github/workflows")
        base = GitSnapshot(root, args.base, objects) if args.base else None
        catalog = default_catalog()
        inputs = policy_inputs(args)
        report = evaluate(head, base=base, catalog=catalog, **inputs)
        if not args.workflows:
            report = with_suggestions(report, root, head, inputs["directory"], args.head)
    report = shape_report(report, args)
    if args.quiet:
        print(quiet_line("check", report))
    elif args.format == "json":
        print(render_json(report))
    elif args.format == "sarif":
        print(render_sarif(report, catalog))
    elif args.format == "markdown":
        print(render_markdown(report, max_bytes=10_000_000))
    else:
        print(render_text(report, color=use_color(args.color, sys.stdout, os.environ)), end="")
    return exit_status(report)


def with_suggestions(
    report: Report, root: Path, head: Snapshot, directory: Any, rev: str | None
) -> Report:
    """The report with owner suggestions on its unowned-file findings (from the git history
    of `rev` in `root`); unchanged when it has none, or without git."""
    from ghapp.cli.owners import local_suggestions
    from ghapp.core.ownership.codeowners import LOCATIONS, CodeOwners, find_codeowners
    from ghapp.core.ownership.suggest import annotate_findings, finding_targets
    from ghapp.sources import is_git_repo

    targets = finding_targets(report.findings, head.paths())
    if not targets:
        return report
    try:
        if not is_git_repo(root):
            return report
    except OSError:  # no git at all: the findings keep their generic fix
        return report
    located = find_codeowners(head)
    text = located.text if located is not None else None
    try:
        suggestions = local_suggestions(
            root,
            head,
            CodeOwners.from_text(text or ""),
            text,
            located.path if located is not None else LOCATIONS[0],
            targets,
            report.services,
            directory.people if directory is not None else None,
            rev=rev or "HEAD",
        )
    except GhappError as exc:  # suggestions are an extra: say why they are missing, go on
        print(f"ghapp: note: no owner suggestions: {exc}", file=sys.stderr)
        return report
    return replace(report, findings=annotate_findings(report.findings, suggestions))

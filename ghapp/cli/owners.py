"""`ghapp owners`: resolve the owners of paths with GitHub's CODEOWNERS semantics."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ghapp.cli import load_directory, normalise_path, read_file


def add_command(sub: Any) -> None:
    p = sub.add_parser(
        "owners",
        help="resolve the owners of paths with GitHub's CODEOWNERS semantics",
        description="Resolve owners of PATHs ('-' reads paths from stdin; none: every file).",
    )
    p.add_argument("paths", nargs="*", metavar="PATH")
    p.add_argument("--repo", type=Path, default=Path("."), help="repository directory")
    p.add_argument("--codeowners", type=Path, help="CODEOWNERS file (default: GitHub's locations)")
    p.add_argument("--directory", type=Path, help="known users/teams (enables unknown-owner)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(run=run_owners)


def run_owners(args: argparse.Namespace) -> int:
    from ghapp.core.manifests.services import discover_services, service_of
    from ghapp.core.model import FileOwners
    from ghapp.core.ownership.codeowners import CodeOwners, find_codeowners
    from ghapp.render.escape import terminal
    from ghapp.rules import default_catalog
    from ghapp.sources import DirectorySnapshot

    snapshot = DirectorySnapshot(args.repo)
    if args.codeowners:
        text = read_file(args.codeowners)
    else:
        located = find_codeowners(snapshot)
        text = (located.text if located else None) or ""
    directory = load_directory(args.directory) if args.directory else None
    codeowners = CodeOwners.from_text(text, directory=directory)
    if args.paths == ["-"]:
        paths = [line.strip() for line in sys.stdin if line.strip()]
    else:
        paths = list(args.paths) or list(snapshot.paths())
    paths = [normalise_path(p) for p in paths]
    services, _ = discover_services(snapshot, default_catalog())
    files = [
        FileOwners(
            path=path,
            owners=tuple(match.owners) if match else (),
            line=match.line if match else None,
            pattern=match.pattern if match else None,
            service=service.name if (service := service_of(services, path)) else None,
        )
        for path, match in zip(paths, codeowners.resolve_all(paths), strict=True)
    ]
    errors = [e.to_json() for e in codeowners.errors]
    if args.format == "json":
        body = {"files": [f.to_json() for f in files], "errors": errors}
        print(json.dumps(body, indent=2, ensure_ascii=False))
        return 0
    # File names, patterns and owners come from the repository: shown escaped, never executed.
    shown = [terminal(f.path) for f in files]
    width = max((len(p) for p in shown), default=10)
    for path, f in zip(shown, files, strict=True):
        rule = f"line {f.line}: {terminal(f.pattern)}" if f.line else "no rule"
        where = f"  [{terminal(f.service)}]" if f.service else ""
        owners = terminal(" ".join(f.owners)) or "(unowned)"
        print(f"{path:<{width}}  {owners}  ({rule}){where}")
    for e in errors:
        message = terminal(e["message"])
        print(f"CODEOWNERS:{e['line']}:{e['column']}: {e['kind']}: {message}", file=sys.stderr)
    return 0

"""`ghapp owners`: resolve the owners of paths with GitHub's CODEOWNERS semantics, and with
`--suggest`, rank who should own the paths nobody owns (git history, neighbours, manifests)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ghapp.cli import UsageError, load_directory, normalise_path, read_file

if TYPE_CHECKING:
    from ghapp.core.model import Service
    from ghapp.core.ownership.codeowners import CodeOwners
    from ghapp.core.ownership.directory import People
    from ghapp.core.ownership.suggest import Suggestions
    from ghapp.core.snapshot import Snapshot

DEFAULT_SINCE_DAYS = 365  # ghapp.core.ownership.suggest.DEFAULT_SINCE_DAYS, without the import


def add_command(sub: Any) -> None:
    p = sub.add_parser(
        "owners",
        help="resolve the owners of paths with GitHub's CODEOWNERS semantics",
        description="Resolve owners of PATHs ('-' reads paths from stdin; none: every file). "
        "With --suggest, rank candidate owners of the paths nobody owns.",
    )
    p.add_argument("paths", nargs="*", metavar="PATH")
    p.add_argument("--repo", type=Path, default=Path("."), help="repository directory")
    p.add_argument("--codeowners", type=Path, help="CODEOWNERS file (default: GitHub's locations)")
    p.add_argument(
        "--directory",
        type=Path,
        help="known users/teams (enables unknown-owner); for --suggest, team members "
        "({team: {members: [...]}}) and commit emails ({email: login})",
    )
    p.add_argument(
        "--suggest",
        action="store_true",
        help="rank who should own unowned paths: git history, neighbouring owners, manifests",
    )
    p.add_argument(
        "--since",
        type=_days,
        default=DEFAULT_SINCE_DAYS,
        metavar="DAYS",
        help=f"history window for --suggest, in days (default: {DEFAULT_SINCE_DAYS})",
    )
    p.add_argument(
        "--all", action="store_true", help="with --suggest: rank owners of every path given"
    )
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(run=run_owners)


def run_owners(args: argparse.Namespace) -> int:
    from ghapp.core.manifests.services import discover_services, service_of
    from ghapp.core.model import FileOwners
    from ghapp.core.ownership.codeowners import LOCATIONS, CodeOwners, find_codeowners
    from ghapp.render.escape import terminal
    from ghapp.rules import default_catalog
    from ghapp.sources import DirectorySnapshot

    if (args.all or args.since != DEFAULT_SINCE_DAYS) and not args.suggest:
        raise UsageError("--all and --since go with --suggest")
    snapshot = DirectorySnapshot(args.repo)
    located = None if args.codeowners else find_codeowners(snapshot)
    if args.codeowners:
        text: str | None = read_file(args.codeowners)
    else:
        text = located.text if located else None
    directory = load_directory(args.directory) if args.directory else None
    codeowners = CodeOwners.from_text(text or "", directory=directory)
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
    suggestions = None
    if args.suggest:
        where = str(args.codeowners) if args.codeowners else (located.path if located else None)
        suggestions = local_suggestions(
            args.repo,
            snapshot,
            codeowners,
            text,
            where or LOCATIONS[0],
            paths,
            services,
            directory.people if directory is not None else None,
            since_days=args.since,
            rank_owned=args.all,
        )
    if suggestions is not None and suggestions.unmapped:
        print(
            f"ghapp: note: {sum(suggestions.unmapped.values())} commit(s) by "
            f"{len(suggestions.unmapped)} author(s) not mapped to GitHub users were credited to "
            "nobody (map their emails to logins under `emails:` in --directory)",
            file=sys.stderr,
        )
    if args.format == "json":
        entries = [f.to_json() for f in files]
        if suggestions is not None:
            for entry in entries:
                found = suggestions.for_path(entry["path"])
                entry["suggestions"] = [s.to_json() for s in found]
        print(json.dumps({"files": entries, "errors": errors}, indent=2, ensure_ascii=False))
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
    if suggestions is not None:
        print_suggestions(suggestions, paths, args.since)
    return 0


def local_suggestions(
    root: Path,
    snapshot: Snapshot,
    codeowners: CodeOwners,
    text: str | None,
    codeowners_path: str,
    targets: Sequence[str],
    services: Sequence[Service],
    people: People | None,
    *,
    since_days: int = DEFAULT_SINCE_DAYS,
    rank_owned: bool = False,
    rev: str = "HEAD",
) -> Suggestions:
    """Suggestions for `targets` of a local repository, from its git history (one process)."""
    from ghapp.core.ownership.directory import People
    from ghapp.core.ownership.suggest import history_paths, suggest_owners
    from ghapp.history import covering_paths, read_history

    now = datetime.now(UTC)
    universe = snapshot.paths()
    wanted = history_paths(codeowners, universe, targets, rank_owned=rank_owned)
    history = (
        read_history(
            root,
            now=now,
            since_days=since_days,
            keep=wanted.__contains__,
            rev=rev,
            within=covering_paths(wanted, universe),
        )
        if wanted
        else []
    )
    found = suggest_owners(
        table=codeowners,
        codeowners_text=text,
        codeowners_path=codeowners_path,
        universe=universe,
        targets=targets,
        history=history,
        people=people or People(),
        services=services,
        now=now,
        since_days=since_days,
        rank_owned=rank_owned,
    )
    return found


def print_suggestions(suggestions: Suggestions, paths: Sequence[str], since_days: int) -> None:
    """The text form: one block per CODEOWNERS line to add, then deliberately unowned paths."""
    from ghapp.render.escape import terminal

    print(
        f"\nSuggested owners (from {since_days} days of history, neighbouring owners and "
        "service manifests):"
    )
    if not suggestions.groups and not suggestions.deliberate and not suggestions.ranked:
        print("  nothing to suggest: every path has an owner")
    for group in suggestions.groups:
        shown = terminal(group.pattern or group.files[0])
        if group.top is None:
            print(f"  {shown}: no evidence for any owner ({_files(group.files)})")
            continue
        print(f"  {shown}  {group.top.owner}  score {group.top.score:.2f}  ({_files(group.files)})")
        print(f"      {terminal(group.fix() or group.refused or '')}")
        for sentence in group.top.evidence:
            print(f"      - {terminal(sentence)}")
        for other in group.suggestions[1:]:
            print(
                f"      also {other.owner} {other.score:.2f}: {terminal('; '.join(other.evidence))}"
            )
    for path in paths:
        if path in suggestions.ranked:
            ranked = ", ".join(f"{s.owner} {s.score:.2f}" for s in suggestions.ranked[path])
            print(f"  {terminal(path)}: {ranked or 'no evidence'}")
    for path, (line, pattern) in sorted(suggestions.deliberate.items()):
        if path not in suggestions.ranked:
            print(
                f"  {terminal(path)}: deliberately unowned (CODEOWNERS line {line} "
                f"`{terminal(pattern)}` lists no owners)"
            )


def _files(files: Sequence[str]) -> str:
    return "1 file" if len(files) == 1 else f"{len(files)} files"


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of days: {text!r}") from None
    if days < 1:
        raise argparse.ArgumentTypeError(f"--since must be at least 1 day, not {days}")
    return days

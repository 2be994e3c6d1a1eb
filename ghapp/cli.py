"""The `ghapp` command line: offline checks (`check`, `owners`, `rules`) and the app's processes.

Exit status: 0 success or neutral, 1 policy failure, 2 usage or input error (one-line reason).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from ghapp import __version__
from ghapp.core.errors import GhappError

# Modules that add the app's subcommands (serve, replay, worker, ...); imported when used.
EXTENSIONS = ("ghapp.app.cli", "ghapp.store.cli")
OFFLINE = ("check", "owners", "rules")


class UsageError(GhappError):
    """Bad command-line input."""


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(with_extensions=not _is_offline(args_list))
    args = parser.parse_args(args_list)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except GhappError as exc:
        print(f"ghapp: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def build_parser(*, with_extensions: bool = True) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ghapp",
        description="Pull-request governance: who owns what changed, is every service's record "
        "complete, do security scans really run and block, is the deploy config safe.",
    )
    parser.add_argument("--version", action="version", version=f"ghapp {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    _add_check(sub)
    _add_owners(sub)
    _add_rules(sub)
    if with_extensions:
        for name in EXTENSIONS:
            importlib.import_module(name).add_commands(sub)
    return parser


def _is_offline(argv: list[str]) -> bool:
    # Offline commands skip importing the server stack (githubkit, starlette, sqlalchemy).
    first = next((a for a in argv if not a.startswith("-")), None)
    return first in OFFLINE


def _add_check(sub: Any) -> None:
    p = sub.add_parser(
        "check",
        help="evaluate a repository, or the change between two git refs",
        description="Evaluate a local repository (or the change between --base and --head) and "
        "report ownership, service records, security-scan coverage and findings.",
    )
    p.add_argument("dir", nargs="?", default=".", help="repository directory (default: .)")
    p.add_argument("--base", help="git ref of the base; findings it already has are not new")
    p.add_argument("--head", help="git ref of the head (default: the working tree)")
    p.add_argument("--config", type=Path, help="config file to use instead of .github/ghapp.yml")
    p.add_argument("--org-config", type=Path, help="organisation default config to layer under")
    p.add_argument(
        "--directory",
        type=Path,
        help="YAML/JSON file of known users/teams/emails and who may write",
    )
    p.add_argument("--today", type=_date, help="evaluate waivers as of this date (YYYY-MM-DD)")
    p.add_argument(
        "--workflows",
        action="store_true",
        help="DIR is a folder of workflow files: check them as .github/workflows/",
    )
    p.add_argument("--format", choices=("text", "json", "sarif", "markdown"), default="text")
    p.set_defaults(run=run_check)


def _add_owners(sub: Any) -> None:
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


def _add_rules(sub: Any) -> None:
    p = sub.add_parser("rules", help="list the rules catalog and the scanner tools it knows")
    p.add_argument("--format", choices=("text", "json", "markdown"), default="text")
    p.set_defaults(run=run_rules)


def run_check(args: argparse.Namespace) -> int:
    from ghapp.core.evaluate import evaluate
    from ghapp.render import render_json, render_markdown, render_sarif, render_text
    from ghapp.rules import default_catalog
    from ghapp.sources import DirectorySnapshot, GitSnapshot, MountedSnapshot

    root = Path(args.dir)
    if not root.is_dir():
        raise UsageError(f"{args.dir}: no such directory")
    if args.workflows and (args.base or args.head):
        raise UsageError("--workflows checks a folder of files; it does not take --base/--head")
    head: Any = GitSnapshot(root, args.head) if args.head else DirectorySnapshot(root)
    if args.workflows:
        head = MountedSnapshot(head, ".github/workflows")
    base = GitSnapshot(root, args.base) if args.base else None
    catalog = default_catalog()
    report = evaluate(
        head,
        base=base,
        catalog=catalog,
        today=args.today or date.today(),
        org_config=_read_file(args.org_config) if args.org_config else None,
        repo_config=_read_file(args.config) if args.config else None,
        directory=load_directory(args.directory) if args.directory else None,
    )
    if args.format == "json":
        print(render_json(report))
    elif args.format == "sarif":
        print(render_sarif(report, catalog))
    elif args.format == "markdown":
        print(render_markdown(report, max_bytes=10_000_000))
    else:
        print(render_text(report), end="")
    return 1 if report.conclusion == "failure" else 0


def run_owners(args: argparse.Namespace) -> int:
    from ghapp.core.codeowners import CodeOwners, find_codeowners
    from ghapp.core.manifests import discover_services, service_of
    from ghapp.core.model import FileOwners
    from ghapp.rules import default_catalog
    from ghapp.sources import DirectorySnapshot

    snapshot = DirectorySnapshot(args.repo)
    if args.codeowners:
        text = _read_file(args.codeowners)
    else:
        located = find_codeowners(snapshot)
        text = (located.text if located else None) or ""
    directory = load_directory(args.directory) if args.directory else None
    codeowners = CodeOwners.from_text(text, directory=directory)
    if args.paths == ["-"]:
        paths = [line.strip() for line in sys.stdin if line.strip()]
    else:
        paths = list(args.paths) or list(snapshot.paths())
    paths = [_normalise_path(p) for p in paths]
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
    width = max((len(f.path) for f in files), default=10)
    for f in files:
        rule = f"line {f.line}: {f.pattern}" if f.line else "no rule"
        where = f"  [{f.service}]" if f.service else ""
        print(f"{f.path:<{width}}  {' '.join(f.owners) or '(unowned)'}  ({rule}){where}")
    for e in errors:
        print(f"CODEOWNERS:{e['line']}:{e['column']}: {e['kind']}: {e['message']}", file=sys.stderr)
    return 0


def run_rules(args: argparse.Namespace) -> int:
    from ghapp.rules import default_catalog

    catalog = default_catalog()
    if args.format == "json":
        print(
            json.dumps(
                {
                    "rules": [vars(r) for r in catalog.rules.values()],
                    "tools": [dict(t) for t in catalog.tools],
                },
                indent=2,
                default=str,
            )
        )
    elif args.format == "markdown":
        print(rules_markdown(), end="")
    else:
        for rule in sorted(catalog.rules.values(), key=lambda r: r.id):
            print(f"{rule.id:<40} {rule.severity:<8} {rule.title}")
        print(f"\n{len(catalog.rules)} rules, {len(catalog.tools)} scanner tools")
    return 0


def rules_markdown() -> str:
    """The README's rules reference, generated from the catalog."""
    from ghapp.rules import default_catalog

    catalog = default_catalog()
    out = ["| Rule | Severity | What it means | Fix |", "|---|---|---|---|"]
    for rule in sorted(catalog.rules.values(), key=lambda r: r.id):
        out.append(
            f"| [`{rule.id}`]({rule.docs}) | {rule.severity} | {rule.title} | "
            f"{rule.fix.replace('|', '/').strip()} |"
        )
    out += ["", f"Scanner tools recognised ({len(catalog.tools)}):", ""]
    by_category: dict[str, list[str]] = {}
    for tool in catalog.tools:
        for category in tool["categories"]:
            by_category.setdefault(category, []).append(str(tool["name"]))
    for category, names in sorted(by_category.items()):
        out.append(f"- **{category}**: {', '.join(sorted(set(names), key=str.lower))}")
    return "\n".join(out) + "\n"


def load_directory(path: Path) -> Any:
    """A StaticDirectory from `{users: [...], teams: [...], emails: [...], write: [...]}`."""
    from ghapp.core.directory import StaticDirectory

    try:
        data = yaml.safe_load(_read_file(path)) or {}
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: invalid YAML/JSON: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a mapping with users/teams/emails/write lists")
    lists = {k: [str(x) for x in data.get(k) or []] for k in ("users", "teams", "emails")}
    write = data.get("write")
    return StaticDirectory(**lists, write=None if write is None else [str(x) for x in write])


def _read_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _normalise_path(path: str) -> str:
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path.lstrip("/")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


if __name__ == "__main__":
    sys.exit(main())

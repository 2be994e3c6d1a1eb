"""The `ghapp` command line: offline checks (`check`, `owners`, `rules`) and the app's processes.

Exit status: 0 success or neutral, 1 policy failure, 2 usage or input error (one-line reason).
Each command lives in its own module with `add_command(subparsers)`; its heavy imports happen
inside the command, so `ghapp --version` and the offline commands start fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from ghapp import __version__
from ghapp.core.errors import GhappError

# Offline commands, in the order `ghapp --help` lists them.
COMMANDS = ("ghapp.cli.check", "ghapp.cli.owners", "ghapp.cli.rules")
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
    for name in COMMANDS:
        importlib.import_module(name).add_command(sub)
    if with_extensions:
        for name in EXTENSIONS:
            importlib.import_module(name).add_commands(sub)
    return parser


def _is_offline(argv: list[str]) -> bool:
    # Offline commands skip importing the server stack (githubkit, starlette, sqlalchemy).
    first = next((a for a in argv if not a.startswith("-")), None)
    return first in OFFLINE


def load_directory(path: Path) -> Any:
    """A StaticDirectory from `{users: [...], teams: [...], emails: [...], write: [...]}`, where
    `teams` may also map each team to `{members: [...]}` and `emails` each email to a login."""
    from ghapp.core.ownership.directory import StaticDirectory

    try:
        data = yaml.safe_load(read_file(path)) or {}
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: invalid YAML/JSON: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a mapping with users/teams/emails/write lists")
    teams, members = _names_or_mapping(path, data, "teams", _members)
    emails, logins = _names_or_mapping(path, data, "emails", _login)
    write = data.get("write")
    return StaticDirectory(
        users=_names(path, data, "users"),
        teams=teams,
        emails=emails,
        write=None if write is None else _names(path, data, "write"),
        logins=logins,
        members=members,
    )


def _names(path: Path, data: dict[str, Any], key: str) -> list[str]:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise UsageError(f"{path}: `{key}` must be a list")
    return [str(x) for x in value]


def _names_or_mapping(
    path: Path, data: dict[str, Any], key: str, read: Any
) -> tuple[list[str], dict[str, Any]]:
    """A key that is a list of names, or a mapping of name to details (read by `read`)."""
    value = data.get(key) or []
    if isinstance(value, dict):
        return [str(k) for k in value], {str(k): read(path, key, k, v) for k, v in value.items()}
    return _names(path, data, key), {}


def _members(path: Path, key: str, team: Any, spec: Any) -> list[str]:
    """`{members: [alice, bob]}` (or the list itself, or nothing)."""
    members = spec.get("members") if isinstance(spec, dict) else spec
    if members is None:
        return []
    if not isinstance(members, list):
        raise UsageError(f"{path}: `{key}.{team}` must be {{members: [login, ...]}}")
    return [str(m) for m in members]


def _login(path: Path, key: str, email: Any, login: Any) -> str:
    if not isinstance(login, str) or not login.strip():
        raise UsageError(f"{path}: `{key}.{email}` must be the GitHub login of that email")
    return login.strip()


def read_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None


def normalise_path(path: str) -> str:
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path.lstrip("/")


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


if __name__ == "__main__":
    sys.exit(main())

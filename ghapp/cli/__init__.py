"""The `ghapp` command line: offline checks (`check`, `owners`, `rules`) and the app's processes.

Exit status: 0 success or neutral, 1 policy failure, 2 usage or input error (one-line reason),
and 2 with one line for any unexpected failure too: a user never sees a traceback.
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
        print(f"ghapp: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug or an exhausted resource: one line, never a traceback
        detail = _one_line(f"{type(exc).__name__}: {exc}".rstrip(": "))
        print(f"ghapp: error: unexpected {detail}", file=sys.stderr)
        return 2


def _one_line(text: str) -> str:
    return " ".join(text.split())[:1000]


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
    """A StaticDirectory from `{users: [...], teams: [...], emails: [...], write: [...]}`."""
    from ghapp.core.ownership.directory import StaticDirectory
    from ghapp.core.yamlnodes import YamlError, load_document

    try:
        data = load_document(read_file(path)) or {}
    except YamlError as exc:
        where = f" (line {exc.line})" if exc.line else ""
        raise UsageError(f"{path}: invalid YAML/JSON{where}: {exc}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a mapping with users/teams/emails/write lists")
    lists = {k: _names(path, data, k) or [] for k in ("users", "teams", "emails")}
    return StaticDirectory(**lists, write=_names(path, data, "write"))


def _names(path: Path, data: dict[str, Any], key: str) -> list[str] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or any(isinstance(v, dict | list) for v in value):
        raise UsageError(f"{path}: `{key}` must be a list of names")
    return [str(v) for v in value]


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

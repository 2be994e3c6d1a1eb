"""The `ghapp` command line: offline checks (`check`, `owners`, `rules`) and the app's processes.

Exit status: 0 success or neutral, 1 policy failure, 2 usage or input error (one-line reason).
Each command lives in its own module with `add_command(subparsers)`; its heavy imports happen
inside the command, so `ghapp --version` and the offline commands start fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from ghapp import __version__
from ghapp.core.errors import GhappError

# Offline commands, in the order `ghapp --help` lists them.
COMMANDS = ("ghapp.cli.check", "ghapp.cli.owners", "ghapp.cli.rules", "ghapp.cli.setup")
# Modules that add the app's subcommands (serve, replay, worker, ...); imported when used.
EXTENSIONS = ("ghapp.app.cli", "ghapp.store.cli")
# Commands that never need the app's subcommands parsed (skips importing the server stack).
OFFLINE = ("check", "owners", "rules", "setup")


class UsageError(GhappError):
    """Bad command-line input."""


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(with_extensions=not _is_offline(args_list))
    args = parser.parse_args(args_list)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    from ghapp.masking import mask

    try:
        return int(args.run(args) or 0)
    except GhappError as exc:
        print(f"ghapp: error: {mask(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`| head`): nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception:  # a bug: keep the traceback, but never with a password in it
        print(mask(traceback.format_exc()), end="", file=sys.stderr)
        return 1


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

    try:
        data = yaml.safe_load(read_file(path)) or {}
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: invalid YAML/JSON: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a mapping with users/teams/emails/write lists")
    lists = {k: [str(x) for x in data.get(k) or []] for k in ("users", "teams", "emails")}
    write = data.get("write")
    return StaticDirectory(**lists, write=None if write is None else [str(x) for x in write])


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

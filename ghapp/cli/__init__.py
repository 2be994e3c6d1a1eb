"""The `ghapp` command line: offline checks (`check`, `owners`, `rules`) and the app's processes.

Exit status: 0 success or neutral, 1 policy failure, 2 usage or input error (one-line reason),
and 2 with one line for any unexpected failure too (a user never sees a traceback); 141 (128 +
SIGPIPE, as the shell reports a writer killed by a closed pipe) when the reader of the output
went away (`ghapp check | head`): quietly, never 1, which would say "policy failure".
Each command lives in its own module with `add_command(subparsers)`; its heavy imports happen
inside the command, so `ghapp --version` and the offline commands start fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from ghapp import __version__
from ghapp.core.errors import GhappError

# Offline commands, in the order `ghapp --help` lists them.
COMMANDS = (
    "ghapp.cli.check",
    "ghapp.cli.owners",
    "ghapp.cli.rules",
    "ghapp.cli.ci",
    "ghapp.cli.hook",
    "ghapp.cli.report",
    "ghapp.cli.setup",
)
# Modules that add the app's subcommands (serve, replay, worker, ...); imported when used. They
# need the `server` extra: without it, asking for one of their commands says how to install it.
EXTENSIONS = ("ghapp.app.cli", "ghapp.store.cli")
OFFLINE = ("check", "owners", "rules", "ci", "hook", "report", "setup")
SERVER_EXTRA_HINT = "pip install 'ghapp[server]'"
EXIT_BROKEN_PIPE = 141


class UsageError(GhappError):
    """Bad command-line input."""


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    missing: list[str] = []
    parser = build_parser(with_extensions=_needs_extensions(args_list), missing=missing)
    command = _command_of(args_list)
    if missing and command is not None and command not in _subcommands(parser):
        print(
            f"ghapp: {command!r} is not a command of this install (it has {', '.join(OFFLINE)}); "
            f"the app's commands (serve, worker, ...) need the server extra: "
            f"{SERVER_EXTRA_HINT}",
            file=sys.stderr,
        )
        return 2
    args = parser.parse_args(args_list)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    from ghapp.masking import mask

    try:
        status = int(args.run(args) or 0)
        sys.stdout.flush()  # here, so a closed pipe is caught below and not at interpreter exit
        return status
    except GhappError as exc:
        print(f"ghapp: error: {mask(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (`| head`): nothing more to say
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except Exception as exc:  # a bug or an exhausted resource: one masked line, never a traceback
        detail = " ".join(f"{type(exc).__name__}: {exc}".rstrip(": ").split())[:1000]
        print(f"ghapp: error: unexpected {mask(detail)}", file=sys.stderr)
        return 2


def _silence_stdout() -> None:
    """Point stdout at /dev/null: the interpreter flushes it at exit, and a flush into the
    closed pipe would print a second BrokenPipeError."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout replaced by an object without a descriptor
        pass


def build_parser(
    *, with_extensions: bool = True, missing: list[str] | None = None
) -> argparse.ArgumentParser:
    """The `ghapp` parser; extension modules whose dependencies are not installed are skipped
    and the missing module's name appended to `missing`."""
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
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if missing is None or (exc.name or "ghapp").split(".")[0] == "ghapp":
                    raise
                missing.append(exc.name or name)
                continue
            module.add_commands(sub)
    if missing:
        parser.epilog = f"The app's commands (serve, worker, ...) need: {SERVER_EXTRA_HINT}"
    return parser


def _command_of(argv: list[str]) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


def _needs_extensions(argv: list[str]) -> bool:
    # Offline commands and `--version` skip importing the server stack (githubkit, starlette,
    # sqlalchemy): it is most of the start-up time, and absent from the light install.
    command = _command_of(argv)
    if command is None:
        return not argv or any(a in ("-h", "--help") for a in argv)
    return command not in OFFLINE


def _subcommands(parser: argparse.ArgumentParser) -> set[str]:
    return {
        name
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for name in action.choices
    }


def load_directory(path: Path) -> Any:
    """A StaticDirectory from `{users: [...], teams: [...], emails: [...], write: [...]}`, where
    `teams` may also map each team to `{members: [...]}` and `emails` each email to a login."""
    from ghapp.core.ownership.directory import StaticDirectory
    from ghapp.core.yamlnodes import YamlError, load_document

    try:
        data = load_document(read_file(path)) or {}
    except YamlError as exc:
        where = f" (line {exc.line})" if exc.line else ""
        raise UsageError(f"{path}: invalid YAML/JSON{where}: {exc}") from None
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
    if not isinstance(value, list) or any(isinstance(x, dict | list) for x in value):
        raise UsageError(f"{path}: `{key}` must be a list of names")
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

"""Comment commands: finding `/command ...` lines in a pull-request comment and parsing them.

Theory of operation. A comment is Markdown written by people, so most of it is not for us.
`parse_comment(body)` first drops what a reader would not take as an instruction: fenced
code blocks (``` or ~~~), block quotes (`>`, as in a quoted reply) and lines
indented four or more spaces (indented code). Every remaining line whose first word is
`/name` (a slash, then a lower-case word, then a space or the end of the line) is one command;
several lines give several commands. `/services/foo` is not a command: the word must end at a
space. A command in inline code (`` `/help` ``) or mid-sentence does not start its line, so it
is prose. The rest of the line is split like a shell would (quotes group words), then checked
against the command's spec in `COMMANDS`. A line that does not fit becomes a `Malformed` that
carries the usage of the nearest known command (difflib), so the reply can say what was meant.
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType


@dataclass(frozen=True)
class CommandSpec:
    """What one command accepts: positional words (min/max), `--options` with values, flags."""

    name: str
    usage: str
    summary: str
    min_args: int = 0
    max_args: int | None = 0
    options: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()


COMMANDS: Mapping[str, CommandSpec] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            CommandSpec(
                "claim-ownership",
                "/claim-ownership [PATH-OR-SERVICE ...] [@org/team]",
                "open a pull request that makes a team the owner (default: the suggested "
                "team you are in, else your team; the unowned files of this PR)",
                max_args=None,
            ),
            CommandSpec(
                "owners",
                "/owners [suggest] [PATH ...]",
                "show who owns the paths (default: the changed files) and which rule decided; "
                "with `suggest`, who should own the ones nobody owns, and why",
                max_args=None,
            ),
            CommandSpec("recheck", "/recheck", "evaluate this pull request again"),
            CommandSpec(
                "waive",
                '/waive RULE [PATH-OR-SERVICE] --until YYYY-MM-DD --reason "..." [--standing]',
                "waive a finding for this PR (or, with --standing, open a config PR)",
                min_args=1,
                max_args=2,
                options=("until", "reason"),
                flags=("standing",),
            ),
            CommandSpec("help", "/help", "list the commands"),
        )
    }
)

MAX_LINE = 1000  # longer lines are not commands anyone typed; refuse rather than tokenise
_COMMAND_RE = re.compile(r"^/([a-z][a-z0-9-]*)(?=\s|$)(.*)$")
_FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN_RE = re.compile(r"`([^`]*)`")
_TEAM_RE = re.compile(r"^@[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_RULE_RE = re.compile(r"^[a-z0-9][a-z0-9-]*(?:/[a-z0-9][a-z0-9-]*)*/?$")


@dataclass(frozen=True)
class Command:
    """One parsed command: `line` is the 1-based line of the comment it came from."""

    name: str
    args: tuple[str, ...] = ()
    options: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    flags: frozenset[str] = frozenset()
    line: int = 1
    text: str = ""


@dataclass(frozen=True)
class Malformed:
    """A line that looked like a command but is not a valid one, and what was probably meant."""

    text: str
    reason: str
    suggestion: str | None  # nearest command name, None when nothing is close
    line: int = 1

    @property
    def usage(self) -> str:
        """The usage line of the nearest command, or the whole help when nothing is close."""
        return COMMANDS[self.suggestion].usage if self.suggestion else help_text()


@dataclass(frozen=True)
class ClaimArgs:
    """`/claim-ownership` split into targets (paths or service names) and an optional team."""

    targets: tuple[str, ...]
    team: str | None


@dataclass(frozen=True)
class WaiveArgs:
    """`/waive` arguments, validated."""

    rule: str
    target: str | None
    until: date
    reason: str
    standing: bool


def parse_comment(body: str | None) -> tuple[Command | Malformed, ...]:
    """Every command in a comment body, in order (code, quotes and prose ignored)."""
    out: list[Command | Malformed] = []
    for number, line in _instruction_lines(body or ""):
        match = _COMMAND_RE.match(line.strip())
        if match is not None:
            out.append(parse_line(match.group(1), match.group(2), number, line.strip()))
    return tuple(out)


def parse_line(name: str, rest: str, number: int = 1, text: str = "") -> Command | Malformed:
    """Parse one command line (`name` without the slash, `rest` the words after it)."""
    text = text or f"/{name}{rest}"
    spec = COMMANDS.get(name)
    if spec is None:
        return Malformed(text, f"unknown command /{name}", nearest_command(name), number)
    if len(text) > MAX_LINE:
        return Malformed(
            text[:80] + "…", f"command longer than {MAX_LINE} characters", name, number
        )
    try:
        # Backticks around an argument (/owners `a b.py`) are Markdown quoting, not the path.
        words = shlex.split(_CODE_SPAN_RE.sub(lambda m: shlex.quote(m.group(1)), rest))
    except ValueError as exc:  # an unclosed quote
        return Malformed(text, f"cannot split the arguments: {exc}", name, number)
    args: list[str] = []
    options: dict[str, str] = {}
    flags: set[str] = set()
    i = 0
    while i < len(words):
        word = words[i]
        key = word[2:].split("=", 1)[0] if word.startswith("--") else None
        if key is None:
            args.append(word)
        elif key in spec.flags and "=" not in word:
            flags.add(key)
        elif key in spec.options:
            if "=" in word:
                options[key] = word.split("=", 1)[1]
            elif i + 1 < len(words):
                i += 1
                options[key] = words[i]
            else:
                return Malformed(text, f"--{key} needs a value", name, number)
        else:
            return Malformed(text, f"unknown option {word}", name, number)
        i += 1
    if len(args) < spec.min_args or (spec.max_args is not None and len(args) > spec.max_args):
        return Malformed(text, "wrong number of arguments", name, number)
    return Command(name, tuple(args), MappingProxyType(options), frozenset(flags), number, text)


def claim_args(command: Command) -> ClaimArgs | Malformed:
    """Split `/claim-ownership` words: `@org/team` is the team (at most one), the rest targets."""
    teams = [a for a in command.args if a.startswith("@")]
    targets = tuple(a.strip("/") or "/" for a in command.args if not a.startswith("@"))
    bad = [t for t in teams if not _TEAM_RE.match(t)]
    if bad:
        return _malformed(command, f"{bad[0]} is not a team (write @org/team)")
    if len(teams) > 1:
        return _malformed(command, "name one team only")
    return ClaimArgs(targets, teams[0] if teams else None)


def waive_args(command: Command) -> WaiveArgs | Malformed:
    """Validate `/waive`: a rule id, an ISO date in `--until`, a non-empty `--reason`."""
    rule = command.args[0]
    if not _RULE_RE.match(rule):
        return _malformed(command, f"{rule!r} is not a rule id (for example scan/missing-sast)")
    until_text = command.options.get("until")
    reason = command.options.get("reason", "").strip()
    if until_text is None or not reason:
        return _malformed(command, "--until and --reason are required")
    try:
        until = date.fromisoformat(until_text)
    except ValueError:
        return _malformed(command, f"--until {until_text!r} is not a date (YYYY-MM-DD)")
    target = command.args[1].strip("/") if len(command.args) > 1 else None
    return WaiveArgs(rule, target or None, until, reason, "standing" in command.flags)


def nearest_command(word: str) -> str | None:
    """The known command closest to `word` (difflib), None when nothing is close."""
    close = difflib.get_close_matches(word.lower(), list(COMMANDS), n=1, cutoff=0.5)
    if close:
        return close[0]
    # Prefixes people type: /claim, /waiver, /own.
    prefixed = [name for name in COMMANDS if name.startswith(word) or word.startswith(name)]
    return prefixed[0] if word and prefixed else None


def help_text() -> str:
    """One line per command: usage and what it does (Markdown)."""
    return "\n".join(f"- `{s.usage}`: {s.summary}" for s in COMMANDS.values())


def _malformed(command: Command, reason: str) -> Malformed:
    return Malformed(command.text, reason, command.name, command.line)


def _instruction_lines(body: str) -> list[tuple[int, str]]:
    """(line number, text) of the lines outside code blocks and quotes."""
    out: list[tuple[int, str]] = []
    fence: str | None = None
    for number, raw in enumerate(body.replace("\r\n", "\n").split("\n"), start=1):
        opener = _FENCE_RE.match(raw)
        if fence is not None:
            if opener and opener.group(1)[0] == fence[0] and len(opener.group(1)) >= len(fence):
                fence = None
            continue
        if opener:
            fence = opener.group(1)
            continue
        expanded = raw.expandtabs(4)
        if expanded.lstrip().startswith(">") or len(expanded) - len(expanded.lstrip()) >= 4:
            continue
        out.append((number, raw))
    return out

"""Just enough of GNU make to see what `make TARGET` runs: variables, rules, recipes, includes.

`read_makefile` parses a Makefile (and the files it `include`s) into targets with their
prerequisites and recipe lines, each line kept with its file and line number. `expand` expands
`$(VAR)`, `${VAR}`, `$@`, `$<`, `$^`, `$$` and the path functions (`abspath`, `notdir`, `shell
which`); what cannot be known statically (`$(shell …)`, `$(foreach …)`) expands to nothing, so a
command hidden behind it is not recognised (never the other way round). Conditionals are read as
if every branch applied, the last assignment winning, like a reader skimming the file.

A Makefile comes from the pull request, and its variables can multiply (`A = $(B) $(B)`,
`B = $(C) $(C)`, ...: a "billion laughs" in make), so expansion has a budget: one expansion
yields at most `MAX_EXPANDED` characters, and one Makefile (with its includes) follows at most
`MAX_EXPANSION_STEPS` references in all; past either, the rest expands to nothing.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

MAX_EXPANSION = 20  # nesting of variable references; deeper is self-reference or junk
MAX_EXPANDED = 100_000  # characters one expansion yields
MAX_EXPANSION_STEPS = 1_000_000  # references and escapes one Makefile expands, in all
MAX_INCLUDES = 20
_ASSIGN = re.compile(
    r"^(?:(?:export|override|private)\s+)*([A-Za-z0-9_.\-]+)\s*(:::=|::?=|\?=|\+=|!=|=)\s*(.*)$"
)
_RULE = re.compile(r"^([^:=#\t][^:=#]*?)\s*(::?)(?!=)\s*(.*)$")
_INCLUDE = re.compile(r"^-?(?:include|sinclude)\s+(.+)$")
_DIRECTIVE = re.compile(r"^(ifeq|ifneq|ifdef|ifndef|else|endif|export|unexport|vpath)(\s|$)")
_PATH_FUNCTIONS = frozenset({"abspath", "realpath", "strip", "firstword", "lastword"})
_SHELL_WHICH = re.compile(r"^shell\s+(?:which|command\s+-v)\s+(\S+)")


class Work:
    """The references a Makefile may still expand (shared by all its expansions)."""

    def __init__(self, steps: int = MAX_EXPANSION_STEPS) -> None:
        self.steps = steps

    def spend(self) -> bool:
        self.steps -= 1
        return self.steps >= 0


@dataclass(frozen=True)
class RecipeLine:
    """One recipe line (continuations included, leading tab removed) and where it is."""

    path: str
    line: int
    text: str


@dataclass(frozen=True)
class Rule:
    prerequisites: tuple[str, ...] = ()
    recipe: tuple[RecipeLine, ...] = ()


@dataclass(frozen=True)
class Makefile:
    """A parsed Makefile: its variables (unexpanded), rules by target, and the default goal."""

    path: str
    variables: Mapping[str, str] = field(default_factory=dict)
    rules: Mapping[str, Rule] = field(default_factory=dict)
    default_goal: str | None = None
    work: Work = field(default_factory=Work, compare=False, repr=False)

    def expand(self, text: str, auto: Mapping[str, str] | None = None) -> str:
        return expand(text, self.variables, auto or {}, work=self.work)

    def overridden(self, overrides: Mapping[str, str]) -> Makefile:
        """The same Makefile run as `make VAR=value …` (command-line values win)."""
        if not overrides:
            return self
        return replace(self, variables={**self.variables, **overrides})

    @property
    def shell_flags(self) -> str:
        return self.expand(self.variables.get(".SHELLFLAGS", ""))


def read_makefile(path: str, read: Callable[[str], str | None]) -> Makefile | None:
    """Parse the Makefile at `path` (None when absent); `read(path)` returns a file's text.
    Command-line `VAR=value` assignments are applied afterwards (`Makefile.overridden`): they
    change what recipes expand to, not which targets exist."""
    text = read(path)
    if text is None:
        return None
    variables: dict[str, str] = {"MAKE": "make"}
    pending: list[tuple[str, int, str, list[RecipeLine]]] = []  # (rule text, line, path, recipe)
    work = Work()
    _parse(path, text, read, variables, pending, {path}, work)
    rules: dict[str, Rule] = {}
    default: str | None = None
    for rule_text, number, where, recipe in pending:
        m = _RULE.match(rule_text)
        if m is None:
            continue
        targets = expand(m.group(1), variables, {}, work=work).split()
        rest, _, inline = m.group(3).partition(";")
        if "=" in rest:
            continue  # a target-specific variable, not prerequisites
        prereqs = tuple(p for p in expand(rest, variables, {}, work=work).split() if p != "|")
        for target in targets:
            if "%" in target:
                continue
            old = rules.get(target, Rule())
            lines = tuple(recipe)
            if inline.strip():
                lines = (RecipeLine(where, number, inline.strip()), *lines)
            rules[target] = Rule(old.prerequisites + prereqs, old.recipe + lines)
            if default is None and not target.startswith("."):
                default = target
    goal = expand(variables.get(".DEFAULT_GOAL", ""), variables, {}, work=work).strip() or default
    return Makefile(path, variables, rules, goal, work)


def _parse(
    path: str,
    text: str,
    read: Callable[[str], str | None],
    variables: dict[str, str],
    pending: list[tuple[str, int, str, list[RecipeLine]]],
    seen: set[str],
    work: Work,
) -> None:
    lines = text.split("\n")
    i = 0
    in_define = False
    recipe: list[RecipeLine] | None = None
    while i < len(lines):
        number = i + 1
        raw = lines[i]
        i += 1
        if recipe is not None and raw.startswith("\t"):
            body = raw[1:]
            while body.endswith("\\") and i < len(lines):
                nxt = lines[i]
                body += "\n" + (nxt[1:] if nxt.startswith("\t") else nxt)
                i += 1
            recipe.append(RecipeLine(path, number, body))
            continue
        logical = raw
        while logical.endswith("\\") and i < len(lines):
            logical = logical[:-1] + " " + lines[i].strip()
            i += 1
        stripped = logical.split("#", 1)[0].strip() if "#" in logical else logical.strip()
        if in_define:
            in_define = stripped != "endef"
            continue
        if not stripped:
            continue  # blank lines and comments do not end a recipe
        recipe = None
        if re.match(r"^(?:(?:export|override)\s+)?define\s", stripped):
            in_define = True
        elif (m := _INCLUDE.match(stripped)) is not None:
            _include(m.group(1), path, read, variables, pending, seen, work)
        elif (m := _ASSIGN.match(stripped)) is not None:
            _assign(variables, m.group(1), m.group(2), m.group(3), work)
        elif _DIRECTIVE.match(stripped):
            continue
        elif _RULE.match(stripped):
            recipe = []
            pending.append((stripped, number, path, recipe))


def _assign(variables: dict[str, str], name: str, op: str, value: str, work: Work) -> None:
    if op == "?=":
        variables.setdefault(name, value)
    elif op == "+=":
        variables[name] = f"{variables[name]} {value}" if name in variables else value
    elif op == "!=":
        variables[name] = ""  # the output of a shell command: unknown
    elif op in (":=", "::=", ":::="):
        variables[name] = expand(value, variables, {}, work=work).replace("$", "$$")
    else:
        variables[name] = value


def _include(
    names: str,
    path: str,
    read: Callable[[str], str | None],
    variables: dict[str, str],
    pending: list[tuple[str, int, str, list[RecipeLine]]],
    seen: set[str],
    work: Work,
) -> None:
    base = posixpath.dirname(path)
    for name in expand(names, variables, {}, work=work).split():
        if "*" in name or "?" in name or name.startswith("/") or len(seen) >= MAX_INCLUDES:
            continue
        target = posixpath.normpath(posixpath.join(base, name))
        if target in seen or target.startswith(".."):
            continue
        seen.add(target)
        text = read(target)
        if text is not None:
            _parse(target, text, read, variables, pending, seen, work)


def expand(
    text: str,
    variables: Mapping[str, str],
    auto: Mapping[str, str],
    depth: int = 0,
    work: Work | None = None,
) -> str:
    """Expand make references in `text` (see the module docstring for what is known)."""
    if "$" not in text:
        return text
    if depth > MAX_EXPANSION:
        return ""  # a variable that refers to itself: make refuses it, we read nothing
    work = work if work is not None else Work()
    out: list[str] = []
    size = 0
    i = 0
    while i < len(text) and size <= MAX_EXPANDED:
        dollar = text.find("$", i)
        if dollar < 0 or dollar + 1 >= len(text):
            out.append(text[i:])
            break
        out.append(text[i:dollar])
        size += dollar - i
        i = dollar
        if not work.spend():
            break
        nxt = text[i + 1]
        if nxt == "$":
            piece = "$"
            i += 2
        elif nxt in "({":
            end = _closing(text, i + 1)
            if end < 0:
                out.append(text[i:])
                break
            piece = _reference(text[i + 2 : end], variables, auto, depth, work)
            i = end + 1
        else:
            piece = _lookup(nxt, variables, auto, depth, work)
            i += 2
        out.append(piece)
        size += len(piece)
    return "".join(out)[:MAX_EXPANDED]


def _closing(text: str, start: int) -> int:
    opening = text[start]
    closing = ")" if opening == "(" else "}"
    level = 0
    for j in range(start, len(text)):
        if text[j] == opening:
            level += 1
        elif text[j] == closing:
            level -= 1
            if level == 0:
                return j
    return -1


def _reference(
    inner: str, variables: Mapping[str, str], auto: Mapping[str, str], depth: int, work: Work
) -> str:
    m = _SHELL_WHICH.match(inner)
    if m is not None:
        return m.group(1)
    head, _, arg = inner.partition(" ")
    if arg and head in _PATH_FUNCTIONS:
        words = expand(arg, variables, auto, depth + 1, work).split()
        if head == "firstword":
            return words[0] if words else ""
        if head == "lastword":
            return words[-1] if words else ""
        return " ".join(words)
    if arg and head == "notdir":
        return " ".join(
            w.rsplit("/", 1)[-1] for w in expand(arg, variables, auto, depth + 1, work).split()
        )
    if arg or (":" in inner and "=" in inner):
        return ""  # another function, or a substitution reference: not known statically
    return _lookup(expand(inner, variables, auto, depth + 1, work), variables, auto, depth, work)


def _lookup(
    name: str, variables: Mapping[str, str], auto: Mapping[str, str], depth: int, work: Work
) -> str:
    if name in auto:
        return auto[name]
    return expand(variables.get(name, ""), variables, auto, depth + 1, work)

"""The shell around a command: how a script splits into commands, which wrappers hide the real
command, and whether a failing command still fails the script.

Three kinds of script are read the same way, with different defaults: a `run:` step (GitHub runs
bash with `-e` and, for `shell: bash`, `-o pipefail`), a repository script (no `-e` unless it says
`set -e` or its shebang does), and a Makefile recipe line (`sh -c`, no `-e`; make checks the exit
status of each line). A command's failure is lost when `|| …` swallows it, when it is piped
without pipefail, sent to the background, negated, used as a condition, followed by `&& …` (bash
does not apply `-e` to a command inside an `&&` list), or, without `-e`, not the last command.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ghapp.core.workflows.expressions import expression_spans

_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
PIPEFAIL = re.compile(r"set\s+(-[a-z]*o\s+pipefail|-o\s+pipefail)")
_ERREXIT_ON = re.compile(r"^set\s+(-[a-zA-Z]*e[a-zA-Z]*|-o\s+errexit)(\s|$)")
_ERREXIT_OFF = re.compile(r"^set\s+(\+[a-zA-Z]*e[a-zA-Z]*|\+o\s+errexit)(\s|$)")
_SHEBANG_ERREXIT = re.compile(r"^#!\S*(\s+\S*env\s+\S+)?\s+-[a-z]*e")
_STILL_FAILS = re.compile(r"^((then|do|else)\s+)?(exit\s+([1-9]|\$\?|\"?\$)|false|return\s+[1-9])")
_CAPTURE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=\$\?$")
_PASSES_ON = re.compile(r"^exit\s+\"?\$(\?|\{\?\})\"?$")  # `exit $?`, `exit "${?}"`
_PLAIN = re.compile(r"[^\n;&|'\"`\\#$()]+")
_UNQUOTED_RUN = re.compile(r"[^'\"]+")
_HEREDOC = re.compile(r"<<(-?)\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")
_PREFIXES = frozenset({"sudo", "time", "exec", "command", "then", "do", "else", "{", "(", "env"})
_DECLARES = frozenset({"export", "local", "readonly", "declare", "typeset"})
_CONDITIONS = frozenset({"if", "elif", "while", "until"})
_RUNNERS = {  # wrappers that run their argument as the command
    ("npx",): 1, ("pnpx",): 1, ("bunx",): 1, ("uvx",): 1, ("pipx", "run"): 2,
    ("poetry", "run"): 2, ("pipenv", "run"): 2, ("uv", "run"): 2, ("bundle", "exec"): 2,
    ("pnpm", "dlx"): 2, ("pnpm", "exec"): 2, ("yarn", "dlx"): 2, ("go", "run"): 2,
}  # fmt: skip


@dataclass(frozen=True)
class Shell:
    """How failures propagate in one script: `-e`, pipefail, and what to call it in messages."""

    errexit: bool = True
    pipefail: bool = False
    kind: str = "step"  # "step", "script", "recipe" or "package"


def step_shell(script: str, shell: str | None) -> Shell:
    """A `run:` step: bash `-e`; `shell: bash` adds pipefail, so does `set -o pipefail`."""
    return Shell(True, shell == "bash" or bool(PIPEFAIL.search(script)), "step")


def file_shell(script: str) -> Shell:
    """A repository script: `-e` only from its shebang (`set -e` is read as it runs)."""
    first = script.split("\n", 1)[0]
    return Shell(bool(_SHEBANG_ERREXIT.match(first)), bool(PIPEFAIL.search(script)), "script")


def split_script(script: str) -> list[tuple[str, int, str]]:
    """Shell commands of a script: (text, 0-based line, operator after it).

    Quotes, `$(...)`, comments, here-documents and line continuations are honoured; `${{ }}`
    expressions are blanked first because GitHub substitutes them before the shell sees the script.
    """
    text = _blank_heredocs(_blank_expressions(script))
    out: list[tuple[str, int, str]] = []
    buf: list[str] = []
    line = start = depth = 0
    quote: str | None = None
    blank = True  # nothing but whitespace in `buf` yet: the command starts on this line
    i = 0

    def flush(op: str) -> None:
        chunk = "".join(buf).strip()
        if chunk:
            out.append((chunk, start, op))
        buf.clear()

    while i < len(text):
        c = text[i]
        if blank and buf and not buf[-1].isspace():
            blank = False
        if blank:
            start = line
        plain = _PLAIN.match(text, i) if quote is None else None
        if plain is not None:  # a run of ordinary characters: take it whole
            buf.append(plain.group(0))
            i = plain.end()
            continue
        if c == "\n":
            line += 1
        if quote is not None:
            buf.append(c)
            if c == "\\" and quote == '"' and i + 1 < len(text):
                buf.append(text[i + 1])
                i += 1
            elif c == quote:
                quote = None
        elif c == "\\" and text.startswith("\n", i + 1):
            buf.append(" ")
            line += 1
            i += 1
        elif c in "'\"`":
            quote = c
            buf.append(c)
        elif c == "#" and (not buf or buf[-1][-1:].isspace()):
            end = text.find("\n", i)
            i = (len(text) if end < 0 else end) - 1
        elif text.startswith("$(", i):
            depth += 1
            buf.append("$(")
            i += 1
        elif c == ")" and depth:
            depth -= 1
            buf.append(c)
        elif depth:
            buf.append(c)
        elif c in "\n;":
            flush(";")
            blank = True
        elif text.startswith(("&&", "||"), i):
            flush(text[i : i + 2])
            blank = True
            i += 1
        elif c == "|" or (
            c == "&" and not text.startswith(">", i + 1) and not (buf and buf[-1].endswith(">"))
        ):
            flush(c)
            blank = True
        else:
            buf.append(c)
        i += 1
    flush(";")
    return out


def _blank_expressions(script: str) -> str:
    """Each `${{ }}` replaced by `EXPR` (keeping its line breaks), found in linear time."""
    parts, pos = [], 0
    for start, end in expression_spans(script):
        parts += [script[pos:start], "EXPR", "\n" * script.count("\n", start, end)]
        pos = end
    return "".join(parts) + script[pos:]


def _unquoted(line: str) -> str:
    """The line without its quoted parts (an unclosed quote runs to its end, as in the shell).
    A scan, not `re.sub`: a regex restarts at every `"` of an unclosed quote, quadratic time."""
    out: list[str] = []
    i = 0
    while i < len(line):
        plain = _UNQUOTED_RUN.match(line, i)
        if plain is not None:
            out.append(plain.group(0))
            i = plain.end()
        elif line[i] == "'":
            end = line.find("'", i + 1)
            i = len(line) if end < 0 else end + 1
        else:  # a double quote: backslash escapes the next character
            i += 1
            while i < len(line) and line[i] != '"':
                i += 2 if line[i] == "\\" else 1
            i += 1
    return "".join(out)


def _blank_heredocs(text: str) -> str:
    """Here-document bodies are data, not commands: blank them (keeping the line count)."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = _HEREDOC.search(_unquoted(lines[i].replace("<<<", "   ")))
        i += 1
        if m is None:
            continue
        strip_tabs, delimiter = m.group(1) == "-", m.group(3)
        while i < len(lines):
            body = lines[i].lstrip("\t") if strip_tabs else lines[i]
            lines[i] = ""
            i += 1
            if body == delimiter:
                break
    return "\n".join(lines)


def shell_words(text: str) -> list[str]:
    """A command's words: whitespace outside quotes, `$(…)`, `${…}` and backticks splits."""
    words: list[str] = []
    current: list[str] = []
    closers: list[str] = []  # what closes each open quote or substitution, innermost last
    i = 0
    while i < len(text):
        c = text[i]
        if closers and c == closers[-1]:
            closers.pop()
        elif closers and closers[-1] == "'":
            pass
        elif text.startswith(("$(", "${"), i):
            closers.append(")" if text[i + 1] == "(" else "}")
            current.append(text[i])
            i += 1
            c = text[i]
        elif c in "'\"`":
            closers.append(c)
        elif c == "\\" and i + 1 < len(text):
            current.append(c)
            i += 1
            c = text[i]
        elif c.isspace() and not closers:
            if current:
                words.append("".join(current))
                current = []
            i += 1
            continue
        current.append(c)
        i += 1
    if current:
        words.append("".join(current))
    return words


def command_words(words: Sequence[str]) -> tuple[list[str] | None, str | None]:
    """Strip wrappers (sudo, env, npx, `python -m`, assignments); note negation or use as a
    condition. None when nothing is left (a bare assignment)."""
    why = None
    i = 0
    while i < len(words):
        word = words[i]
        if word == "!":
            why = "the command is negated with `!`"
        elif word in _CONDITIONS:
            why = f"the command is an `{word}` condition"
        elif (
            word in _PREFIXES
            or _ASSIGNMENT.match(word)
            or (i and words[i - 1] == "sudo" and word.startswith("-"))
        ):
            pass
        elif re.fullmatch(r"python[0-9.]*", word) and words[i + 1 : i + 2] == ["-m"]:
            i += 1
        else:
            runner = next((n for k, n in _RUNNERS.items() if tuple(words[i : i + len(k)]) == k), 0)
            if not runner:
                break
            i += runner
            while i < len(words) and words[i].startswith("-"):
                i += 1
            continue
        i += 1
    if i >= len(words):
        return None, why
    return list(words[i:]), why


def normalise(words: Sequence[str]) -> str:
    """A command as the catalog matches it: `./bin/trivy@v1 image x` -> `trivy image x`."""
    head = words[0].split("@", 1)[0] if "/" in words[0] else words[0]
    head = head.strip("'\"").rstrip("/").rsplit("/", 1)[-1]
    return " ".join([head, *words[1:]])


def assignments(words: Sequence[str]) -> Iterator[tuple[str, str]]:
    """`NAME=value` pairs of a command that only assigns (`export A=1 B=2`, `local C=3`)."""
    rest = list(words[1:]) if words and words[0] in _DECLARES else list(words)
    if rest and all(_ASSIGNMENT.match(w) for w in rest):
        for word in rest:
            name, _, value = word.partition("=")
            yield name, value.strip("'\"")


def errexit_after(words: Sequence[str], errexit: bool) -> bool:
    """`-e` after this command (`set -e`, `set -euo pipefail`, `set +e`)."""
    text = " ".join(words)
    if _ERREXIT_OFF.match(text):
        return False
    return True if _ERREXIT_ON.match(text) else errexit


def swallowed(
    commands: Sequence[tuple[str, int, str]], i: int, shell: Shell, errexit: bool
) -> str | None:
    """Why the failure of command `i` does not fail the script (None: it does)."""
    op = commands[i][2]
    if op == "|" and not shell.pipefail:
        return "its output is piped and the shell has no pipefail"
    if op == "&":
        return "it runs in the background (`&`)"
    j = i
    while commands[j][2] == "&&" and j + 1 < len(commands):
        j += 1  # a failure skips the rest of the `&&` chain
    if commands[j][2] == "||" and j + 1 < len(commands):
        rescue = commands[j + 1][0]
        if _STILL_FAILS.match(rescue):
            return None
        later = [c for c, _, _ in commands[j + 2 :]]
        if _CAPTURE.match(rescue) and any(_STILL_FAILS.match(c) for c in later):
            return None  # `|| rc=$?` and a later `exit 1`: the script checks it
        return f"`|| {rescue}` swallows its failure"
    if j == len(commands) - 1:
        return None  # the last command: its status is the script's
    if _PASSES_ON.match(commands[j + 1][0]):
        return None  # `scan; exit $?` (or `scan && x; exit $?`): its failure is the script's
    if errexit and j == i:
        return None
    if errexit:
        return "it is followed by `&& …`, so `set -e` does not stop the script when it fails"
    return {
        "step": "`set +e` is in force and it is not the last command",
        "script": "the script does not `set -e` and it is not its last command",
        "recipe": "it is not the last command of its Makefile recipe line",
        "package": "it is not the last command of its package.json script",
    }[shell.kind]

"""Recognise scanner tools in workflow steps, compiled once from the catalog (rules/scanners.yaml).

A `Detection` says which tool a step (or one command of a `run:` script) runs, which categories
it covers and whether a failure fails the step. Blocking is read from the tool's defaults, its
inputs and flags (`soft_fail: true`, `--exit-code 0`), and from the shell around a command
(`|| true`, a pipe without pipefail, `set +e`, a negation or an `if` condition). Step- and
job-level `continue-on-error` and triggers are the coverage model's business, not this one's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ghapp.core.errors import GhappError
from ghapp.core.workflows.expressions import expression_spans
from ghapp.core.workflows.parsing import Step

_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_PIPEFAIL = re.compile(r"set\s+(-[a-z]*o\s+pipefail|-o\s+pipefail)")
_STILL_FAILS = re.compile(r"^(exit\s+([1-9]|\$\?)|false|return\s+[1-9])")
_PREFIXES = frozenset({"sudo", "time", "exec", "command", "then", "do", "else", "{", "(", "env"})
_CONDITIONS = frozenset({"if", "elif", "while", "until"})
_RUNNERS = {  # wrappers that run their argument as the command
    ("npx",): 1, ("pnpx",): 1, ("bunx",): 1, ("uvx",): 1, ("pipx", "run"): 2,
    ("poetry", "run"): 2, ("pipenv", "run"): 2, ("uv", "run"): 2, ("bundle", "exec"): 2,
    ("pnpm", "dlx"): 2, ("pnpm", "exec"): 2, ("yarn", "dlx"): 2, ("go", "run"): 2,
}  # fmt: skip
_DOCKER_VALUE_OPTIONS = frozenset(
    [
        "-v",
        "--volume",
        "-e",
        "--env",
        "-w",
        "--workdir",
        "--entrypoint",
        "--name",
        "--network",
        "--net",
        "-u",
        "--user",
        "--platform",
        "--mount",
        "--env-file",
        "-p",
        "--publish",
        "--user",
        "--label",
        "-l",
        "--add-host",
    ]
)


@dataclass(frozen=True)
class Detection:
    """One recognised scan; `line_offset` is the 0-based script line of the command (0 for uses)."""

    tool: str
    categories: tuple[str, ...]
    blocking: bool
    why_not_blocking: str | None = None
    line_offset: int = 0
    soft_by_default: bool = (
        False  # the tool itself does not fail (nothing in the workflow to remove)
    )


@dataclass(frozen=True)
class _Matcher:
    tool: str
    spec: Mapping[str, Any]
    pattern: re.Pattern[str]
    blocking_flags: re.Pattern[str] | None
    nonblocking_flags: re.Pattern[str] | None

    def decide(self, text: str, inputs: Mapping[str, str]) -> Detection:
        """Categories and blocking for a use with these flags (text) and inputs."""
        spec = self.spec
        categories = tuple(spec["categories"])
        lowered = {k.lower(): v for k, v in inputs.items()}
        for name, values in spec.get("category_inputs", {}).items():
            value = _literal(lowered.get(name.lower()))
            if value is not None and (value in values or "*" in values):
                categories = tuple(values.get(value, values.get("*", ())))
        default = bool(spec.get("blocking", True))
        verdict: tuple[bool, str | None] | None = None  # set when a flag or an input decides
        if self.blocking_flags and self.blocking_flags.search(text):
            verdict = (True, None)
        if self.nonblocking_flags and (m := self.nonblocking_flags.search(text)):
            verdict = (False, f"`{m.group(0).strip()}`")
        for name, rule in spec.get("blocking_inputs", {}).items():
            value = _literal(lowered.get(name.lower()))
            if value is not None:
                verdict = _input_verdict(name, value, rule) or verdict
        if verdict is not None:
            return Detection(self.tool, categories, verdict[0], verdict[1])
        why = None if default else spec.get("note", f"{self.tool} exits 0 on findings by default")
        return Detection(self.tool, categories, default, why, soft_by_default=not default)


def _input_verdict(
    name: str, value: str, rule: Mapping[str, Any]
) -> tuple[bool, str | None] | None:
    """What one input's literal value says about blocking (None: it says nothing)."""
    if value in rule.get("nonblocking", ()) or any(
        part in value for part in rule.get("nonblocking_contains", ())
    ):
        return False, f"`{name}: {value}`"
    blocking = rule.get("blocking", ())
    if "*" in blocking or value in blocking:
        return True, None
    if any(part in value for part in rule.get("blocking_contains", ())):
        return True, None
    return None


@dataclass(frozen=True)
class ScannerCatalog:
    """The catalog's tools compiled into matchers for `uses:`, reusable workflows and `run:`."""

    names: Mapping[str, str]
    actions: tuple[_Matcher, ...]
    workflows: tuple[_Matcher, ...]
    commands: tuple[_Matcher, ...]
    images: Mapping[str, str]

    def match_step(self, step: Step) -> list[Detection]:
        """Every scan one step runs (an action, a docker:// image, or commands of its script)."""
        found: list[Detection] = []
        if step.uses and step.uses.startswith("docker://"):
            command = self._image_command(step.uses[len("docker://") :], _split_args(step))
            if command is not None:
                found.extend(self._match_command(command, 0))
        elif step.uses:
            matcher = _first_match(self.actions, _uses_name(step.uses))
            if matcher is not None:
                found.append(matcher.decide(" ".join(step.with_.values()), step.with_))
        if step.run:
            found.extend(self.match_script(step.run, step.shell))
        return found

    def match_workflow_call(self, uses: str, inputs: Mapping[str, str]) -> Detection | None:
        """The scan a remote reusable workflow performs, if the catalog knows it."""
        matcher = _first_match(self.workflows, _uses_name(uses))
        return None if matcher is None else matcher.decide(" ".join(inputs.values()), inputs)

    def match_script(self, script: str, shell: str | None = None) -> list[Detection]:
        """Scans among the commands of a `run:` script, with the shell's effect on blocking."""
        commands = split_script(script)
        pipefail = shell == "bash" or bool(_PIPEFAIL.search(script))
        errexit = True
        found: list[Detection] = []
        for i, (text, line, op) in enumerate(commands):
            words = text.split()
            if words[:2] in (["set", "+e"], ["set", "+o"]):
                errexit = False
            elif words[:2] == ["set", "-e"]:
                errexit = True
            normal, why = _normalise(words)
            if normal is None:
                continue
            tokens = normal.split()
            if tokens[0] in ("docker", "podman") and "run" in tokens[1:3]:
                normal = self._docker_run(tokens) or ""
            for det in self._match_command(normal, line):
                why = why or _shell_softens(commands, i, op, pipefail, errexit)
                found.append(det if why is None else _soften(det, why))
        return found

    def _match_command(self, normal: str, line: int) -> list[Detection]:
        matcher = _first_match(self.commands, normal)
        if matcher is None:
            return []
        det = matcher.decide(normal, {})
        return [replace(det, line_offset=line)]

    def _docker_run(self, tokens: list[str]) -> str | None:
        i = tokens.index("run") + 1
        while i < len(tokens) and tokens[i].startswith("-"):
            takes_value = tokens[i] in _DOCKER_VALUE_OPTIONS and "=" not in tokens[i]
            i += 2 if takes_value else 1
        if i >= len(tokens):
            return None
        return self._image_command(tokens[i], tokens[i + 1 :])

    def _image_command(self, image: str, args: Sequence[str]) -> str | None:
        command = self.images.get(normalise_image(image))
        if command is None:
            return None
        rest = list(args)
        if rest and rest[0].rsplit("/", 1)[-1] == command:
            rest = rest[1:]
        return " ".join([command, *rest])


def compile_catalog(tools: Sequence[Mapping[str, Any]]) -> ScannerCatalog:
    """Compile raw tool entries; cached on the identity of the `tools` tuple."""
    key = id(tools)
    cached = _CACHE.get(key)
    if cached is not None and cached[0] is tools:
        return cached[1]
    compiled = _compile(tools)
    if len(_CACHE) >= 4:
        _CACHE.clear()
    _CACHE[key] = (tools, compiled)
    return compiled


# Compiling the catalog costs milliseconds; evaluations run per webhook, so keep the last few.
_CACHE: dict[int, tuple[Sequence[Mapping[str, Any]], ScannerCatalog]] = {}


def _compile(tools: Sequence[Mapping[str, Any]]) -> ScannerCatalog:
    actions: list[tuple[int, _Matcher]] = []
    workflows: list[tuple[int, _Matcher]] = []
    commands: list[_Matcher] = []
    images: dict[str, str] = {}
    for tool in tools:
        tid = str(tool["id"])
        for kind, out in (("actions", actions), ("workflows", workflows)):
            for spec in tool.get(kind, ()):
                out.append(
                    (spec["uses"].count("*"), _matcher(tid, spec, _uses_regex(spec["uses"])))
                )
        for spec in tool.get("commands", ()):
            commands.append(_matcher(tid, spec, _regex(tid, spec["match"])))
        for spec in tool.get("images", ()):
            images[normalise_image(spec["image"])] = spec["command"]
    return ScannerCatalog(
        names={str(t["id"]): str(t["name"]) for t in tools},
        actions=tuple(m for _, m in sorted(actions, key=lambda x: x[0])),
        workflows=tuple(m for _, m in sorted(workflows, key=lambda x: x[0])),
        commands=tuple(commands),
        images=images,
    )


def _matcher(tool: str, spec: Mapping[str, Any], pattern: re.Pattern[str]) -> _Matcher:
    flags = (spec.get("blocking_flags"), spec.get("nonblocking_flags"))
    block, soft = (_regex(tool, f) if f else None for f in flags)
    return _Matcher(tool, spec, pattern, block, soft)


def _regex(tool: str, pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise GhappError(f"scanner catalog: tool {tool!r}: bad regex {pattern!r}: {exc}") from None


def _uses_regex(pattern: str) -> re.Pattern[str]:
    parts = (re.escape(p) if p != "*" else "[^/]+" for p in pattern.lower().split("/"))
    return re.compile("/".join(parts) + r"\Z")


def _first_match(matchers: Sequence[_Matcher], text: str) -> _Matcher | None:
    return next((m for m in matchers if m.pattern.match(text)), None)


def _uses_name(uses: str) -> str:
    """`Owner/Repo/path@ref` -> `owner/repo/path` (GitHub names are case-insensitive)."""
    return uses.split("@", 1)[0].strip().lower()


def normalise_image(image: str) -> str:
    """`docker.io/aquasec/trivy:0.50@sha256:...` -> `aquasec/trivy`."""
    name = image.strip().lower().split("@", 1)[0]
    head, _, last = name.rpartition("/")
    name = f"{head}/{last.split(':', 1)[0]}" if head else last.split(":", 1)[0]
    for registry in ("docker.io/", "index.docker.io/", "registry.hub.docker.com/"):
        name = name.removeprefix(registry)
    return name.removeprefix("library/")


def _literal(value: str | None) -> str | None:
    """An input's literal value, lowercased; None when absent or an expression (unknown)."""
    if value is None or "${{" in value:
        return None
    return value.strip().strip("'\"").lower()


def _split_args(step: Step) -> list[str]:
    args = step.with_.get("args") or ""
    return args.split()


def _blank_expressions(script: str) -> str:
    """Each `${{ }}` replaced by `EXPR` (keeping its line breaks)."""
    parts, pos = [], 0
    for start, end in expression_spans(script):
        parts += [script[pos:start], "EXPR", "\n" * script.count("\n", start, end)]
        pos = end
    return "".join(parts) + script[pos:]


def split_script(script: str) -> list[tuple[str, int, str]]:
    """Shell commands of a script: (text, 0-based line, operator after it).

    Quotes, `$(...)`, comments and line continuations are honoured; `${{ }}` expressions are
    blanked first because GitHub substitutes them before the shell sees the script.
    """
    text = _blank_expressions(script)
    out: list[tuple[str, int, str]] = []
    buf: list[str] = []
    line = start = depth = 0
    quote: str | None = None
    i = 0
    begun = False  # whether `buf` holds more than whitespace (kept, not recomputed: linear time)

    def flush(op: str) -> None:
        nonlocal begun
        chunk = "".join(buf).strip()
        if chunk:
            out.append((chunk, start, op))
        buf.clear()
        begun = False

    while i < len(text):
        c = text[i]
        if not begun:
            start = line
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
        elif c == "#" and (not buf or buf[-1].isspace()):
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
        elif text.startswith(("&&", "||"), i):
            flush(text[i : i + 2])
            i += 1
        elif c == "|" or (c == "&" and not text.startswith(">", i + 1) and buf[-1:] != [">"]):
            flush(c)
        else:
            buf.append(c)
        begun = begun or bool(buf and not buf[-1].isspace())
        i += 1
    flush(";")
    return out


def _normalise(words: list[str]) -> tuple[str | None, str | None]:
    """Strip wrappers (sudo, env, npx, python -m, paths); note negation or use as a condition."""
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
    head = words[i].split("@", 1)[0] if "/" in words[i] else words[i]
    head = head.rstrip("/").rsplit("/", 1)[-1]
    return " ".join([head, *words[i + 1 :]]), why


def _shell_softens(
    commands: Sequence[tuple[str, int, str]], i: int, op: str, pipefail: bool, errexit: bool
) -> str | None:
    if op == "||":
        after = commands[i + 1][0] if i + 1 < len(commands) else ""
        if not _STILL_FAILS.match(after):
            return f"`|| {after}` swallows its failure".replace("`|| ` ", "`||` ")
    if op == "|" and not pipefail:
        return "its output is piped and the shell has no pipefail"
    if op == "&":
        return "it runs in the background (`&`)"
    if not errexit and i != len(commands) - 1:
        return "`set +e` is in force and it is not the last command"
    return None


def _soften(det: Detection, why: str) -> Detection:
    return replace(det, blocking=False, why_not_blocking=why, soft_by_default=False)

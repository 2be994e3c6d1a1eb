"""Recognise scanner tools in workflow steps, compiled once from the catalog (rules/scanners.yaml).

A `Detection` says which tool a step (or one command of a `run:` script) runs, which categories
it covers and whether a failure fails the step. Categories are read from the tool's inputs and
flags (`scan-type: fs`, `--scanners vuln`, `--framework secrets`); blocking from its defaults,
inputs and flags (`soft_fail: true`, `--exit-code 0`) and from the shell around a command
(`|| true`, a pipe without pipefail, `set +e`, a negation or an `if` condition:
ghapp.core.workflows.shell). A command the catalog does not know can be handed to a `Follow`
hook (ghapp.core.workflows.delegation: `make`, repository scripts, package.json scripts).
Step- and job-level `continue-on-error` and triggers are the coverage model's business.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ghapp.core.errors import GhappError
from ghapp.core.workflows.parsing import Step
from ghapp.core.workflows.shell import (
    Shell,
    assignments,
    command_words,
    errexit_after,
    normalise,
    shell_words,
    split_script,
    step_shell,
    swallowed,
)

_ASKS_ONLY = re.compile(r"\S+(\s+(--?version|-v|-V|version|--?help|-h|help))+\s*")
_DOCKER_VALUE_OPTIONS = frozenset(
    ["-v", "--volume", "-e", "--env", "-w", "--workdir", "--entrypoint", "--name", "--network",
     "--net", "-u", "--user", "--platform", "--mount", "--env-file", "-p", "--publish",
     "--label", "-l", "--add-host"]
)  # fmt: skip


@dataclass(frozen=True)
class ConfigGate:
    """What a detection needs from the repository's files before it counts (catalog
    `config_gate`, resolved by ghapp.core.workflows.linters): a linter runs a scanner only when
    its config enables it (golangci-lint runs gosec)."""

    files: tuple[str, ...]  # config file names searched from the working directory upwards
    linter: str  # the scanner the config must enable (`gosec`)
    cwd: str  # repository-relative working directory of the command
    flags: str  # the command's words or the action's inputs, as one text


@dataclass(frozen=True)
class Detection:
    """One recognised scan; `line_offset` is the 0-based script line of the command (0 for uses).

    A scan found through `make` or a script keeps, in `path`/`line`, the file and line of the
    command that scans, and in `via` the files and lines that lead there (outermost first).
    """

    tool: str
    categories: tuple[str, ...]
    blocking: bool
    why_not_blocking: str | None = None
    line_offset: int = 0
    soft_by_default: bool = (
        False  # the tool itself does not fail (nothing in the workflow to remove)
    )
    path: str | None = None
    line: int | None = None
    via: tuple[tuple[str, int], ...] = ()
    why_at: tuple[str, int] | None = None  # the file and line whose shell swallows the failure
    gate: ConfigGate | None = None  # counts only once the repository's config says so


# A hook for commands the catalog does not know: (words, working directory) -> the scans they
# run elsewhere (a Makefile target, a script); see ghapp.core.workflows.delegation.
Follow = Callable[[Sequence[str], str], list[Detection]]


@dataclass(frozen=True)
class _Options:
    """An option (flag or input) whose values choose what the tool scans (catalog
    `category_options`)."""

    flag: re.Pattern[str] | None
    many: bool
    input: str | None
    default: tuple[str, ...]
    values: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...]

    def chosen(self, words: Sequence[str], inputs: Mapping[str, str]) -> tuple[str, ...]:
        """The option's values: from the input, else the flag, else the default."""
        given = _literal(inputs.get(self.input.lower())) if self.input else None
        if given is not None:
            return _items(given)
        found: list[str] = []
        if self.flag is not None:
            for i, word in enumerate(words):
                name, eq, value = word.partition("=")
                if not self.flag.fullmatch(name):
                    continue
                if eq:
                    found.extend(_items(value))
                    continue
                for follower in words[i + 1 : (None if self.many else i + 2)]:
                    if follower.startswith("-"):
                        break
                    found.extend(_items(follower))
        return tuple(found) or self.default

    def categories(self, chosen: Sequence[str]) -> set[str]:
        out: set[str] = set()
        for value in chosen:
            out.update(next((c for p, c in self.values if p.fullmatch(value)), ()))
        return out


@dataclass(frozen=True)
class _Matcher:
    tool: str
    spec: Mapping[str, Any]
    pattern: re.Pattern[str]
    blocking_flags: re.Pattern[str] | None
    nonblocking_flags: re.Pattern[str] | None
    options: _Options | None = None
    switches: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = ()

    def applies(self, inputs: Mapping[str, str]) -> bool:
        """Whether the entry's `when_inputs` hold for these inputs (literal values only)."""
        lowered = {k.lower(): v for k, v in inputs.items()}
        return all(
            _literal(lowered.get(name.lower())) in [v.lower() for v in allowed]
            for name, allowed in self.spec.get("when_inputs", {}).items()
        )

    def decide(self, text: str, inputs: Mapping[str, str]) -> Detection:
        """Categories and blocking for a use with these flags (text) and inputs."""
        spec = self.spec
        lowered = {k.lower(): v for k, v in inputs.items()}
        categories = self._categories(text, lowered)
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

    def _categories(self, text: str, lowered: Mapping[str, str]) -> tuple[str, ...]:
        declared = tuple(self.spec["categories"])
        categories = declared
        for name, values in self.spec.get("category_inputs", {}).items():
            value = _literal(lowered.get(name.lower()))
            if value is not None and (value in values or "*" in values):
                categories = tuple(values.get(value, values.get("*", ())))
        words = [w.strip("'\"") for w in text.split()]
        chosen: set[str] | None = None
        if self.options is not None:
            chosen = self.options.categories(self.options.chosen(words, lowered))
        switched = [c for p, c in self.switches if any(p.fullmatch(w) for w in words)]
        if switched:
            chosen = set().union(*switched)
        if chosen is None:
            return categories
        return tuple(c for c in declared if c in chosen) + tuple(sorted(chosen - set(declared)))


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
    any_command: re.Pattern[str]  # every command pattern at once: most commands match none

    def match_step(
        self, step: Step, follow: Follow | None = None, cwd: str = ""
    ) -> list[Detection]:
        """Every scan one step runs (an action, a docker:// image, or commands of its script)."""
        found: list[Detection] = []
        if step.uses and step.uses.startswith("docker://"):
            command = self._image_command(step.uses[len("docker://") :], _split_args(step))
            if command is not None:
                found.extend(self._match_command(command, 0))
        elif step.uses:
            matcher = _first_match(self.actions, _uses_name(step.uses), step.with_)
            if matcher is not None:
                det = matcher.decide(" ".join(step.with_.values()), step.with_)
                where = _literal(step.with_.get("working-directory"))
                here = _join(cwd, where) if where else cwd
                found.append(_gated(matcher, det, here, " ".join(step.with_.values())))
        if step.run:
            shell = step_shell(step.run, step.shell)
            found.extend(self.match_script(step.run, shell, follow=follow, cwd=cwd))
        return found

    def match_workflow_call(self, uses: str, inputs: Mapping[str, str]) -> Detection | None:
        """The scan a remote reusable workflow performs, if the catalog knows it."""
        matcher = _first_match(self.workflows, _uses_name(uses), inputs)
        return None if matcher is None else matcher.decide(" ".join(inputs.values()), inputs)

    def match_script(
        self,
        script: str,
        shell: Shell | str | None = None,
        *,
        follow: Follow | None = None,
        cwd: str = "",
    ) -> list[Detection]:
        """Scans among the commands of a script, with the shell's effect on blocking; `shell` is
        a `Shell` or a step's `shell:` value. `follow` resolves commands the catalog does not
        know; `cd`/`pushd` and simple assignments (`TRIVY=./bin/trivy`) are tracked for it."""
        mode = shell if isinstance(shell, Shell) else step_shell(script, shell)
        commands = split_script(script)
        errexit = mode.errexit
        variables: dict[str, str] = {}
        found: list[Detection] = []
        for i, (text, line, _) in enumerate(commands):
            words = shell_words(text)
            at_errexit = errexit
            errexit = errexit_after(words, errexit)
            variables.update(assignments(words))
            stripped, why = command_words(words)
            if stripped is None:
                continue
            stripped = _substitute_head(stripped, variables)
            if stripped[0] in ("cd", "pushd") and len(stripped) == 2:
                cwd = _join(cwd, stripped[1])
                continue
            normal = normalise(stripped)
            tokens = normal.split()
            if tokens[0] in ("docker", "podman") and "run" in tokens[1:3]:
                normal = self._docker_run(tokens) or ""
            hits = self._match_command(normal, line, cwd)
            if not hits and follow is not None:
                hits = [replace(d, line_offset=line) for d in follow(stripped, cwd)]
            for det in hits:
                why = why or swallowed(commands, i, mode, at_errexit)
                found.append(det if why is None else _soften(det, why))
        return found

    def _match_command(self, normal: str, line: int, cwd: str = "") -> list[Detection]:
        if _ASKS_ONLY.fullmatch(normal):
            return []  # `trivy --version`, `gitleaks help`: prints, scans nothing
        matcher = _first_match(self.commands, normal) if self.any_command.match(normal) else None
        if matcher is None:
            return []
        det = _gated(matcher, matcher.decide(normal, {}), cwd, normal)
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
        any_command=re.compile(
            "|".join(f"(?:{m.pattern.pattern})" for m in commands) or "(?!)", re.IGNORECASE
        ),
        images=images,
    )


def _matcher(tool: str, spec: Mapping[str, Any], pattern: re.Pattern[str]) -> _Matcher:
    flags = (spec.get("blocking_flags"), spec.get("nonblocking_flags"))
    block, soft = (_regex(tool, f) if f else None for f in flags)
    raw = spec.get("category_options")
    options = None
    if raw is not None:
        options = _Options(
            flag=_regex(tool, raw["flag"]) if "flag" in raw else None,
            many=bool(raw.get("many", False)),
            input=raw.get("input"),
            default=tuple(str(v).lower() for v in raw.get("default", ())),
            values=tuple((_regex(tool, k), tuple(v)) for k, v in raw["values"].items()),
        )
    switches = tuple(
        (_regex(tool, k), tuple(v)) for k, v in spec.get("category_switches", {}).items()
    )
    return _Matcher(tool, spec, pattern, block, soft, options, switches)


def _regex(tool: str, pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise GhappError(f"scanner catalog: tool {tool!r}: bad regex {pattern!r}: {exc}") from None


def _uses_regex(pattern: str) -> re.Pattern[str]:
    parts = (re.escape(p) if p != "*" else "[^/]+" for p in pattern.lower().split("/"))
    return re.compile("/".join(parts) + r"\Z")


def _first_match(
    matchers: Sequence[_Matcher], text: str, inputs: Mapping[str, str] | None = None
) -> _Matcher | None:
    return next((m for m in matchers if m.pattern.match(text) and m.applies(inputs or {})), None)


def _items(value: str) -> tuple[str, ...]:
    """An option value as a list: `vuln,secret` / `p/ci p/secrets` -> its items, lowercased."""
    return tuple(v for v in re.split(r"[\s,]+", value.strip("'\"").lower()) if v)


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


def _substitute_head(words: list[str], variables: Mapping[str, str]) -> list[str]:
    """`"${TRIVY}" image x` with `TRIVY=bin/trivy` assigned earlier -> `bin/trivy image x`."""
    head = words[0].strip("'\"")
    m = re.fullmatch(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", head)
    if m is None or m.group(1) not in variables:
        return words
    return [*variables[m.group(1)].split(), *words[1:]] or words


def _join(cwd: str, path: str) -> str:
    """`cd path` from `cwd`, repository-relative; an absolute or variable path leaves the root."""
    path = path.strip("'\"")
    if path.startswith(("/", "$", "~", "EXPR")):
        return ""
    parts = [p for p in f"{cwd}/{path}".split("/") if p and p != "."]
    out: list[str] = []
    for part in parts:
        if part == "..":
            if out:
                out.pop()
        else:
            out.append(part)
    return "/".join(out)


def _gated(matcher: _Matcher, det: Detection, cwd: str, text: str) -> Detection:
    """A detection that counts only once the repository's config enables the scanner (`text`:
    the command or the action's input values, for flags such as `--config` or `-E gosec`)."""
    spec = matcher.spec.get("config_gate")
    if not spec:
        return det
    return replace(det, gate=ConfigGate(tuple(spec["files"]), str(spec["linter"]), cwd, text))


def _soften(det: Detection, why: str) -> Detection:
    if det.path is not None and not det.blocking:
        return det  # found through a script that already swallows it: keep the innermost reason
    return replace(det, blocking=False, why_not_blocking=why, soft_by_default=False, why_at=None)

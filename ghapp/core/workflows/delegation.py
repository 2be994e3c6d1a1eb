"""Scans a workflow runs through `make`, scripts, package.json and local composite actions.

A workflow often scans indirectly: `run: make snyk-report` runs a Makefile recipe that calls
`./hack/snyk-report.sh`, which runs `snyk test`. `Follower.hook()` gives the scanner catalog a
`Follow` hook that resolves such a command inside the snapshot: a Makefile target (with its
prerequisites, `$(MAKE)` sub-makes and `-C`/`-f`), a shell script (run by path, through `bash`/
`sh`, or `source`d), a package.json script (`npm run x`, `npm test`, `yarn x`, `pnpm x`);
`Follower.action()` reads a local composite action (`uses: ./.github/actions/scan`). The
commands found there are matched in turn, several levels deep (a level already on the chain, or
`MAX_DEPTH` levels, stops it), and each scan is credited to the file and line that runs it. The
levels fan out (a target with 20 prerequisites of 20 prerequisites ...), so one `Follower`
enters at most `MAX_VISITS` of them in all; past that nothing more is followed (fail closed).
Failure follows each level's rules (ghapp.core.workflows.shell): a script without `set -e` fails
only by its last command, make checks each recipe line and ignores one prefixed with `-`.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Sequence
from dataclasses import replace

from ghapp.core.snapshot import Snapshot, read_text
from ghapp.core.workflows.makefiles import Makefile, read_makefile
from ghapp.core.workflows.parsing import parse_composite_action, script_line
from ghapp.core.workflows.scanners import Detection, Follow, ScannerCatalog
from ghapp.core.workflows.shell import PIPEFAIL, Shell, file_shell

MAX_DEPTH = 8
MAX_VISITS = 20_000  # levels (targets, scripts, actions) one Follower enters, in all
_Key = tuple[str, str, str]  # (kind, file, target or script name): one level of the chain
_SHELLS = frozenset({"bash", "sh", "zsh", "dash", "ksh"})
_SHELL_SHEBANG = re.compile(r"^#!\s*\S*(/|env\s+)(ba|z|da|k)?sh(\s|$)")
_WRAPPERS = frozenset({"gradlew", "mvnw"})  # build tool launchers: large, and never a scan
_MAKEFILES = ("GNUmakefile", "makefile", "Makefile")
_MAKE_VALUE_OPTIONS = frozenset({"-j", "-l", "-o", "-W", "-I", "--jobs", "--load-average"})
_NPM_RUN = frozenset({"run", "run-script", "rum", "urn"})
_NPM_ALIASES = {"test": "test", "t": "test", "tst": "test", "start": "start", "stop": "stop"}
_PM_BUILTINS = frozenset(
    [
        "add",
        "audit",
        "bin",
        "cache",
        "config",
        "create",
        "dedupe",
        "dlx",
        "exec",
        "explain",
        "global",
        "help",
        "import",
        "info",
        "init",
        "install",
        "i",
        "link",
        "list",
        "ls",
        "login",
        "logout",
        "npm",
        "outdated",
        "owner",
        "pack",
        "patch",
        "plugin",
        "publish",
        "rebuild",
        "remove",
        "rm",
        "search",
        "set",
        "tag",
        "unlink",
        "unplug",
        "up",
        "update",
        "upgrade",
        "version",
        "why",
        "workspace",
        "workspaces",
        "node",
        "licenses",
        "policies",
        "team",
        "check",
        "autoclean",
        "import",
        "store",
        "env",
    ]
)


class Follower:
    """Resolves delegating commands within one snapshot (files read once, parsed once)."""

    def __init__(self, snapshot: Snapshot, catalog: ScannerCatalog) -> None:
        self._snapshot = snapshot
        self._catalog = catalog
        self._paths = frozenset(snapshot.paths())
        self._texts: dict[str, str | None] = {}
        self._makefiles: dict[str, Makefile | None] = {}
        self._visits = MAX_VISITS

    def _visit(self) -> bool:
        """Whether one more level may be entered (see MAX_VISITS)."""
        self._visits -= 1
        return self._visits >= 0

    def hook(self, chain: tuple[_Key, ...] = ()) -> Follow:
        """The hook for commands of a script reached through `chain`."""

        def follow(words: Sequence[str], cwd: str) -> list[Detection]:
            if len(chain) >= MAX_DEPTH:
                return []
            return self._follow([w.strip("'\"") for w in words], cwd, chain)

        return follow

    def action(self, uses: str, chain: tuple[_Key, ...] = ()) -> list[Detection]:
        """The scans of a local composite action (`uses: ./path`), nested ones included."""
        base = _normpath(uses[2:].split("@", 1)[0].rstrip("/"))
        path = next(
            (
                p
                for n in ("action.yml", "action.yaml")
                if (p := _normpath(f"{base}/{n}")) in self._paths
            ),
            None,
        )
        key = ("action", path or "", "")
        text = self._read(path) if path else None
        if path is None or text is None or key in chain or len(chain) >= MAX_DEPTH:
            return []
        if not self._visit():
            return []
        action = parse_composite_action(path, text)
        if action is None or action.error is not None:
            return []
        inner = (*chain, key)
        found: list[Detection] = []
        for step in action.jobs[0].steps:
            hits = self._catalog.match_step(step, follow=self.hook(inner))
            for det in hits:
                line = step.uses_line or script_line(action.lines, step.run_line, det.line_offset)
                found.append(_locate(det, path, line or step.line))
            if step.uses and step.uses.startswith("./"):
                found.extend(
                    _locate(d, path, step.uses_line or step.line)
                    for d in self.action(step.uses, inner)
                )
        return found

    def _follow(self, words: list[str], cwd: str, chain: tuple[_Key, ...]) -> list[Detection]:
        head = words[0]
        name = head.rsplit("/", 1)[-1]
        if name in ("make", "gmake"):
            return self._make(words[1:], cwd, chain)
        if name in ("npm", "yarn", "pnpm", "bun") and "/" not in head:
            return self._package_script(name, words[1:], cwd, chain)
        if name in _SHELLS:
            return self._shell(words[1:], cwd, chain)
        if head in ("source", ".") and len(words) > 1:
            path = self._resolve(words[1], cwd)
            return [] if path is None else self._script(path, cwd, chain, None)
        if ("/" in head or head.endswith((".sh", ".bash"))) and name not in _WRAPPERS:
            path = self._resolve(head, cwd)
            if path is not None and self._is_shell_script(path):
                return self._script(path, cwd, chain, None)
        return []

    # --- shell scripts ----------------------------------------------------------------------

    def _shell(self, args: list[str], cwd: str, chain: tuple[_Key, ...]) -> list[Detection]:
        errexit = pipefail = False
        i = 0
        while i < len(args) and args[i].startswith(("-", "+")):
            option = args[i]
            if option == "-c":
                inline = " ".join(args[i + 1 :])
                shell = Shell(errexit, pipefail or bool(PIPEFAIL.search(inline)), "script")
                return self._catalog.match_script(inline, shell, follow=self.hook(chain), cwd=cwd)
            if option.startswith("-") and not option.startswith("--"):
                errexit = errexit or "e" in option
                if "o" in option and i + 1 < len(args):
                    pipefail = pipefail or args[i + 1] == "pipefail"
                    errexit = errexit or args[i + 1] == "errexit"
                    i += 1
            i += 1
        if i >= len(args):
            return []
        path = self._resolve(args[i], cwd, bare=True)
        return [] if path is None else self._script(path, cwd, chain, errexit or None)

    def _script(
        self, path: str, cwd: str, chain: tuple[_Key, ...], errexit: bool | None
    ) -> list[Detection]:
        key = ("script", path, "")
        text = self._read(path)
        if key in chain or text is None or not self._visit():
            return []
        shell = file_shell(text)
        if errexit:
            shell = replace(shell, errexit=True)
        found = self._catalog.match_script(text, shell, follow=self.hook((*chain, key)), cwd=cwd)
        return [_locate(d, path, 1 + d.line_offset) for d in found]

    def _is_shell_script(self, path: str) -> bool:
        text = self._read(path) or ""
        if text.startswith("#!"):
            return bool(_SHELL_SHEBANG.match(text))
        return path.endswith((".sh", ".bash"))

    def _resolve(self, word: str, cwd: str, bare: bool = False) -> str | None:
        """The repository file a script path names, from `cwd`; a leading variable (`$ROOT/`,
        `${{ github.workspace }}/`) is read as the repository root."""
        candidates: list[str] = []
        if re.search(r"\$|EXPR|\)", word):
            rest = re.split(r"[^/]*(\$|EXPR|\))[^/]*/", word)[-1]
            if "$" in rest or not rest:
                return None
            candidates = [rest, posixpath.join(cwd, rest)]
        elif not word.startswith("/") and ("/" in word or bare or word.endswith(".sh")):
            candidates = [posixpath.join(cwd, word)]
        for candidate in candidates:
            path = posixpath.normpath(candidate)
            if path in self._paths:
                return path
        return None

    # --- make -------------------------------------------------------------------------------

    def _make(self, args: list[str], cwd: str, chain: tuple[_Key, ...]) -> list[Detection]:
        directory, file, targets, overrides, ignore = "", "", [], {}, False
        i = 0
        while i < len(args):
            arg = args[i]
            value = args[i + 1] if i + 1 < len(args) else ""
            if arg in ("-C", "--directory", "-f", "--file", "--makefile"):
                if arg in ("-C", "--directory"):
                    directory = posixpath.join(directory, value)
                else:
                    file = value
                i += 1
            elif arg.startswith(("--directory=", "-C")) and arg != "-C":
                directory = posixpath.join(directory, arg.split("=", 1)[-1].removeprefix("-C"))
            elif arg.startswith(("--file=", "--makefile=")):
                file = arg.split("=", 1)[1]
            elif arg in ("-i", "--ignore-errors"):
                ignore = True
            elif arg in _MAKE_VALUE_OPTIONS and (value.isdigit() or arg in ("-o", "-W", "-I")):
                i += 1
            elif arg.startswith("-"):
                pass
            elif "=" in arg:
                name, _, val = arg.partition("=")
                overrides[name] = val
            else:
                targets.append(arg)
            i += 1
        where = _normpath(posixpath.join(cwd, directory))
        makefile = self._makefile(where, file, overrides)
        if makefile is None:
            return []
        found: list[Detection] = []
        for target in targets or [makefile.default_goal or ""]:
            found.extend(self._target(makefile, where, target, chain))
        if ignore:
            found = [_soften(d, "`make -i` ignores every recipe failure") for d in found]
        return found

    def _makefile(self, where: str, file: str, overrides: dict[str, str]) -> Makefile | None:
        names = [file] if file else list(_MAKEFILES)
        path = next(
            (p for n in names if (p := _normpath(posixpath.join(where, n))) in self._paths), None
        )
        if path is None:
            return None
        if path not in self._makefiles:
            self._makefiles[path] = read_makefile(path, self._read)
        parsed = self._makefiles[path]
        return None if parsed is None else parsed.overridden(overrides)

    def _target(
        self, makefile: Makefile, where: str, target: str, chain: tuple[_Key, ...]
    ) -> list[Detection]:
        key = ("make", makefile.path, target)
        rule = makefile.rules.get(target)
        if rule is None or key in chain or len(chain) >= MAX_DEPTH or not self._visit():
            return []
        inner = (*chain, key)
        found: list[Detection] = []
        for prerequisite in rule.prerequisites:
            found.extend(self._target(makefile, where, prerequisite, inner))
        flags = makefile.shell_flags
        shell = Shell(bool(re.search(r"(^|\s)-[a-zA-Z]*e", flags)), "pipefail" in flags, "recipe")
        auto = {
            "@": target,
            "<": rule.prerequisites[0] if rule.prerequisites else "",
            "^": " ".join(rule.prerequisites),
        }
        for recipe in rule.recipe:
            text = recipe.text.lstrip()
            prefix = re.match(r"[@+\-\s]*", text)
            ignored = prefix is not None and "-" in prefix.group(0)
            text = text[prefix.end() :] if prefix else text
            command = makefile.expand(text, auto)
            hits = self._catalog.match_script(command, shell, follow=self.hook(inner), cwd=where)
            for det in hits:
                if ignored:
                    det = _soften(det, "make ignores its failure (`-` before the recipe line)")
                found.append(_locate(det, recipe.path, recipe.line + det.line_offset))
        return found

    # --- package.json -----------------------------------------------------------------------

    def _package_script(
        self, manager: str, args: list[str], cwd: str, chain: tuple[_Key, ...]
    ) -> list[Detection]:
        directory = cwd
        while args and args[0].startswith("-"):
            if args[0] in ("--prefix", "--cwd", "-C", "--dir") and len(args) > 1:
                directory = _normpath(posixpath.join(cwd, args[1]))
                args = args[1:]
            args = args[1:]
        if not args:
            return []
        if args[0] in _NPM_RUN or (manager == "bun" and args[0] == "run"):
            name = args[1] if len(args) > 1 else ""
        elif manager == "npm":
            name = _NPM_ALIASES.get(args[0], "")
        elif manager in ("yarn", "pnpm") and args[0] not in _PM_BUILTINS:
            name = args[0]
        else:
            return []
        path = _normpath(posixpath.join(directory, "package.json"))
        text = self._read(path)
        scripts = _scripts(text)
        if not name or name not in scripts:
            return []
        found: list[Detection] = []
        names = [f"pre{name}", name, f"post{name}"] if manager == "npm" else [name]
        for script_name in names:
            key = ("package", path, script_name)
            if script_name not in scripts or key in chain or not self._visit():
                continue
            shell = Shell(False, False, "package")
            hook = self.hook((*chain, key))
            hits = self._catalog.match_script(
                scripts[script_name], shell, follow=hook, cwd=directory
            )
            line = _key_line(text or "", script_name)
            found.extend(_locate(d, path, line) for d in hits)
        return found

    def read(self, path: str) -> str | None:
        """A repository file's text (None when absent or unreadable), read once."""
        return self._read(path)

    def _read(self, path: str) -> str | None:
        if path not in self._texts:
            self._texts[path] = read_text(self._snapshot, path) if path in self._paths else None
        return self._texts[path]


def _locate(det: Detection, path: str, line: int) -> Detection:
    """Credit a scan found in `path` at `line` (or, when it was found deeper, add the hop)."""
    why_at = det.why_at
    if det.why_not_blocking is not None and why_at is None:
        why_at = (path, line)
    if det.path is None:
        return replace(det, path=path, line=line, why_at=why_at)
    return replace(det, via=((path, line), *det.via), why_at=why_at)


def _soften(det: Detection, why: str) -> Detection:
    if not det.blocking:
        return det
    return replace(det, blocking=False, why_not_blocking=why, soft_by_default=False, why_at=None)


def _normpath(path: str) -> str:
    out = posixpath.normpath(path) if path else ""
    return "" if out == "." else out


def _scripts(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    try:
        doc = json.loads(text)
    except ValueError:
        return {}
    scripts = doc.get("scripts") if isinstance(doc, dict) else None
    if not isinstance(scripts, dict):
        return {}
    return {str(k): v for k, v in scripts.items() if isinstance(v, str)}


def _key_line(text: str, name: str) -> int:
    """The line of `"name":` inside the `"scripts"` object (1 when it cannot be found)."""
    start = text.find('"scripts"')
    m = re.compile(r'"' + re.escape(name) + r'"\s*:').search(text, max(start, 0))
    return text.count("\n", 0, m.start()) + 1 if m else 1

"""Scanners that run inside a linter: whether the repository's linter config turns them on.

golangci-lint runs gosec (SAST) only when its config enables it, so a `golangci-lint run` step
or the golangci-lint action is a SAST scan exactly when the config it reads does: `enable:`
lists `gosec`, or `default: all` (v2) / `enable-all: true` (v1) without `gosec` in `disable:`,
or the command line says `-E gosec` / `--enable=gosec`. golangci-lint reads the config named by
`--config`/`-c`, else the first of `.golangci.{yml,yaml,toml,json}` in the working directory or
one of its parents. A config ghapp cannot find or read claims nothing (precision first).
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from ghapp.core.workflows.scanners import ConfigGate, Detection
from ghapp.core.yamlnodes import YamlError, load_document

_ENABLE_FLAG = re.compile(r"(?:^|\s)(?:-E|--enable)(?:=|\s+)(\S+)")
_DISABLE_FLAG = re.compile(r"(?:^|\s)(?:-D|--disable)(?:=|\s+)(\S+)")
_CONFIG_FLAG = re.compile(r"(?:^|\s)(?:-c|--config)(?:=|\s+)(\S+)")


def resolve_gate(det: Detection, read: Callable[[str], str | None]) -> Detection:
    """The detection with its categories when the linter config enables the scanner, with none
    (not a scan) when it does not or cannot be read."""
    gate = det.gate
    if gate is None:
        return det
    enabled = _flag_verdict(gate)
    if enabled is None:
        enabled = _config_verdict(gate, read)
    return replace(det, gate=None, categories=det.categories if enabled else ())


def _flag_verdict(gate: ConfigGate) -> bool | None:
    if _names(_DISABLE_FLAG, gate.flags, gate.linter):
        return False
    if _names(_ENABLE_FLAG, gate.flags, gate.linter):
        return True
    return None


def _names(flag: re.Pattern[str], text: str, linter: str) -> bool:
    return any(linter in m.group(1).strip("'\"").split(",") for m in flag.finditer(text))


def _config_verdict(gate: ConfigGate, read: Callable[[str], str | None]) -> bool:
    for path in _candidates(gate):
        text = read(path)
        if text is not None:
            return enables(_parse(path, text), gate.linter)
    return False


def _candidates(gate: ConfigGate) -> list[str]:
    explicit = _CONFIG_FLAG.search(gate.flags)
    if explicit is not None:
        given = explicit.group(1).strip("'\"")
        if given.startswith(("/", "$", "~")) or "${{" in given:
            return []  # a path ghapp cannot resolve: no claim
        return [_join(gate.cwd, given)]
    parts = [p for p in gate.cwd.split("/") if p]
    out: list[str] = []
    for depth in range(len(parts), -1, -1):
        base = "/".join(parts[:depth])
        out.extend(f"{base}/{name}" if base else name for name in gate.files)
    return out


def _join(cwd: str, path: str) -> str:
    out: list[str] = [p for p in cwd.split("/") if p]
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out:
                out.pop()
        else:
            out.append(part)
    return "/".join(out)


def _parse(path: str, text: str) -> Any:
    try:
        if path.endswith(".toml"):
            return tomllib.loads(text)
        if path.endswith(".json"):
            return json.loads(text)
        return load_document(text)
    except (YamlError, ValueError):
        return None


def enables(config: Any, linter: str) -> bool:
    """Whether a golangci-lint config (v1 or v2 layout) turns `linter` on."""
    if not isinstance(config, Mapping):
        return False
    linters = config.get("linters")
    if not isinstance(linters, Mapping):
        return False
    if linter in _list(linters.get("disable")):
        return False
    if linter in _list(linters.get("enable")):
        return True
    return linters.get("default") == "all" or linters.get("enable-all") is True


def _list(value: Any) -> Sequence[str]:
    return [str(v) for v in value] if isinstance(value, list) else []

"""Load the declarative rules catalog (`rules/*.yaml`) into an immutable, validated `Catalog`.

Each YAML file may hold `rules:` (check metadata) and `tools:` (scanner definitions). The files
ship inside the wheel as `ghapp/_catalog`; in a source checkout they are read from `rules/`.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jsonschema
import yaml

from ghapp.core.catalog import Catalog, Rule
from ghapp.core.errors import GhappError

RULE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "title", "severity", "rationale", "fix", "docs"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "pattern": r"^(codeowners|manifest|scan|workflow|k8s|config)/[a-z0-9-]+$"},
        "title": {"type": "string", "minLength": 1},
        "severity": {"enum": ["error", "warning", "notice"]},
        "rationale": {"type": "string", "minLength": 1},
        "fix": {"type": "string", "minLength": 1},
        "docs": {"type": "string", "pattern": "^https?://"},
    },
}

TOOL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "categories"],
    "properties": {
        "id": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9-]*$"},
        "name": {"type": "string"},
        "categories": {
            "type": "array",
            "items": {"enum": ["sast", "secrets", "sca", "container", "iac"]},
        },
    },
}

FILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "rules": {"type": "array", "items": RULE_SCHEMA},
        "tools": {"type": "array", "items": TOOL_SCHEMA},
    },
}


def catalog_dir() -> Path:
    """Where the catalog YAML lives: inside the installed wheel, else the source tree's rules/."""
    packaged = resources.files("ghapp") / "_catalog"
    if packaged.is_dir():
        return Path(str(packaged))
    source = Path(__file__).resolve().parent.parent / "rules"
    if source.is_dir():
        return source
    raise GhappError("rules catalog not found (neither ghapp/_catalog nor rules/ exists)")


def load_catalog(paths: Iterable[Path] | None = None) -> Catalog:
    """Read, validate and freeze the catalog; duplicate rule or tool ids are an error."""
    files = sorted(paths) if paths is not None else sorted(catalog_dir().glob("*.yaml"))
    rules: dict[str, Rule] = {}
    tools: list[dict[str, Any]] = []
    tool_ids: set[str] = set()
    for path in files:
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            jsonschema.validate(doc, FILE_SCHEMA)
        except (yaml.YAMLError, jsonschema.ValidationError) as exc:
            raise GhappError(f"{path.name}: invalid rules catalog: {_short(exc)}") from None
        for raw in doc.get("rules", []):
            if raw["id"] in rules:
                raise GhappError(f"{path.name}: duplicate rule id {raw['id']!r}")
            rules[raw["id"]] = Rule(**raw)
        for tool in doc.get("tools", []):
            if tool["id"] in tool_ids:
                raise GhappError(f"{path.name}: duplicate tool id {tool['id']!r}")
            tool_ids.add(tool["id"])
            tools.append(tool)
    return Catalog(rules=MappingProxyType(rules), tools=tuple(tools))


@lru_cache(maxsize=1)
def default_catalog() -> Catalog:
    """The shipped catalog, loaded once per process."""
    return load_catalog()


def _short(exc: Exception) -> str:
    if isinstance(exc, jsonschema.ValidationError):
        where = "/".join(str(p) for p in exc.absolute_path)
        return f"{where or 'top level'}: {exc.message}"
    return str(exc).splitlines()[0]

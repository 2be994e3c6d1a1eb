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

from ghapp.core.catalog import Catalog, Rule
from ghapp.core.errors import GhappError
from ghapp.core.yamlnodes import YamlError, load_document

RULE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "title", "severity", "rationale", "fix", "docs"],
    "additionalProperties": False,
    "properties": {
        "id": {
            "type": "string",
            "pattern": r"^(codeowners|manifest|scan|workflow|k8s|config|ghapp)/[a-z0-9-]+$",
        },
        "title": {"type": "string", "minLength": 1},
        "severity": {"enum": ["error", "warning", "notice"]},
        "rationale": {"type": "string", "minLength": 1},
        "fix": {"type": "string", "minLength": 1},
        "docs": {"type": "string", "pattern": "^https?://"},
        # For code scanning (SARIF): `security` marks rules whose alerts rank by severity.
        "tags": {"type": "array", "items": {"type": "string", "pattern": "^[a-z0-9-]+$"}},
        "security_severity": {"type": "number", "minimum": 0.1, "maximum": 10},
    },
}

_CATEGORIES: dict[str, Any] = {
    "type": "array",
    "items": {"enum": ["sast", "secrets", "sca", "container", "iac"]},
    "uniqueItems": True,
}
_VALUES: dict[str, Any] = {"type": "array", "items": {"type": "string"}, "minItems": 1}
# How an input decides blocking: a value in `nonblocking` (or containing one of
# `nonblocking_contains`) makes the scan non-blocking, one in `blocking` ("*": any value) or
# containing one of `blocking_contains` makes it blocking; other values keep the default.
_INPUT_BLOCKING: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {
        k: _VALUES for k in ("nonblocking", "blocking", "nonblocking_contains", "blocking_contains")
    },
}
_REGEX: dict[str, Any] = {"type": "string", "minLength": 1, "format": "regex"}
# What the tool scans, chosen by an option's value(s) (`--scanners vuln,secret`, input
# `scanners:`): each value (split on commas and spaces) is matched against the `values` regexes
# (first full match wins) and the categories of all values are united; a value matching none
# adds nothing. `default`: the values when neither the flag nor the input is given literally.
_CATEGORY_OPTIONS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["values"],
    "properties": {
        "flag": _REGEX,  # the option's name, matched whole (`--scanners`, `--scanners=`)
        "many": {"type": "boolean"},  # the option also takes the following non-option words
        "input": {"type": "string", "minLength": 1},  # the action input with the same meaning
        "default": {"type": "array", "items": {"type": "string"}},
        "values": {"type": "object", "minProperties": 1, "additionalProperties": _CATEGORIES},
    },
}
_MATCHER_COMMON: dict[str, Any] = {
    "categories": _CATEGORIES,
    "blocking": {"type": "boolean"},
    "note": {"type": "string"},
    "category_options": _CATEGORY_OPTIONS,
    # switches (regexes over whole words, `--secrets`) -> categories; present ones are united
    "category_switches": {"type": "object", "additionalProperties": _CATEGORIES},
    # regexes over the command (or the action's inputs) that make the step blocking or not
    "blocking_flags": {"type": "string", "format": "regex"},
    "nonblocking_flags": {"type": "string", "format": "regex"},
    # a linter that runs a scanner only when its config enables it (golangci-lint runs gosec):
    # config file names searched from the working directory up, and the scanner's name
    "config_gate": {
        "type": "object",
        "additionalProperties": False,
        "required": ["files", "linter"],
        "properties": {
            "files": {"type": "array", "minItems": 1, "items": {"type": "string"}},
            "linter": {"type": "string", "minLength": 1},
        },
    },
}
_ACTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["uses", "categories"],
    "additionalProperties": False,
    "properties": {
        **_MATCHER_COMMON,
        "uses": {"type": "string", "pattern": r"^[A-Za-z0-9_.*-]+/[A-Za-z0-9_.*/-]+$"},
        # this entry applies only when each named input has one of the listed literal values
        # (entries for the same `uses` are tried in order; put the unconditioned one last)
        "when_inputs": {"type": "object", "additionalProperties": _VALUES},
        # input name -> {value ("*": any) -> categories}; the last input present decides
        "category_inputs": {
            "type": "object",
            "additionalProperties": {"type": "object", "additionalProperties": _CATEGORIES},
        },
        "blocking_inputs": {"type": "object", "additionalProperties": _INPUT_BLOCKING},
    },
}
_COMMAND_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["match", "categories"],
    "additionalProperties": False,
    "properties": {
        **_MATCHER_COMMON,
        "match": {"type": "string", "minLength": 1, "format": "regex"},
    },
}
_IMAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["image", "command"],
    "additionalProperties": False,
    "properties": {
        "image": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9._/-]*$"},
        "command": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9._-]*$"},
    },
}

TOOL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "categories"],
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9-]*$"},
        "name": {"type": "string", "minLength": 1},
        "categories": _CATEGORIES,
        "url": {"type": "string", "pattern": "^https?://"},
        "note": {"type": "string"},
        "actions": {"type": "array", "items": _ACTION_SCHEMA},  # step `uses:` (any ref)
        "workflows": {"type": "array", "items": _ACTION_SCHEMA},  # job `uses:` reusable
        "commands": {"type": "array", "items": _COMMAND_SCHEMA},  # `run:` command lines
        "images": {"type": "array", "items": _IMAGE_SCHEMA},  # image -> command it runs
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


def load_catalog(paths: Iterable[Path] | None = None, *, validate: bool | None = None) -> Catalog:
    """Read, validate and freeze the catalog; duplicate rule or tool ids are an error.

    The shipped catalog is validated by the test suite, not at every start (`validate` defaults
    to True only for `paths` given explicitly): schema validation was most of `ghapp check`'s
    start-up."""
    files = sorted(paths) if paths is not None else sorted(catalog_dir().glob("*.yaml"))
    if validate is None:
        validate = paths is not None
    rules: dict[str, Rule] = {}
    tools: list[dict[str, Any]] = []
    tool_ids: set[str] = set()
    for path in files:
        try:
            doc = load_document(path.read_text(encoding="utf-8")) or {}
        except YamlError as exc:
            raise GhappError(f"{path.name}: invalid rules catalog: {_short(exc)}") from None
        if validate:
            _validate(path, doc)
        for raw in doc.get("rules", []):
            if raw["id"] in rules:
                raise GhappError(f"{path.name}: duplicate rule id {raw['id']!r}")
            rules[raw["id"]] = Rule(**{**raw, "tags": tuple(raw.get("tags", ()))})
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


def _validate(path: Path, doc: Any) -> None:
    import jsonschema

    try:
        jsonschema.validate(doc, FILE_SCHEMA)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "top level"
        raise GhappError(f"{path.name}: invalid rules catalog: {where}: {exc.message}") from None


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0]

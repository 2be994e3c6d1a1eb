"""Request-body validation against GitHub's published OpenAPI 3.0 schemas, plus the limits the
schemas cannot express (byte caps, action description length, annotation batches).

The schema files live in ../shared/fixtures/openapi (index.json names one file per operation; each
holds `requestBody.schema` with every `$ref` already resolved). OpenAPI 3.0 is not JSON Schema:
`nullable: true` is turned into a `"null"` type, and the rest is read as draft 4 (the dialect 3.0
borrows, e.g. `exclusiveMaximum` as a boolean).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema

MAX_OUTPUT_BYTES = 65535
MAX_ANNOTATIONS = 50
MAX_ACTIONS = 3
ACTION_LIMITS = {"label": 20, "description": 40, "identifier": 20}


@dataclass(frozen=True)
class Violation:
    """A request body GitHub would reject with 422."""

    operation: str  # operationId, e.g. "checks/create"
    method: str
    path: str
    kind: str  # "schema" | "limit" | "diff"
    message: str


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    pattern: re.Pattern[str]
    validator: jsonschema.protocols.Validator | None


def to_json_schema(schema: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema: `nullable: true` becomes a `"null"` type."""
    if isinstance(schema, list):
        return [to_json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: to_json_schema(v) for k, v in schema.items() if k not in ("nullable", "example")}
    if schema.get("nullable") is True:
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        if "type" not in out:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def _path_pattern(template: str) -> re.Pattern[str]:
    # {path} in the contents API spans slashes; every other parameter is one segment
    regex = re.sub(r"\{path\}", r"(?P<path>.+)", template)
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", regex)
    return re.compile(f"^{regex}$")


_FORMATS = jsonschema.FormatChecker(formats=())


def _is_datetime(value: object) -> bool:
    # GitHub wants ISO 8601 with a zone: YYYY-MM-DDTHH:MM:SSZ
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            raise ValueError("timestamp without a time zone")
    return True


_FORMATS.checks("date-time", raises=ValueError)(_is_datetime)


class SchemaBook:
    """The request schemas of the operations in index.json, matched by method and path."""

    def __init__(self, operations: list[Operation]) -> None:
        self.operations = operations

    @classmethod
    def empty(cls) -> SchemaBook:
        return cls([])

    @classmethod
    def load(cls, directory: Path) -> SchemaBook:
        """Read index.json and the per-operation files it names."""
        index = json.loads((directory / "index.json").read_text())
        operations = []
        for entry in index["operations"]:
            spec = json.loads((directory / entry["file"]).read_text())
            body = spec.get("requestBody") or {}
            # the fixture files flatten content["application/json"].schema to schema
            schema = body.get("schema") or (
                body.get("content", {}).get("application/json", {}).get("schema")
            )
            validator = None
            if schema is not None:
                converted = to_json_schema(schema)
                jsonschema.Draft4Validator.check_schema(converted)
                validator = jsonschema.Draft4Validator(converted, format_checker=_FORMATS)
            operations.append(
                Operation(
                    entry["operationId"],
                    entry["method"].upper(),
                    _path_pattern(entry["path"]),
                    validator,
                )
            )
        return cls(operations)

    def find(self, method: str, path: str) -> Operation | None:
        for op in self.operations:
            if op.method == method and op.pattern.match(path):
                return op
        return None

    def validate(self, method: str, path: str, body: Any) -> list[Violation]:
        """Every reason GitHub would refuse this body (empty when it is acceptable)."""
        op = self.find(method, path)
        if op is None:
            return []
        found = []
        if op.validator is not None:
            for error in sorted(op.validator.iter_errors(body), key=lambda e: list(e.path)):
                where = "/".join(str(p) for p in error.absolute_path) or "(body)"
                found.append(
                    Violation(op.operation_id, method, path, "schema", f"{where}: {error.message}")
                )
        found += [
            Violation(op.operation_id, method, path, "limit", message)
            for message in check_limits(op.operation_id, body)
        ]
        return found


def check_limits(operation_id: str, body: Any) -> list[str]:
    """GitHub's limits on check runs that a JSON schema cannot state (bytes, not characters)."""
    if operation_id not in ("checks/create", "checks/update") or not isinstance(body, dict):
        return []
    problems = []
    output = body.get("output")
    if isinstance(output, dict):
        for key in ("summary", "text"):
            value = output.get(key)
            size = len(value.encode()) if isinstance(value, str) else 0
            if size > MAX_OUTPUT_BYTES:
                problems.append(f"output.{key} is {size} bytes, over {MAX_OUTPUT_BYTES}")
        annotations = output.get("annotations")
        if isinstance(annotations, list) and len(annotations) > MAX_ANNOTATIONS:
            problems.append(f"{len(annotations)} annotations in a request, over {MAX_ANNOTATIONS}")
    actions = body.get("actions")
    if isinstance(actions, list):
        if len(actions) > MAX_ACTIONS:
            problems.append(f"{len(actions)} actions, over {MAX_ACTIONS}")
        for i, action in enumerate(a for a in actions if isinstance(a, dict)):
            for key, cap in ACTION_LIMITS.items():
                value = action.get(key)
                if isinstance(value, str) and len(value) > cap:
                    problems.append(f"actions/{i}/{key} is {len(value)} characters, over {cap}")
    return problems

"""Edits of YAML files as text, line by line, so comments, quoting and key order stay as written:
a manifest's `spec.owner` (for `/claim-ownership`) and a standing waiver appended to the
repository config (for `/waive ... --standing`). Each edit is checked by parsing both versions:
a manifest must differ in `spec.owner` only, the config must end with the new waiver; anything
else refuses (ClaimRefused) rather than publish a rewritten file."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ghapp.core.ownership.claim import ClaimRefused
from ghapp.core.policy.policy import CONFIG_PATHS, Waiver
from ghapp.core.snapshot import Snapshot, read_text
from ghapp.core.yamlnodes import LineDict, LineList, YamlError, load_documents


@dataclass(frozen=True)
class FileEdit:
    path: str
    text: str


def manifest_owner_value(existing: str | None, team: str) -> str:
    """The `spec.owner` to write for `@org/slug`, in the style the manifest already uses:
    `group:default/slug`, `group:slug`, `@org/slug` or a bare `slug` (new: `group:slug`)."""
    slug = team.rsplit("/", 1)[-1]
    if existing is None:
        return f"group:{slug}"
    if existing.startswith("@"):
        return team
    kind, sep, rest = existing.partition(":")
    if sep and "/" in rest:
        return f"{kind}:{rest.split('/', 1)[0]}/{slug}"
    return f"group:{slug}" if sep else slug


def plan_manifest_owner(text: str, service: str, owner: str) -> str:
    """Set `spec.owner` of the Backstage entity named `service`, keeping everything else."""
    try:
        docs = load_documents(text)
    except YamlError as exc:
        raise ClaimRefused(f"the manifest is not valid YAML ({exc}); fix it first") from None
    index, doc = _entity(docs, service)
    lines = text.splitlines(keepends=True)
    spec = doc.get("spec")
    if isinstance(spec, LineDict) and "owner" in spec:
        number = spec.line_of("owner")
        lines[number - 1] = _with_value(lines[number - 1], owner)
    elif isinstance(spec, LineDict) and spec:
        first = min(spec.key_lines.values())
        indent = _indent(lines[first - 1])
        if doc.line_of("spec") == first:
            raise ClaimRefused("`spec` is written in flow style ({...}); set spec.owner by hand")
        lines.insert(first - 1, f"{indent}owner: {_scalar(owner, '')}\n")
    elif "spec" in doc and spec is None and _ends_at_colon(lines[doc.line_of("spec") - 1]):
        number = doc.line_of("spec")
        child = _indent(lines[number - 1]) + _step(doc, lines)
        lines.insert(number, f"{child}owner: {_scalar(owner, '')}\n")
    elif "spec" not in doc:
        end = _document_end(lines, doc.line)
        if end and not lines[end - 1].endswith("\n"):
            lines[end - 1] += "\n"
        base = _indent(lines[doc.line - 1])
        lines[end:end] = [
            f"{base}spec:\n",
            f"{base}{_step(doc, lines)}owner: {_scalar(owner, '')}\n",
        ]
    else:
        raise ClaimRefused("`spec` is not a mapping; set spec.owner by hand")
    edited = "".join(lines)
    _verify_manifest(docs, edited, index, owner)
    return edited


def _entity(docs: list[Any], service: str) -> tuple[int, LineDict]:
    for i, doc in enumerate(docs):
        metadata = doc.get("metadata") if isinstance(doc, LineDict) else None
        if isinstance(metadata, dict) and str(metadata.get("name")) == service:
            return i, doc
    raise ClaimRefused(f"no entity named {service!r} in the manifest")


def _verify_manifest(docs: list[Any], edited: str, index: int, owner: str) -> None:
    try:
        after = load_documents(edited)
    except YamlError as exc:  # our edit broke the file: refuse, never publish it
        raise ClaimRefused(f"editing spec.owner would break the manifest ({exc})") from None
    spec = after[index].get("spec") if len(after) == len(docs) else None
    if not isinstance(spec, dict) or spec.get("owner") != owner:
        raise ClaimRefused("could not set spec.owner without rewriting the manifest")
    if _without_owner(after) != _without_owner(docs):
        raise ClaimRefused("setting spec.owner would change other fields; set it by hand")


def _without_owner(docs: list[Any]) -> list[Any]:
    out: list[Any] = []
    for doc in docs:
        plain = dict(doc) if isinstance(doc, dict) else doc
        if isinstance(plain, dict) and isinstance(plain.get("spec") or {}, dict):
            plain["spec"] = {k: v for k, v in (plain.get("spec") or {}).items() if k != "owner"}
            if not plain["spec"]:  # `spec:` (null) and `spec: {owner: x}` compare equal
                plain.pop("spec")
        out.append(plain)
    return out


def _with_value(raw: str, value: str) -> str:
    match = re.match(r"^(\s*owner\s*:\s*)(.*?)(\s+#.*)?(\r?\n)?$", raw)
    if match is None or match.group(2)[:1] in ("|", ">", "&", "*", "!", ""):
        raise ClaimRefused("spec.owner is not a one-line value; set it by hand")
    return f"{match.group(1)}{_scalar(value, match.group(2))}{match.group(3) or ''}{match.group(4) or ''}"


def _scalar(value: str, old: str) -> str:
    """`value` as a YAML scalar, quoted like `old` was, or when plain YAML would misread it."""
    if old[:1] == "'":
        return "'" + value.replace("'", "''") + "'"
    if old[:1] == '"' or not re.fullmatch(r"[A-Za-z0-9][\w./:-]*", value) or ": " in value:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


def _indent(raw: str) -> str:
    return raw[: len(raw) - len(raw.lstrip(" "))]


def _step(doc: LineDict, lines: list[str]) -> str:
    """The indentation step the document uses (from `metadata`'s children), default two."""
    metadata = doc.get("metadata")
    if isinstance(metadata, LineDict) and metadata.key_lines:
        child = _indent(lines[min(metadata.key_lines.values()) - 1])
        parent = _indent(lines[doc.line_of("metadata") - 1])
        if len(child) > len(parent):
            return " " * (len(child) - len(parent))
    return "  "


def _ends_at_colon(raw: str, key: str = "spec") -> bool:
    return bool(re.match(rf"^\s*{key}\s*:\s*(#.*)?$", raw.rstrip("\r\n")))


def _document_end(lines: list[str], start: int) -> int:
    """Index (0-based, exclusive) of the last non-blank line of the document at line `start`."""
    markers = (i for i in range(start, len(lines)) if lines[i].startswith(("---", "...")))
    end = next(markers, len(lines))
    while end > start and not lines[end - 1].strip():
        end -= 1
    return end


# --- standing waivers in the repository config ----------------------------------------


def plan_standing_waiver(snapshot: Snapshot, waiver: Waiver) -> FileEdit:
    """Append `waiver` to `waivers:` in the repository config, as text (comments kept)."""
    path = next((p for p in CONFIG_PATHS if snapshot.size(p) is not None), CONFIG_PATHS[0])
    text = read_text(snapshot, path) or ""
    try:
        doc = load_documents(text)[:1]
    except YamlError as exc:
        raise ClaimRefused(f"{path} is not valid YAML ({exc}); fix it first") from None
    config = doc[0] if doc else LineDict()
    if not isinstance(config, LineDict):
        raise ClaimRefused(f"{path} is not a mapping; add the waiver by hand")
    entry = {k: v for k, v in _waiver_fields(waiver).items() if v is not None}
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    existing = config.get("waivers")
    if "waivers" not in config:
        lines += ["waivers:\n", *_yaml_item(entry, "  ")]
    elif existing is None and _ends_at_colon(lines[config.line_of("waivers") - 1], "waivers"):
        at = config.line_of("waivers")
        lines[at:at] = _yaml_item(entry, _indent(lines[at - 1]) + "  ")
    elif isinstance(existing, LineList) and existing.line > config.line_of("waivers"):
        later = [n for n in config.key_lines.values() if n > config.line_of("waivers")]
        end = min(later) - 1 if later else len(lines)
        while end > 0 and not lines[end - 1].strip():
            end -= 1
        lines[end:end] = _yaml_item(entry, _indent(lines[existing.line - 1]))
    else:
        raise ClaimRefused(f"`waivers:` in {path} is not a block list; add the waiver by hand")
    edited = "".join(lines)
    after = load_documents(edited)
    if not after or list(after[0].get("waivers") or [])[-1:] != [entry]:
        raise ClaimRefused(f"could not add the waiver to {path} without rewriting it")
    return FileEdit(path, edited)


def _waiver_fields(waiver: Waiver) -> dict[str, str | None]:
    return {
        "rule": waiver.rule,
        "path": waiver.path,
        "service": waiver.service,
        "reason": waiver.reason,
        "approved_by": waiver.approved_by,
        "until": waiver.until.isoformat() if waiver.until else None,
    }


def _yaml_item(entry: Mapping[str, str], indent: str) -> list[str]:
    # Values are always double-quoted (JSON strings are YAML): an unquoted date would load
    # as a date, which the config schema rejects.
    return [
        f"{indent}{'- ' if i == 0 else '  '}{key}: {json.dumps(value)}\n"
        for i, (key, value) in enumerate(entry.items())
    ]

"""Per-tool manifest readers: Backstage, OpsLevel and Cortex documents mapped to `Service` fields.

The conventions (which field is read from where, how values are normalised, which problems become
findings) are documented once, in `ghapp.core.manifests.services`, which re-exports this module's public
constants and `normalise_tier`. This module never imports `manifests`, so there is no cycle.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ghapp.core.catalog import Catalog
from ghapp.core.model import Finding, Service
from ghapp.core.snapshot import Snapshot, digest, read_bounded, unread_id
from ghapp.core.yamlnodes import (
    MAX_YAML_BYTES,
    LineDict,
    LineList,
    YamlError,
    YamlLimitError,
    load_documents,
)

BACKSTAGE_KINDS = frozenset(
    {"Component", "Resource", "API", "System", "Domain", "Group", "User", "Location", "Template"}
)
SENSITIVE_DATA = ("phi", "pci", "pii")
_TIER_RE = re.compile(r"^(?:tier[\s_-]?)?(\d{1,2})$")
_TIER_WORDS = {
    "critical": "1",
    "mission-critical": "1",
    "high": "2",
    "business-critical": "2",
    "medium": "3",
    "low": "4",
}
_TRUE = frozenset({"true", "yes", "y", "1"})
_GENERIC_ALL = (
    "tier",
    "data-classification",
    "escalation",
    "runbook",
    "dashboard",
    "slo",
    "lifecycle",
    "system",
)

# A value found in a manifest and the line that set it.
_Found = tuple[Any, int]


def normalise_tier(value: Any) -> str | None:
    """`1`, `"tier-1"`, `"tier_1"`, `"Tier 1"`, `"critical"` -> `"1"`; None when unrecognised."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if 0 <= value < 100 else None
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    match = _TIER_RE.match(text)
    if match:
        return str(int(match[1]))
    return _TIER_WORDS.get(text)


def read_manifest(
    snapshot: Snapshot, catalog: Catalog, path: str, source: str, findings: list[Finding]
) -> list[Service]:
    """The services one manifest file declares; problems are appended to `findings`."""
    reader = _Reader(catalog, path, source, findings)
    data, why = read_bounded(snapshot, path, MAX_YAML_BYTES)
    if data is None:
        message = f"manifest not read: {why}"
        subject = f"unread {unread_id(snapshot, path)}"  # a changed file is a new finding
        reader.problem("manifest/invalid-yaml", message, None, subject)
        return []
    text = data.decode("utf-8", errors="replace")
    try:
        docs = load_documents(text)
    except YamlLimitError as exc:
        reader.problem("manifest/invalid-yaml", str(exc), exc.line, f"unread {digest(data)}")
        return []
    except YamlError as exc:
        reader.problem("manifest/invalid-yaml", str(exc), exc.line)
        return []
    reader.source_lines = text.splitlines()
    services = []
    for doc in docs:
        if not isinstance(doc, LineDict):
            line = doc.line if isinstance(doc, LineList) else None
            reader.problem("manifest/not-a-mapping", "manifest document is not a mapping", line)
            continue
        service = reader.parse(doc)
        if service is not None:
            services.append(service)
    return services


class _Reader:
    """Maps one manifest file's documents to services, recording problems as findings."""

    def __init__(self, catalog: Catalog, path: str, source: str, findings: list[Finding]) -> None:
        self.catalog, self.path, self.source, self.findings = catalog, path, source, findings
        self.directory = path.rpartition("/")[0]
        self.source_lines: list[str] = []

    def problem(
        self,
        rule_id: str,
        message: str,
        line: int | None,
        subject: str = "",
        *,
        service: str | None = None,
        suggestion: str | None = None,
    ) -> None:
        """Record a finding on this manifest (severity and fix from the catalog)."""
        rule = self.catalog.rule(rule_id)
        self.findings.append(
            Finding(
                rule=rule_id,
                severity=rule.severity,
                message=message,
                path=self.path,
                line=line,
                subject=subject or rule_id,
                fix=rule.fix,
                service=service,
                suggestion=suggestion,
            )
        )

    def parse(self, doc: LineDict) -> Service | None:
        if self.source == "backstage":
            return self._backstage(doc)
        if self.source == "opslevel":
            return self._opslevel(doc)
        return self._cortex(doc)

    def _backstage(self, doc: LineDict) -> Service | None:
        kind = doc.get("kind")
        if not isinstance(kind, str) or kind not in BACKSTAGE_KINDS:
            what = f"kind {kind!r}" if kind is not None else "no kind"
            message = f"Backstage entity with {what}; skipped"
            self.problem("manifest/unknown-kind", message, doc.line_of("kind"), f"kind:{kind}")
            return None
        if kind != "Component":
            return None
        meta, spec = _sub(doc, "metadata"), _sub(doc, "spec")
        notes, labels = _sub(meta, "annotations"), _sub(meta, "labels")
        tags = [(t, line) for t, line in _items(meta.get("tags")) if isinstance(t, str)]
        links = [_link(item, line) for item, line in _items(meta.get("links"))]
        dashboard = _first(_get(notes, "ghapp.dev/dashboard"), _link_for(links, "dashboard"))
        found: dict[str, _Found | None] = {
            "owner": _get(spec, "owner"),
            "lifecycle": _get(spec, "lifecycle"),
            "system": _get(spec, "system"),
            "tier": _first(
                _get(notes, "ghapp.dev/tier"),
                _get(labels, "tier"),
                _get(spec, "tier"),
                _tier_tag(tags),
            ),
            "data": _get(notes, "ghapp.dev/data-classification") or _backstage_data(labels, tags),
            "runbook": _first(_get(notes, "ghapp.dev/runbook"), _link_for(links, "runbook")),
            "dashboard": dashboard or _get(notes, "grafana/dashboard-selector"),
            "slo": _first(_get(notes, "ghapp.dev/slo"), _link_for(links, "slo")),
        }
        oncall: list[tuple[str, int]] = []
        for provider, key in _BACKSTAGE_ONCALL:
            hit = _get(notes, key)
            if hit is not None:
                # An integration key lets anyone open incidents: record that it exists, not it.
                shown = "integration-key" if key.endswith("integration-key") else _text(hit[0])
                oncall.append((f"{provider}:{shown}", hit[1]))
        urls = {"runbook", "slo", *(["dashboard"] if dashboard else [])}
        where = {
            "spec": doc.line_of("spec"),
            "metadata": doc.line_of("metadata"),
            "annotations": meta.line_of("annotations") if "annotations" in meta else meta.line,
        }
        name = _get(meta, "name")
        return self._service(doc, name, "metadata.name", found, oncall, urls, where)

    def _opslevel(self, doc: LineDict) -> Service | None:
        key = "service" if "service" in doc else "component"
        body = doc.get(key)
        if not isinstance(body, LineDict):
            if "repository" in doc:
                return None  # a repository record: ownership of the repo, not a service
            message = "opslevel.yml has no `service:` mapping; skipped"
            self.problem("manifest/unknown-kind", message, doc.line, "kind:opslevel")
            return None
        tags = _tag_map(body.get("tags"))
        generic = _generic(tags)
        tools = [_link(item, line) for item, line in _items(body.get("tools"))]
        flags = [(k, line) for k, (v, line) in tags.items() if v is None or _truthy(v)]
        found: dict[str, _Found | None] = {
            "owner": _get(body, "owner"),
            "lifecycle": _get(body, "lifecycle") or generic.get("lifecycle"),
            "system": _get(body, "system") or generic.get("system"),
            "tier": _get(body, "tier") or generic.get("tier"),
            "data": generic.get("data-classification") or _data_from(flags),
            "runbook": generic.get("runbook") or _tool(tools, {"runbooks"}),
            "dashboard": generic.get("dashboard") or _tool(tools, {"metrics", "observability"}),
            "slo": generic.get("slo") or _link_for(tools, "slo"),
        }
        oncall = _escalation(generic)
        oncall += [(f"incidents:{t['url']}", t["line"]) for t in tools if _is_incident(t)]
        where = dict.fromkeys(("spec", "metadata", "annotations"), doc.line_of(key))
        urls = {"runbook", "dashboard", "slo"}
        name = _get(body, "name")
        return self._service(doc, name, f"{key}.name", found, oncall, urls, where)

    def _cortex(self, doc: LineDict) -> Service | None:
        info = doc.get("info")
        if not isinstance(info, LineDict):
            message = "cortex.yaml has no `info:` mapping; skipped"
            self.problem("manifest/unknown-kind", message, doc.line, "kind:cortex")
            return None
        kind = info.get("x-cortex-type", "service")
        if not isinstance(kind, str) or kind.lower() != "service":
            return None  # domains, teams and resources are not services
        custom = _sub(info, "x-cortex-custom-metadata")
        generic = _generic({str(k).lower(): (v, custom.line_of(k)) for k, v in custom.items()})
        groups = [(g, ln) for g, ln in _items(info.get("x-cortex-groups")) if isinstance(g, str)]
        links = [_link(item, line) for item, line in _items(info.get("x-cortex-link"))]
        slos = _sub(info, "x-cortex-slos")
        slo_url = generic.get("slo") or _link_for(links, "slo")
        found: dict[str, _Found | None] = {
            "owner": _cortex_owner(info),
            "lifecycle": generic.get("lifecycle"),
            "system": generic.get("system"),
            "tier": generic.get("tier") or _tier_tag(groups),
            "data": generic.get("data-classification") or _cortex_data(groups),
            "runbook": generic.get("runbook") or _tool(links, {"runbook"}),
            "dashboard": generic.get("dashboard") or _tool(links, {"dashboard", "metrics"}),
            # An SLO integration block (`x-cortex-slos: {datadog: ...}`) names its provider.
            "slo": slo_url or next(((str(k), slos.line_of(k)) for k in slos), None),
        }
        oncall = _escalation(generic)
        block = _sub(info, "x-cortex-oncall")
        for provider, target in block.items():
            ident = target.get("id") if isinstance(target, Mapping) else target
            if ident not in (None, ""):
                oncall.append((f"{str(provider).lower()}:{ident}", block.line_of(provider)))
        where = dict.fromkeys(("spec", "metadata", "annotations"), doc.line_of("info"))
        urls = {"runbook", "dashboard", *(["slo"] if slo_url else [])}
        name = _get(info, "x-cortex-tag")
        return self._service(doc, name, "info.x-cortex-tag", found, oncall, urls, where)

    def _service(
        self,
        doc: LineDict,
        name: _Found | None,
        name_field: str,
        found: Mapping[str, _Found | None],
        oncall: list[tuple[str, int]],
        url_fields: set[str],
        where: Mapping[str, int],
    ) -> Service | None:
        if name is None or isinstance(name[0], Mapping | list) or not _text(name[0]):
            message = f"service without `{name_field}`; skipped"
            self.problem("manifest/missing-name", message, doc.line, "name")
            return None
        service_name = _text(name[0])
        values: dict[str, Any] = {}
        lines: dict[str, int] = dict(where)
        for fieldname, hit in found.items():
            if hit is None or hit[0] is None or hit[0] == "":
                continue
            value, lines[fieldname] = hit
            if fieldname == "tier":
                values["tier"] = normalise_tier(value) or _text(value)
            elif fieldname == "data":
                values["data"] = _data_list(value)
            else:
                values[fieldname] = _text(value)
                if fieldname in url_fields:
                    self._check_link(service_name, fieldname, values[fieldname], hit[1])
        if oncall:
            values["oncall"] = tuple(entry for entry, _ in oncall)
            lines["oncall"] = oncall[0][1]
        return Service(
            name=service_name,
            path=self.directory,
            manifest=self.path,
            source=self.source,
            line=doc.line,
            lines=tuple(sorted(lines.items())),
            **values,
        )

    def _check_link(self, service: str, fieldname: str, url: str, line: int) -> None:
        if _URL_RE.match(url):
            return
        suggestion = None
        text = self.source_lines[line - 1] if 0 < line <= len(self.source_lines) else ""
        # `wiki.example.com/runbook` lacks only its scheme: that fix is mechanical.
        if _HOSTLIKE_RE.match(url) and text.count(url) == 1:
            suggestion = text.replace(url, "https://" + url)
        message = f"{service}: {fieldname} {url!r} is not an http(s) URL"
        self.problem(
            "manifest/invalid-link",
            message,
            line,
            f"{service}:{fieldname}",
            service=service,
            suggestion=suggestion,
        )


_URL_RE = re.compile(r"^https?://[^\s/?#]+[^\s]*$", re.IGNORECASE)
_HOSTLIKE_RE = re.compile(r"^[\w-]+(\.[\w-]+)+(/\S*)?$")
_BACKSTAGE_ONCALL = (
    ("escalation", "ghapp.dev/escalation"),
    ("pagerduty", "pagerduty.com/service-id"),
    ("pagerduty", "pagerduty.com/integration-key"),
    ("opsgenie", "opsgenie.com/team"),
    ("opsgenie", "opsgenie.com/component-selector"),
)


def _sub(parent: LineDict, key: str) -> LineDict:
    """The mapping under `key`, or an empty one placed at the key's line."""
    value = parent.get(key)
    if isinstance(value, LineDict):
        return value
    empty = LineDict()
    empty.line, empty.key_lines = parent.line_of(key), {}
    return empty


def _get(mapping: LineDict, key: str) -> _Found | None:
    value = mapping.get(key)
    return None if value is None or value == "" else (value, mapping.line_of(key))


def _first(*candidates: _Found | None) -> _Found | None:
    return next((c for c in candidates if c is not None), None)


def _items(value: Any) -> list[tuple[Any, int]]:
    if not isinstance(value, LineList):
        return []
    return [(item, value.line_of(i)) for i, item in enumerate(value)]


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    return str(value).strip()


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() in _TRUE


def _data_list(value: Any) -> tuple[str, ...]:
    parts = value if isinstance(value, list | tuple) else str(value).split(",")
    return tuple(sorted({str(p).strip().lower() for p in parts if str(p).strip()}))


def _link(item: Any, line: int) -> dict[str, Any]:
    """A Backstage link, OpsLevel tool or Cortex link, reduced to what classification needs."""
    if not isinstance(item, LineDict):
        return {"text": "", "category": "", "url": None, "line": line}
    words = [str(item.get(k) or "") for k in ("title", "name", "type", "icon", "category")]
    category = str(item.get("category") or item.get("type") or "").lower()
    url_line = item.line_of("url") if "url" in item else line
    return {
        "text": " ".join(words).lower(),
        "category": category,
        "url": item.get("url"),
        "line": url_line,
    }


def _link_for(links: list[dict[str, Any]], word: str) -> _Found | None:
    pattern = re.compile(rf"\b{word}s?\b")
    for link in links:
        if link["url"] and pattern.search(link["text"]):
            return link["url"], link["line"]
    return None


def _tool(tools: list[dict[str, Any]], categories: set[str]) -> _Found | None:
    for tool in tools:
        if tool["url"] and tool["category"] in categories:
            return tool["url"], tool["line"]
    return None


def _is_incident(tool: dict[str, Any]) -> bool:
    return bool(tool["url"]) and tool["category"] == "incidents"


def _tier_tag(tags: list[tuple[str, int]]) -> _Found | None:
    """A tag or group such as `tier-1`, `tier1` or `tier:1`."""
    for tag, line in tags:
        name, sep, value = tag.partition(":")
        candidate = value if sep and name.strip().lower() == "tier" else tag
        if "tier" in tag.lower() and normalise_tier(candidate) is not None:
            return candidate, line
    return None


def _backstage_data(labels: LineDict, tags: list[tuple[str, int]]) -> _Found | None:
    flags = [(k, labels.line_of(k)) for k, v in labels.items() if _truthy(v)]
    return _get(labels, "data-classification") or _data_from([*flags, *tags])


def _data_from(flags: Iterable[tuple[Any, int]]) -> _Found | None:
    hits = [(str(k).lower(), line) for k, line in flags if str(k).lower() in SENSITIVE_DATA]
    return (sorted({k for k, _ in hits}), hits[0][1]) if hits else None


def _tag_map(tags: Any) -> dict[str, _Found]:
    """OpsLevel tags as {key: (value, line)}: `- key: k` / `value: v` items or `k:v` strings."""
    out: dict[str, _Found] = {}
    if isinstance(tags, LineDict):
        return {str(k).lower(): (v, tags.line_of(k)) for k, v in tags.items()}
    for item, line in _items(tags):
        if isinstance(item, Mapping) and "key" in item:
            out.setdefault(str(item["key"]).lower(), (item.get("value"), line))
        elif isinstance(item, str):
            key, _, value = item.partition(":")
            out.setdefault(key.strip().lower(), (value.strip() or None, line))
    return out


def _generic(mapping: Mapping[str, _Found]) -> dict[str, _Found]:
    """The generic keys, spelled `ghapp.dev/<key>` or `<key>` (`data` for data-classification)."""
    out: dict[str, _Found] = {}
    for key in _GENERIC_ALL:
        spellings = [f"ghapp.dev/{key}", key, *(["data"] if key == "data-classification" else [])]
        for spelled in spellings:
            hit = mapping.get(spelled)
            if hit is not None and hit[0] not in (None, "") and key not in out:
                out[key] = hit
    return out


def _escalation(generic: Mapping[str, _Found]) -> list[tuple[str, int]]:
    hit = generic.get("escalation")
    return [(f"escalation:{_text(hit[0])}", hit[1])] if hit else []


def _cortex_owner(info: LineDict) -> _Found | None:
    """The first group owner (GitHub teams as `@org/team`), else the first email owner."""
    owners = _items(info.get("x-cortex-owners"))
    for wanted, field in (("group", "name"), ("email", "email")):
        for owner, line in owners:
            if not isinstance(owner, Mapping) or str(owner.get("type", "")).lower() != wanted:
                continue
            value = owner.get(field)
            if not value:
                continue
            if str(owner.get("provider", "")).upper() == "GITHUB" and "/" in str(value):
                value = "@" + str(value).lstrip("@")
            return value, line
    return None


def _cortex_data(groups: list[tuple[str, int]]) -> _Found | None:
    """`pci`, `data:pci`, `data-classification:pci` or `PCI:true` groups."""
    flags: list[tuple[Any, int]] = []
    for group, line in groups:
        name, sep, value = group.lower().partition(":")
        if not sep:
            flags.append((name, line))
        elif name in ("data", "data-classification"):
            flags.append((value, line))
        elif _truthy(value):
            flags.append((name, line))
    return _data_from(flags)

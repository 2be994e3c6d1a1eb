"""Service manifests: Backstage `catalog-info.yaml`, OpsLevel `opslevel.yml`, Cortex `cortex.yaml`.

Theory of operation. Every file named `catalog-info.yaml|yml`, `opslevel.yml|yaml` or
`cortex.yaml|yml` is a manifest; its directory is the root of the services it declares ("" at the
repository root) and a file belongs to the service of the nearest manifest above it. Manifests
are read through the snapshot, parsed as multi-document YAML, and every field is mapped to a
`Service` field by the conventions below, remembering the line that set it. Bad input never
raises: it becomes a finding (`manifest/invalid-yaml`, `manifest/not-a-mapping`,
`manifest/missing-name`, `manifest/unknown-kind`, `manifest/invalid-link`). Values are kept as
written when they cannot be normalised, so `manifest/invalid-tier` and friends can name them.

Backstage (`kind: Component`; `Resource`, `API`, `System`, `Domain`, `Group`, `User`,
`Location` and `Template` documents are skipped, any other kind is `manifest/unknown-kind`;
a Resource such as a database is not a deployable service, so on-call and runbook requirements
do not apply to it and its files stay with the enclosing service or CODEOWNERS):

| field     | read from (first that is set wins)                                              |
|-----------|---------------------------------------------------------------------------------|
| name      | `metadata.name`                                                                 |
| owner     | `spec.owner`: `payments`, `group:payments`, `group:default/payments`, `user:alice` |
| oncall    | annotations `ghapp.dev/escalation`, `pagerduty.com/service-id`,                 |
|           | `pagerduty.com/integration-key` (the key itself is never echoed),               |
|           | `opsgenie.com/team`, `opsgenie.com/component-selector` (all are collected)      |
| tier      | annotation `ghapp.dev/tier`, label `tier`, `spec.tier`, tag `tier-1`/`tier1`    |
| data      | annotation `ghapp.dev/data-classification` (comma list), else label             |
|           | `data-classification`, labels `phi`/`pci`/`pii: "true"` and tags `phi`/`pci`/`pii` |
| runbook   | annotation `ghapp.dev/runbook`, else a `metadata.links` entry whose title, type  |
|           | or icon mentions "runbook"                                                      |
| dashboard | annotation `ghapp.dev/dashboard`, a link mentioning "dashboard", annotation     |
|           | `grafana/dashboard-selector` (a selector, not a URL)                            |
| slo       | annotation `ghapp.dev/slo`, a link mentioning "slo"                             |
| lifecycle, system | `spec.lifecycle`, `spec.system`                                         |

OpsLevel (`version: 1`, `service:` or `component:`; a repository-only file is skipped):
`name`, `owner` (a team alias), `tier` (`tier_1`), `lifecycle`, `system`; `tools` entries by
`category`: `incidents` -> oncall, `runbooks` -> runbook, `metrics`/`observability` -> dashboard;
`tags` (`- key: k` / `value: v`, or `k:v` strings) may carry the generic keys below, and a
`phi`/`pci`/`pii` tag (value empty or true) marks that data class. Incident tools read
`incidents:<url>`.

Cortex (an OpenAPI document; `info.x-cortex-type` other than `service` is skipped):
`info.x-cortex-tag` is the name; owner is the first `x-cortex-owners` entry of `type: group`
(`provider: GITHUB` names such as `acme/payments` become `@acme/payments`), else the first
`type: email`; `x-cortex-oncall: {pagerduty: {id, type}}` (any provider) -> oncall;
`x-cortex-link` entries by `type`: `RUNBOOK`, `DASHBOARD`/`METRICS`, name mentioning SLO;
`x-cortex-slos` (any provider) -> slo; `x-cortex-groups` such as `tier-1`, `tier:1`, `pci`,
`data:pci`, `PCI:true`; `x-cortex-custom-metadata` may carry the generic keys below.

Generic keys (OpsLevel tags, Cortex custom metadata), with or without a `ghapp.dev/` prefix:
`tier`, `data-classification` (or `data`), `escalation`, `runbook`, `dashboard`, `slo`,
`lifecycle`, `system`.

Normalisation. Tier: `1`, `"1"`, `tier1`, `tier-1`, `tier_1`, `Tier 1` -> `"1"` (any 0-99);
`critical`/`mission-critical` -> 1, `high`/`business-critical` -> 2, `medium` -> 3, `low` -> 4.
Data classes are lower-cased, split on commas and sorted; `none` declares "no sensitive data".
On-call entries read `<provider>:<id>` (`pagerduty:PABC123`, `opsgenie:payments`, `escalation:...`).
Owners are compared with CODEOWNERS by team slug: `group:default/payments`, `payments` and
`@acme/payments` all have slug `payments` (case and punctuation folded as GitHub slugs do).

Besides field names, `Service.lines` holds the anchors `spec`, `metadata` and `annotations`
(for OpsLevel and Cortex: the `service:` / `info:` line): where a missing field should be added.
When one directory holds manifests for several tools, the Backstage service owns its files,
then OpsLevel, then Cortex.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from ghapp.core.catalog import Catalog

# Defined beside the readers that use them; the `as` aliases re-export them from here.
from ghapp.core.manifests.formats import BACKSTAGE_KINDS as BACKSTAGE_KINDS
from ghapp.core.manifests.formats import SENSITIVE_DATA as SENSITIVE_DATA
from ghapp.core.manifests.formats import normalise_tier as normalise_tier
from ghapp.core.manifests.formats import read_manifest
from ghapp.core.model import Finding, Service
from ghapp.core.snapshot import Snapshot

MANIFEST_SOURCES: Mapping[str, str] = {
    "catalog-info.yaml": "backstage",
    "catalog-info.yml": "backstage",
    "opslevel.yml": "opslevel",
    "opslevel.yaml": "opslevel",
    "cortex.yaml": "cortex",
    "cortex.yml": "cortex",
}
_SOURCE_RANK = {"backstage": 0, "opslevel": 1, "cortex": 2}


def discover_services(
    snapshot: Snapshot, catalog: Catalog
) -> tuple[tuple[Service, ...], tuple[Finding, ...]]:
    """Every service declared by a manifest in the snapshot, plus findings for manifests
    that could not be read; services are ordered by directory, then tool, then file and line."""
    services: list[Service] = []
    findings: list[Finding] = []
    for path in snapshot.paths():
        source = MANIFEST_SOURCES.get(path.rpartition("/")[2])
        if source is not None:
            services.extend(read_manifest(snapshot, catalog, path, source, findings))
    services.sort(key=lambda s: (s.path, _SOURCE_RANK[s.source], s.manifest, s.line))
    return tuple(services), tuple(findings)


def service_of(services: Sequence[Service], path: str) -> Service | None:
    """The service of the nearest manifest whose directory contains `path` (None: no service)."""
    return _index_of(services).service_of(path)


# Callers ask `service_of` once per path (100k paths); rebuilding the index each time would be
# quadratic. The index of the last services *tuple* (immutable, held here so its id stays
# unique) is kept; any other sequence gets a fresh index.
_LAST_INDEX: list[tuple[Sequence[Service], ServiceIndex]] = []


def _index_of(services: Sequence[Service]) -> ServiceIndex:
    cached = _LAST_INDEX[0] if _LAST_INDEX else None  # one read: other threads may replace it
    if cached is not None and cached[0] is services:
        return cached[1]
    index = ServiceIndex(services)
    if isinstance(services, tuple):
        _LAST_INDEX[:] = [(services, index)]
    return index


class ServiceIndex:
    """Services by manifest directory, to answer `service_of` in O(depth) per path."""

    def __init__(self, services: Iterable[Service]) -> None:
        self._by_dir: dict[str, Service] = {}
        for service in services:  # the first service of a directory wins (discovery order)
            self._by_dir.setdefault(service.path, service)

    def service_of(self, path: str) -> Service | None:
        """The service of the nearest enclosing manifest directory."""
        by_dir = self._by_dir
        directory = path.rpartition("/")[0]
        while True:
            found = by_dir.get(directory)
            if found is not None or not directory:
                return found
            directory = directory.rpartition("/")[0]


def is_normal_tier(tier: str) -> bool:
    """Whether a Service.tier holds a normalised tier (else it is the raw, invalid value)."""
    return tier.isdigit()


def owner_team_slug(owner: str) -> str | None:
    """The team slug an owner names: `payments`, `group:payments`, `group:default/payments`,
    `@acme/payments` -> `payments`. None for users (`user:alice`, `@alice`) and emails."""
    text = owner.strip()
    if text.startswith("@"):
        org, slash, team = text[1:].partition("/")
        return _slugify(team) if slash and org and team else None
    if "@" in text:
        return None
    kind, colon, rest = text.partition(":")
    if colon and kind.lower() != "group":
        return None
    name = (rest if colon else text).rpartition("/")[2]
    return _slugify(name) or None


def owner_user(owner: str) -> str | None:
    """The user login an owner names: `user:alice`, `user:default/alice`, `@alice` -> `alice`."""
    text = owner.strip()
    if text.startswith("@"):
        return text[1:].lower() if text[1:] and "/" not in text else None
    kind, colon, rest = text.partition(":")
    if colon and kind.lower() == "user":
        return rest.rpartition("/")[2].lower() or None
    return None


def owners_match(manifest_owner: str, codeowner: str) -> bool:
    """Whether a manifest owner and a CODEOWNERS owner name the same team, user or email."""
    team = owner_team_slug(manifest_owner)
    if team is not None and team == owner_team_slug(codeowner):
        return True
    user = owner_user(manifest_owner)
    if user is not None and user == owner_user(codeowner):
        return True
    return "@" in manifest_owner[1:] and manifest_owner.lower() == codeowner.lower()


def _slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")

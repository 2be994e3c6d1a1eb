"""Checks over the services the manifests declare: required fields (policy `manifests`),
malformed values, duplicate names, and agreement with CODEOWNERS.

Findings carry the manifest path, the line of the offending field (for a missing field: the
block it belongs in) and the service name, and leave `owners` empty: the evaluator assigns the
service owner's GitHub handle, which needs the organisation a Backstage `group:payments` does
not name, or else the CODEOWNERS owners of the manifest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from ghapp.core.context import Context
from ghapp.core.manifests.groups import group_slug, team_slug
from ghapp.core.manifests.services import is_normal_tier, normalise_tier, owners_match
from ghapp.core.model import Finding, Service
from ghapp.core.policy.policy import ManifestRequirements

# Service field -> rule reporting it missing (one stable id per field).
FIELD_RULES: Mapping[str, str] = MappingProxyType(
    {
        "owner": "manifest/missing-owner",
        "oncall": "manifest/missing-oncall",
        "tier": "manifest/missing-tier",
        "data": "manifest/missing-data-classification",
        "runbook": "manifest/missing-runbook",
        "dashboard": "manifest/missing-dashboard",
        "slo": "manifest/missing-slo",
        "lifecycle": "manifest/missing-lifecycle",
        "system": "manifest/missing-system",
    }
)
KNOWN_DATA = ("phi", "pci", "pii", "none", "public", "internal", "confidential", "restricted")

_LABELS = {
    "owner": "owner team",
    "oncall": "on-call or escalation contact",
    "tier": "tier",
    "data": "data classification",
    "runbook": "runbook link",
    "dashboard": "dashboard link",
    "slo": "SLO",
    "lifecycle": "lifecycle",
    "system": "system",
}
# Where a missing field goes (a key of Service.lines set by the reader).
_ANCHORS = {"owner": "spec", "lifecycle": "spec", "system": "spec", "runbook": "metadata"}

_FIXES: Mapping[str, Mapping[str, str]] = {
    "backstage": {
        "owner": "Add `spec.owner: group:<team>`.",
        "oncall": 'Add `metadata.annotations["pagerduty.com/service-id"]: <PagerDuty service id>`'
        " (or `opsgenie.com/team`, or `ghapp.dev/escalation: <contact>`).",
        "tier": 'Add `metadata.annotations["ghapp.dev/tier"]: "1"` (or "2", "3").',
        "data": 'Add `metadata.annotations["ghapp.dev/data-classification"]: "pci,pii"`'
        ' (phi, pci, pii, or "none").',
        "runbook": "Add a `metadata.links` entry"
        " `{url: https://..., title: Runbook, type: runbook}`.",
        "dashboard": "Add a `metadata.links` entry"
        " `{url: https://..., title: Dashboard, type: dashboard}`.",
        "slo": 'Add `metadata.annotations["ghapp.dev/slo"]: https://...`.',
        "lifecycle": "Add `spec.lifecycle: production` (or experimental, deprecated).",
        "system": "Add `spec.system: <system>`.",
        "invalid-owner": "Write one reference: `spec.owner: group:<team>` or `user:<login>`.",
    },
    "opslevel": {
        "owner": "Add `service.owner: <team alias>`.",
        "oncall": "Add a `service.tools` entry"
        " `{name: PagerDuty, category: incidents, url: https://...}`.",
        "tier": "Add `service.tier: tier_1` (tier_1 to tier_4).",
        "data": "Add a `service.tags` entry `{key: data-classification, value: pci}`.",
        "runbook": "Add a `service.tools` entry `{name: Runbook, category: runbooks, url: https://...}`.",
        "dashboard": "Add a `service.tools` entry"
        " `{name: Dashboard, category: metrics, url: https://...}`.",
        "slo": "Add a `service.tags` entry `{key: slo, value: https://...}`.",
        "lifecycle": "Add `service.lifecycle: <lifecycle alias>` (e.g. generally_available).",
        "system": "Add `service.system: <system alias>`.",
        "invalid-owner": "Write one team alias: `service.owner: <team alias>`.",
    },
    "cortex": {
        "owner": "Add `info.x-cortex-owners: [{type: group, name: <team>}]`.",
        "oncall": "Add `info.x-cortex-oncall: {pagerduty: {id: <service id>, type: SERVICE}}`.",
        "tier": "Add `info.x-cortex-custom-metadata: {tier: 1}`.",
        "data": "Add `info.x-cortex-custom-metadata: {data-classification: pci}`.",
        "runbook": "Add an `info.x-cortex-link` entry `{name: Runbook, type: RUNBOOK, url: https://...}`.",
        "dashboard": "Add an `info.x-cortex-link` entry"
        " `{name: Dashboard, type: DASHBOARD, url: https://...}`.",
        "slo": "Add `info.x-cortex-slos` or `info.x-cortex-custom-metadata: {slo: https://...}`.",
        "lifecycle": "Add `info.x-cortex-custom-metadata: {lifecycle: production}`.",
        "system": "Add `info.x-cortex-custom-metadata: {system: <system>}`.",
        "invalid-owner": "Write one group: `info.x-cortex-owners: [{type: group, name: <team>}]`.",
    },
}

_ENTITY_NAME = r"[A-Za-z0-9](?:[-_.]?[A-Za-z0-9]){0,62}"
_OWNER_RES = (
    # Backstage entity reference: [kind:][namespace/]name (owners are groups or users);
    # OpsLevel team aliases are plain names.
    re.compile(rf"^(?:(?:group|user):)?(?:[a-z0-9]+(?:-[a-z0-9]+)*/)?{_ENTITY_NAME}$", re.I),
    re.compile(r"^@[A-Za-z0-9](?:-?[A-Za-z0-9])*(?:/[A-Za-z0-9._-]+)?$"),  # GitHub handle
    re.compile(r"^[^@\s,]+@[^@\s,]+\.[^@\s,]+$"),  # email
)


def check_manifests(ctx: Context) -> Iterable[Finding]:
    """Every manifest finding for `ctx.services`, in service order (deterministic)."""
    findings: list[Finding] = []
    for service in ctx.services:
        findings.extend(_check_values(ctx, service))
        findings.extend(_check_required(ctx, service))
        findings.extend(_check_ownership(ctx, service))
    findings.extend(_check_duplicates(ctx))
    return findings


def required_fields(service: Service, requirements: ManifestRequirements) -> dict[str, str]:
    """The fields the policy requires of `service`, each with the reason (first reason wins)."""
    reasons: dict[str, str] = {}
    for field in requirements.always:
        reasons.setdefault(field, "every service")
    if service.tier and is_normal_tier(service.tier):
        for key, fields in requirements.by_tier.items():
            if normalise_tier(key) == service.tier:
                for field in fields:
                    reasons.setdefault(field, f"tier {service.tier} services")
    for data_class in service.data:
        for field in requirements.by_data.get(data_class, ()):
            reasons.setdefault(field, f"services holding {data_class.upper()} data")
    return reasons


def is_valid_owner(owner: str, source: str = "backstage") -> bool:
    """Whether an owner is one team or user reference (Cortex group names are free text)."""
    if source == "cortex":
        return bool(owner.strip()) and "," not in owner
    return any(pattern.match(owner) for pattern in _OWNER_RES)


def _check_required(ctx: Context, service: Service) -> list[Finding]:
    out = []
    required = required_fields(service, ctx.policy.manifests)
    for field, rule_id in FIELD_RULES.items():
        if field not in required or getattr(service, field):
            continue
        if field == "owner" and not _codeowners_of(ctx, service.manifest):
            continue  # reported as manifest/no-owner, which says more
        message = (
            f"service {service.name!r} declares no {_LABELS[field]}"
            f" ({required[field]} must; policy manifests)"
        )
        out.append(_finding(ctx, rule_id, message, service, _anchor(service, field), field))
    return out


def _check_values(ctx: Context, service: Service) -> list[Finding]:
    out = []
    if service.tier and not is_normal_tier(service.tier):
        message = f"service {service.name!r} has tier {service.tier!r}, which is not a tier number"
        line = service.line_of("tier")
        out.append(_finding(ctx, "manifest/invalid-tier", message, service, line, "tier"))
    known = {*KNOWN_DATA, *ctx.policy.manifests.by_data}
    unknown = [d for d in service.data if d not in known]
    if "none" in service.data and len(service.data) > 1:
        unknown.append("none (with other classes)")
    if unknown:
        message = f"service {service.name!r} has unknown data classification {', '.join(unknown)}"
        line = service.line_of("data")
        rule = "manifest/invalid-data-classification"
        out.append(_finding(ctx, rule, message, service, line, "data"))
    if service.owner and not is_valid_owner(service.owner, service.source):
        message = f"service {service.name!r} has owner {service.owner!r}, not a team or user"
        fix = _FIXES[service.source]["invalid-owner"]
        line = service.line_of("owner")
        out.append(_finding(ctx, "manifest/invalid-owner", message, service, line, "owner", fix))
    return out


def _check_ownership(ctx: Context, service: Service) -> list[Finding]:
    codeowners = _codeowners_of(ctx, service.manifest)
    if not service.owner:
        if codeowners:
            return []
        message = (
            f"service {service.name!r} has no owner: the manifest names none and no CODEOWNERS"
            f" rule covers {service.manifest}"
        )
        line = _anchor(service, "owner")
        return [_finding(ctx, "manifest/no-owner", message, service, line, "owner")]
    if not codeowners or not is_valid_owner(service.owner, service.source):
        return []
    if any(owners_match(service.owner, owner) for owner in codeowners):
        return []
    how = ""
    if group_slug(service.owner) is not None:
        # A catalog group is not a GitHub team: compare only once it is mapped to one.
        mapping = ctx.owner_teams.mapping(service.owner)
        if mapping is None:
            return []
        if mapping.teams & {t for c in codeowners if "/" in c and (t := team_slug(c))}:
            return []
        how = f" ({mapping.source})"
    message = (
        f"service {service.name!r} is owned by {service.owner!r} in the manifest{how}, but"
        f" CODEOWNERS assigns {service.manifest} to {', '.join(codeowners)}"
    )
    line = service.line_of("owner")
    return [_finding(ctx, "manifest/owner-mismatch", message, service, line, "owner")]


def _check_duplicates(ctx: Context) -> list[Finding]:
    """A name declared twice, except one service described for two tools in one directory."""
    out = []
    seen: dict[str, list[Service]] = {}
    for service in ctx.services:
        earlier = seen.setdefault(service.name.lower(), [])
        clash = next(
            (e for e in earlier if e.source == service.source or e.path != service.path), None
        )
        earlier.append(service)
        if clash is None:
            continue
        where = f"{clash.manifest} line {clash.line}"
        message = f"service name {service.name!r} is already declared in {where}"
        out.append(_finding(ctx, "manifest/duplicate-name", message, service, service.line, "name"))
    return out


def _codeowners_of(ctx: Context, path: str) -> tuple[str, ...]:
    if ctx.codeowners is None:
        return ()
    match = ctx.codeowners.owners_of(path)
    return tuple(match.owners) if match is not None else ()


def _anchor(service: Service, field: str) -> int:
    return service.line_of(_ANCHORS.get(field, "annotations"))


def _finding(
    ctx: Context,
    rule_id: str,
    message: str,
    service: Service,
    line: int,
    field: str,
    fix: str | None = None,
) -> Finding:
    if fix is None and rule_id in FIELD_RULES.values():
        fix = _FIXES[service.source][field]
    return ctx.finding(
        rule_id,
        message,
        path=service.manifest,
        line=line,
        subject=f"{service.name}:{field}",
        fix=fix,
        service=service.name,
    )

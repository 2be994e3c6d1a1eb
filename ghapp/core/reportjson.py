"""Reading a report back from its JSON (`Report.to_json`), e.g. an evaluation stored by the app.

The inverse of the `to_json` methods in ghapp.core.model: keys that a newer writer added are
ignored and keys an older writer did not have take their defaults, so stored reports of any
version since 1 can be read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ghapp.core.model import (
    SEVERITIES,
    AppliedWaiver,
    CategoryCoverage,
    Conclusion,
    FileOwners,
    Finding,
    OwnerSource,
    OwnerSuggestion,
    PolicyInfo,
    PolicyLayer,
    Report,
    ScanSite,
    Service,
    ServiceCoverage,
    Severity,
    Source,
)

CONCLUSIONS: tuple[Conclusion, ...] = ("success", "neutral", "failure")


def report_from_json(data: Mapping[str, Any]) -> Report:
    """The Report that `Report.to_json` turned into `data`."""
    conclusion = str(data.get("conclusion", "neutral"))
    policy = data.get("policy")
    return Report(
        conclusion=next((c for c in CONCLUSIONS if c == conclusion), "neutral"),
        findings=tuple(finding_from_json(f) for f in data.get("findings") or ()),
        coverage={k: _coverage(v) for k, v in (data.get("coverage") or {}).items()},
        services=tuple(_service(s) for s in data.get("services") or ()),
        files=tuple(_file(f) for f in data.get("files") or ()),
        policy_configured=bool(data.get("policy_configured", policy is not None)),
        notes=tuple(str(n) for n in data.get("notes") or ()),
        policy=_policy(policy) if isinstance(policy, Mapping) else None,
        service_coverage=tuple(_service_coverage(c) for c in data.get("service_coverage") or ()),
        codeowners_path=_opt(data.get("codeowners_path")),
        compared_to_base=bool(data.get("compared_to_base", False)),
    )


def finding_from_json(data: Mapping[str, Any]) -> Finding:
    severity = str(data.get("severity", "notice"))
    source = data.get("owner_source")
    waiver = data.get("waiver_detail")
    suggested = data.get("suggested_owner")
    return Finding(
        rule=str(data["rule"]),
        severity=_severity(severity),
        message=str(data.get("message", "")),
        path=_opt(data.get("path")),
        line=_int(data.get("line")),
        column=_int(data.get("column")),
        owners=tuple(str(o) for o in data.get("owners") or ()),
        fix=_opt(data.get("fix")),
        service=_opt(data.get("service")),
        subject=str(data.get("subject", "")),
        suggestion=_opt(data.get("suggestion")),
        new=bool(data.get("new", True)),
        waived=bool(data.get("waived", False)),
        waiver=_opt(data.get("waiver")),
        owner_source=_owner_source(source) if isinstance(source, Mapping) else None,
        waiver_detail=_waiver(waiver) if isinstance(waiver, Mapping) else None,
        suggested_owner=_suggested(suggested) if isinstance(suggested, Mapping) else None,
    )


def _suggested(data: Mapping[str, Any]) -> OwnerSuggestion:
    return OwnerSuggestion(
        owner=str(data.get("owner", "")),
        score=float(data.get("score") or 0.0),
        evidence=tuple(str(e) for e in data.get("evidence") or ()),
        rule=_opt(data.get("rule")),
    )


def _severity(value: str) -> Severity:
    return next((s for s in SEVERITIES if s == value), "notice")


def _owner_source(data: Mapping[str, Any]) -> OwnerSource:
    return OwnerSource(
        kind=str(data.get("kind", "check")),
        path=_opt(data.get("path")),
        line=_int(data.get("line")),
        pattern=_opt(data.get("pattern")),
        validated=bool(data.get("validated", True)),
    )


def _waiver(data: Mapping[str, Any]) -> AppliedWaiver:
    return AppliedWaiver(
        rule=str(data.get("rule", "")),
        approved_by=str(data.get("approved_by", "")),
        reason=str(data.get("reason", "")),
        until=_opt(data.get("until")),
        source=_opt(data.get("source")),
        line=_int(data.get("line")),
        path=_opt(data.get("path")),
        service=_opt(data.get("service")),
    )


def _service(data: Mapping[str, Any]) -> Service:
    lines = data.get("lines") or {}
    return Service(
        name=str(data.get("name", "")),
        path=str(data.get("path", "")),
        manifest=str(data.get("manifest", "")),
        source=str(data.get("source", "backstage")),
        owner=_opt(data.get("owner")),
        oncall=tuple(str(o) for o in data.get("oncall") or ()),
        tier=_opt(data.get("tier")),
        data=tuple(str(d) for d in data.get("data") or ()),
        lifecycle=_opt(data.get("lifecycle")),
        system=_opt(data.get("system")),
        runbook=_opt(data.get("runbook")),
        dashboard=_opt(data.get("dashboard")),
        slo=_opt(data.get("slo")),
        line=_int(data.get("line")) or 1,
        lines=tuple((str(k), int(v)) for k, v in lines.items() if isinstance(v, int)),
        owner_as_written=_opt(data.get("owner_as_written")),
    )


def _source(data: Mapping[str, Any]) -> Source:
    return Source(str(data.get("path", "")), _int(data.get("line")))


def _site(data: Mapping[str, Any]) -> ScanSite:
    return ScanSite(
        tool=str(data.get("tool", "")),
        path=str(data.get("path", "")),
        line=_int(data.get("line")),
        workflow=str(data.get("workflow", "")),
        job=_opt(data.get("job")),
        step=_opt(data.get("step")),
        on_pull_request=bool(data.get("on_pull_request", False)),
        blocking=bool(data.get("blocking", False)),
        why_not_on_pull_request=_opt(data.get("why_not_on_pull_request")),
        why_not_blocking=_opt(data.get("why_not_blocking")),
    )


def _coverage(data: Mapping[str, Any]) -> CategoryCoverage:
    return CategoryCoverage(
        configured=bool(data.get("configured", False)),
        on_pull_request=bool(data.get("on_pull_request", False)),
        blocking=bool(data.get("blocking", False)),
        tools=tuple(str(t) for t in data.get("tools") or ()),
        sources=tuple(_source(s) for s in data.get("sources") or ()),
        signals=tuple(_source(s) for s in data.get("signals") or ()),
        sites=tuple(_site(s) for s in data.get("sites") or ()),
    )


def _service_coverage(data: Mapping[str, Any]) -> ServiceCoverage:
    return ServiceCoverage(
        service=str(data.get("service", "")),
        categories={k: _coverage(v) for k, v in (data.get("categories") or {}).items()},
        required=tuple(str(c) for c in data.get("required") or ()),
    )


def _file(data: Mapping[str, Any]) -> FileOwners:
    return FileOwners(
        path=str(data.get("path", "")),
        owners=tuple(str(o) for o in data.get("owners") or ()),
        line=_int(data.get("line")),
        pattern=_opt(data.get("pattern")),
        service=_opt(data.get("service")),
    )


def _policy(data: Mapping[str, Any]) -> PolicyInfo:
    return PolicyInfo(
        configured=bool(data.get("configured", False)),
        enforce=bool(data.get("enforce", True)),
        layers=tuple(
            PolicyLayer(str(x.get("name", "")), str(x.get("path", "")), tuple(x.get("keys") or ()))
            for x in data.get("layers") or ()
        ),
        locked=tuple(str(k) for k in data.get("locked") or ()),
        waivers=tuple(_waiver(w) for w in data.get("waivers") or ()),
        expired_waivers=tuple(_waiver(w) for w in data.get("expired_waivers") or ()),
    )


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None

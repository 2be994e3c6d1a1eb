"""The details page of one evaluation: `/{owner}/{repo}/checks/{head_sha}` (the check run's
`details_url`). Everything the evaluation knew, with provenance, rendered from the stored report
without calling GitHub (only the access check does, cached)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ghapp.core.catalog import Catalog
from ghapp.core.model import CATEGORIES, Finding, OwnerSource, Report, Service
from ghapp.render.markdown import CATEGORY_NAMES
from ghapp.render.sections import (
    UNOWNED_GROUP,
    Counts,
    blocking,
    coverage_state,
    enforcing,
    owner_key,
    touched_services,
)
from ghapp.settings import Settings
from ghapp.store.evaluations import EvaluationStore, StoredEvaluation
from ghapp.web.auth import Access, PageNotFound, account
from ghapp.web.templating import render_page

_SHA = re.compile(r"^[0-9a-f]{7,64}$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
MAX_FINDINGS_SHOWN = 1000
MAX_FILES_SHOWN = 500
STATES = {
    "blocking": "Blocking",
    "new": "New",
    "existing": "Existing",
    "waived": "Waived",
}
STATE_ORDER = {"blocking": 0, "new": 1, "existing": 2, "waived": 3}
SERVICE_FIELDS = ("owner", "oncall", "tier", "data", "runbook", "dashboard", "slo", "lifecycle")


@dataclass(frozen=True)
class Filters:
    owner: str = ""
    severity: str = ""
    state: str = ""

    @classmethod
    def of(cls, request: Request) -> Filters:
        q = request.query_params
        severity = q.get("severity", "")
        state = q.get("state", "")
        return cls(
            owner=q.get("owner", "")[:300],
            severity=severity if severity in ("error", "warning", "notice") else "",
            state=state if state in STATES else "",
        )

    def keep(self, f: Finding, blocking_ids: set[int]) -> bool:
        if self.owner and owner_key(f) != self.owner:
            return False
        if self.severity and f.severity != self.severity:
            return False
        return (
            not self.state
            or state_of(f, blocking_ids) == self.state
            or (self.state == "new" and state_of(f, blocking_ids) == "blocking")
        )

    @property
    def active(self) -> bool:
        return bool(self.owner or self.severity or self.state)


def state_of(f: Finding, blocking_ids: set[int]) -> str:
    if f.waived:
        return "waived"
    if id(f) in blocking_ids:
        return "blocking"
    return "new" if f.new else "existing"


def details_page(
    settings: Settings, store: EvaluationStore, access: Access, catalog: Catalog
) -> Any:
    """The endpoint (wrap it with `auth.guarded`)."""

    async def page(request: Request) -> Response:
        owner, name = request.path_params["owner"], request.path_params["repo"]
        sha = request.path_params["sha"].lower()
        if not (_NAME.match(owner) and _NAME.match(name) and _SHA.match(sha)):
            raise PageNotFound(request.url.path)
        repo = f"{owner}/{name}"
        await access.require_repo_access(request, repo)
        stored = await asyncio.to_thread(store.latest, repo, sha)
        user = account(request, access)
        if stored is None:
            return render_page(
                "message.html",
                status_code=404,
                heading="No evaluation stored for this commit",
                message=f"ghapp has no evaluation of {repo} at {sha[:12]}: it may still be "
                "running, or be older than the retention period.",
                **user,
            )
        context = await asyncio.to_thread(
            page_context, settings, stored, catalog, Filters.of(request)
        )
        return render_page("checks.html", **context, **user)

    return page


def page_context(
    settings: Settings, stored: StoredEvaluation, catalog: Catalog, filters: Filters
) -> dict[str, Any]:
    """Everything the template shows (a plain function: tests call it directly)."""
    record = stored.record
    report = stored.report or Report("neutral", ())
    web = settings.github_web_url
    repo_url = f"{web}/{record.repository}"
    blocking_ids = {id(f) for f in blocking(report.findings)} if enforcing(report) else set()
    chosen = sorted(
        (f for f in report.findings if filters.keep(f, blocking_ids)),
        key=lambda f: STATE_ORDER[state_of(f, blocking_ids)],  # what blocks first; stable
    )
    findings = [
        _finding(f, catalog, blocking_ids, repo_url, record.head_sha)
        for f in chosen[:MAX_FINDINGS_SHOWN]
    ]
    return {
        "record": record,
        "report": report,
        "short_sha": record.head_sha[:12],
        "repo_url": repo_url,
        "pr_url": f"{repo_url}/pull/{record.pr_number}" if record.pr_number else None,
        "counts": Counts.of(report.findings),
        "enforced": enforcing(report),
        "filters": filters,
        "owners": sorted({owner_key(f) for f in report.findings}, key=_owner_order),
        "states": STATES,
        "findings": findings,
        "findings_total": len(chosen),
        "findings_cut": max(0, len(chosen) - MAX_FINDINGS_SHOWN),
        "services": [_service(s, repo_url, record.head_sha) for s in report.services],
        "touched": _touched(report),
        "coverage": _coverage(report),
        "categories": [(c, CATEGORY_NAMES[c]) for c in CATEGORIES],
        "policy": report.policy,
        "files": report.files[:MAX_FILES_SHOWN],
        "files_cut": max(0, len(report.files) - MAX_FILES_SHOWN),
    }


def _owner_order(owner: str) -> tuple[bool, str]:
    return (owner == UNOWNED_GROUP, owner.lower())


def _finding(
    f: Finding, catalog: Catalog, blocking_ids: set[int], repo_url: str, sha: str
) -> dict[str, Any]:
    rule = catalog.rules.get(f.rule)
    link = None
    if f.path:
        link = f"{repo_url}/blob/{sha}/{f.path}" + (f"#L{f.line}" if f.line else "")
    return {
        "f": f,
        "title": rule.title if rule else f.rule,
        "rationale": rule.rationale if rule else None,
        "docs": rule.docs if rule else None,
        "state": state_of(f, blocking_ids),
        "where": f"{f.path}:{f.line}" if f.path and f.line else (f.path or "repository"),
        "link": link,
        "owners": list(f.owners),
        "why_owner": why_owner(f.owner_source),
    }


def why_owner(source: OwnerSource | None) -> str:
    """A sentence saying what decided a finding's owners."""
    if source is None:
        return "No CODEOWNERS rule or service manifest covers this path."
    where = f"{source.path} line {source.line}" if source.line else (source.path or "")
    if source.kind == "codeowners":
        return f"CODEOWNERS: the last matching rule, `{source.pattern}` ({where})."
    if source.kind == "codeowners-file":
        return (
            "Nobody owns the file, so the owners of the CODEOWNERS file decide: "
            f"`{source.pattern}` ({where})."
        )
    if source.kind == "manifest":
        note = "" if source.validated else " (as written: not a team CODEOWNERS names)"
        return f"The owner of the service, from its manifest ({where}){note}."
    return "Named by the check itself."


def _service(s: Service, repo_url: str, sha: str) -> dict[str, Any]:
    lines = dict(s.lines)
    rows = []
    for name in SERVICE_FIELDS:
        value = getattr(s, name)
        shown = ", ".join(value) if isinstance(value, tuple) else value
        line = lines.get(name)
        source = f"{s.manifest} line {line}" if line else s.manifest
        source = source if shown else "not set"
        if name == "owner" and s.owner_as_written:
            source += f"; `{s.owner_as_written}` resolved to the CODEOWNERS team"
        rows.append({"field": name, "value": shown or "", "source": source})
    return {
        "s": s,
        "rows": rows,
        "link": f"{repo_url}/blob/{sha}/{s.manifest}#L{s.line}",
    }


def _touched(report: Report) -> list[dict[str, Any]]:
    out = []
    for service, coverage in touched_services(report):
        cells = []
        for category in CATEGORIES:
            c = coverage.categories.get(category) if coverage else None
            state = coverage_state(c.configured, c.on_pull_request, c.blocking) if c else "missing"
            required = bool(coverage and category in coverage.required)
            cells.append({"state": state, "required": required})
        out.append({"name": service.name, "cells": cells})
    return out


def _coverage(report: Report) -> list[dict[str, Any]]:
    out = []
    for category in CATEGORIES:
        c = report.coverage.get(category)
        if c is None:
            continue
        out.append(
            {
                "category": category,
                "label": CATEGORY_NAMES[category],
                "state": coverage_state(c.configured, c.on_pull_request, c.blocking),
                "c": c,
            }
        )
    return out

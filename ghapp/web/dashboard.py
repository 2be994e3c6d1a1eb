"""The organisation dashboard: `/orgs/{org}`, the team view `/orgs/{org}/teams/{team}` ("services
owned by @org/team"), and the same rows as files at `/orgs/{org}/services.csv` and
`/orgs/{org}/services.json` (the `ghapp report` formats), all taking the same filters as GET
parameters: `owner`, `tier`, `data`, `status` (compliant|failing), `rule` (a failing rule), `q`.

Everything renders from the dashboard's tables (ghapp.store.compliance): the short columns of
every service are read to filter and count, and only the rows shown (one page) are decoded.
Only members of the organisation see it (`Access.require_org_member`); anyone else gets 404.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ghapp.core.compliance import UNOWNED, ComplianceReport, ServiceRow
from ghapp.core.model import CATEGORIES
from ghapp.render.compliance import (
    CATEGORY_TITLES,
    STATE_TITLES,
    STATE_WORDS,
    percent,
    render_csv,
    render_json,
    state,
)
from ghapp.store.compliance import ComplianceStore, ServiceEntry, Snapshot
from ghapp.web.auth import Access, PageNotFound, account, guarded
from ghapp.web.templating import render_page
from ghapp.web.trend import WINDOW_DAYS, TrendPoint, trend_chart

_ORG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,38}$")
_TEAM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
PAGE_SIZE = 100
STATUSES = {"compliant": "Compliant", "failing": "Failing"}


@dataclass(frozen=True)
class Filters:
    """The GET filters; each is one exact value (`q` a case-insensitive substring)."""

    owner: str = ""
    tier: str = ""
    data: str = ""
    status: str = ""
    rule: str = ""
    q: str = ""

    @classmethod
    def of(cls, request: Request) -> Filters:
        get = request.query_params.get
        status = get("status", "")
        return cls(
            owner=get("owner", "")[:300],
            tier=get("tier", "")[:100],
            data=get("data", "")[:100],
            status=status if status in STATUSES else "",
            rule=get("rule", "")[:200],
            q=get("q", "")[:200].strip(),
        )

    def keep(self, e: ServiceEntry) -> bool:
        if self.owner and (e.owner or UNOWNED).casefold() != self.owner.casefold():
            return False
        if self.tier and e.tier != self.tier:
            return False
        if self.data and self.data not in e.data:
            return False
        if self.status and e.compliant != (self.status == "compliant"):
            return False
        if self.rule and self.rule not in e.failing:
            return False
        text = self.q.casefold()
        return not text or text in e.repository.casefold() or text in e.service.casefold()

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))

    def query(self, **changes: str) -> str:
        """`?owner=...&rule=...` with `changes` applied (empty values left out)."""
        chosen = replace(self, **changes)
        params = {f.name: getattr(chosen, f.name) for f in fields(chosen)}
        encoded = urlencode({k: v for k, v in params.items() if v})
        return f"?{encoded}" if encoded else "?"


def dashboard_routes(
    access: Access, store: ComplianceStore, clock: Callable[[], datetime] | None = None
) -> list[Route]:
    """The page, the team view and the two exports (wrapped with `auth.guarded`)."""
    now = clock or (lambda: datetime.now(UTC))

    async def org_page(request: Request) -> Response:
        org = await _member(request, access)
        return await _page(request, org, Filters.of(request), None)

    async def team_page(request: Request) -> Response:
        org = await _member(request, access)
        team = request.path_params["team"]
        if not _TEAM.match(team):
            raise PageNotFound(team)
        filters = replace(Filters.of(request), owner=f"@{org}/{team}")
        return await _page(request, org, filters, team)

    async def _page(request: Request, org: str, filters: Filters, team: str | None) -> Response:
        page = _page_number(request.query_params.get("page"))
        context = await asyncio.to_thread(
            page_context, store, org, filters, page, now().date(), team
        )
        return render_page("dashboard.html", **context, **account(request, access))

    async def export_csv(request: Request) -> Response:
        org = await _member(request, access)
        rows = await asyncio.to_thread(_export_rows, store, org, Filters.of(request))
        return _download(render_csv(rows), "text/csv; charset=utf-8", f"{org}-services.csv")

    async def export_json(request: Request) -> Response:
        org = await _member(request, access)
        rows = await asyncio.to_thread(_export_rows, store, org, Filters.of(request))
        stamp = now().isoformat(timespec="seconds").replace("+00:00", "Z")
        body = render_json(ComplianceReport(stamp, tuple(rows)))
        return _download(body, "application/json", f"{org}-services.json")

    return [
        Route("/orgs/{org}", guarded(access, org_page), methods=["GET"]),
        Route("/orgs/{org}/teams/{team}", guarded(access, team_page), methods=["GET"]),
        Route("/orgs/{org}/services.csv", guarded(access, export_csv), methods=["GET"]),
        Route("/orgs/{org}/services.json", guarded(access, export_json), methods=["GET"]),
    ]


async def _member(request: Request, access: Access) -> str:
    org = request.path_params["org"]
    if not _ORG.match(org):
        raise PageNotFound(org)
    await access.require_org_member(request, org)
    return str(org)


def _page_number(value: str | None) -> int:
    return int(value) if value and value.isdigit() and 0 < int(value) < 100_000 else 1


def _download(body: str, media_type: str, filename: str) -> Response:
    headers = {
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "private, no-store",
    }
    return Response(body, media_type=media_type, headers=headers)


def _export_rows(store: ComplianceStore, org: str, filters: Filters) -> list[ServiceRow]:
    return store.rows([e.id for e in store.entries(org) if filters.keep(e)])


def page_context(
    store: ComplianceStore,
    org: str,
    filters: Filters,
    page: int,
    today: date,
    team: str | None = None,
) -> dict[str, Any]:
    """Everything the template shows (a plain function: tests and benchmarks call it)."""
    entries = store.entries(org)
    chosen = [e for e in entries if filters.keep(e)]
    pages = max(1, -(-len(chosen) // PAGE_SIZE))
    page = min(page, pages)
    shown = chosen[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    full = store.rows_by_id([e.id for e in shown])
    rows = [(e, full[e.id]) for e in shown if e.id in full]
    compliant = sum(1 for e in chosen if e.compliant)
    since = (today - timedelta(days=WINDOW_DAYS - 1)).isoformat()
    snapshots = store.snapshots(org, since)
    return {
        "org": org,
        "team": team,
        "heading": f"Services owned by @{org}/{team}" if team else f"{org}: service compliance",
        "filters": filters,
        "facets": _facets(entries),
        "statuses": STATUSES,
        "total": len(chosen),
        "all_services": len(entries),
        "compliant": compliant,
        "compliant_share": percent(compliant, len(chosen)),
        "repositories": len({e.repository for e in chosen}),
        "oldest": _oldest(chosen),
        "rules": _rule_counts(chosen),
        "owners": _owner_counts(chosen, org),
        "rows": [_row(org, entry, row) for entry, row in rows],
        "categories": [(c, CATEGORY_TITLES[c]) for c in CATEGORIES],
        "page": page,
        "pages": pages,
        "first_shown": (page - 1) * PAGE_SIZE + 1 if shown else 0,
        "last_shown": (page - 1) * PAGE_SIZE + len(shown),
        "chart": trend_chart(_trend(snapshots, entries, filters.owner, today), today),
        "export_query": filters.query(),
        "prev_url": _page_url(filters, page - 1) if page > 1 else None,
        "next_url": _page_url(filters, page + 1) if page < pages else None,
    }


def _page_url(filters: Filters, page: int) -> str:
    query = filters.query()
    return f"{query}{'' if query == '?' else '&'}page={page}"


def _facets(entries: Sequence[ServiceEntry]) -> dict[str, list[str]]:
    """The values each filter offers (from every service of the organisation)."""
    return {
        "owners": sorted({e.owner or UNOWNED for e in entries}, key=lambda o: (o == UNOWNED, o)),
        "tiers": sorted({e.tier for e in entries if e.tier}, key=lambda t: (len(t), t)),
        "data": sorted({d for e in entries for d in e.data}),
        "rules": sorted({r for e in entries for r in e.failing}),
    }


def _rule_counts(entries: Sequence[ServiceEntry]) -> list[tuple[str, int]]:
    counted = Counter(rule for e in entries for rule in e.failing)
    return sorted(counted.items(), key=lambda kv: (-kv[1], kv[0]))


def _owner_counts(entries: Sequence[ServiceEntry], org: str) -> list[dict[str, Any]]:
    counted: dict[str, list[int]] = {}
    for e in entries:
        counts = counted.setdefault(e.owner or UNOWNED, [0, 0])
        counts[0] += 1
        counts[1] += e.compliant
    out = []
    for owner, (services, compliant) in counted.items():
        out.append(
            {
                "owner": owner,
                "services": services,
                "compliant": compliant,
                "share": percent(compliant, services),
                "team": _team_slug(owner, org),
            }
        )
    return sorted(out, key=lambda o: (o["owner"] == UNOWNED, -o["services"], o["owner"]))


def _team_slug(owner: str, org: str) -> str | None:
    """`payments` for `@org/payments` (a team of this organisation), else None."""
    prefix = f"@{org}/".casefold()
    if owner.casefold().startswith(prefix) and _TEAM.match(owner[len(prefix) :]):
        return owner[len(prefix) :]
    return None


def _oldest(entries: Sequence[ServiceEntry]) -> str | None:
    if not entries:
        return None
    moment = datetime.fromtimestamp(min(e.evaluated_at for e in entries), UTC)
    return moment.strftime("%Y-%m-%d %H:%M")


def _trend(
    snapshots: Sequence[Snapshot], entries: Sequence[ServiceEntry], owner: str, today: date
) -> list[TrendPoint]:
    """Daily points (an owner's, when filtered by owner), today's from the live rows."""
    points = []
    for snap in snapshots:
        if snap.day == today.isoformat():
            continue
        if owner:
            found = next(
                (v for k, v in snap.by_owner.items() if k.casefold() == owner.casefold()), None
            )
            if found is not None:
                points.append(TrendPoint(snap.day, found[0], found[1]))
        else:
            points.append(TrendPoint(snap.day, snap.services, snap.compliant))
    live = [e for e in entries if not owner or (e.owner or UNOWNED).casefold() == owner.casefold()]
    if live:
        points.append(TrendPoint(today.isoformat(), len(live), sum(e.compliant for e in live)))
    return points


def _row(org: str, entry: ServiceEntry, row: ServiceRow) -> dict[str, Any]:
    cells = []
    for category in CATEGORIES:
        s = state(row, category)
        cells.append({"state": s, "word": STATE_WORDS[s], "title": STATE_TITLES[s]})
    return {
        "r": row,
        "details": f"/{row.repository}/checks/{entry.head_sha}",
        "team": _team_slug(row.owner, org) if row.owner else None,
        "cells": cells,
    }

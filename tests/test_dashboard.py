"""The organisation dashboard through Starlette's TestClient, GitHub's access answers mocked:
members see every service with filters, the team view and exports of the same rows; anyone else
gets 404. The rows come from default-branch evaluations saved the way the app saves them."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from ghapp.app.checkrun import KIND_BRANCH, KIND_PULL_REQUEST, EvaluationRecord
from ghapp.core.model import CategoryCoverage, Finding, Report, Service, ServiceCoverage
from ghapp.store.evaluations import EvaluationStore
from ghapp.store.service import Store
from ghapp.web.dashboard import Filters
from ghapp.web.routes import web_routes
from ghapp.web.trend import TrendPoint, trend_chart
from tests.apphelpers import API, TestClient, make_settings

WEB = "https://github.com"
NOW = datetime(2025, 6, 2, 12, 0, tzinfo=UTC)


def service(name: str, owner: str, tier: str = "1", data: tuple[str, ...] = ()) -> Service:
    return Service(
        name=name,
        path=f"services/{name}",
        manifest=f"services/{name}/catalog-info.yaml",
        owner=owner,
        tier=tier,
        data=data,
        oncall=("pagerduty:P1",) if tier == "1" else (),
        lines=(("owner", 7),),
    )


def report(services: tuple[Service, ...], failing: dict[str, str]) -> Report:
    """Each service with blocking SAST coverage; `failing` maps a service to the rule it fails."""
    blocks = CategoryCoverage(configured=True, on_pull_request=True, blocking=True)
    findings = tuple(
        Finding(rule, "error", f"{rule} in {name}", path=f"services/{name}/x", service=name)
        for name, rule in failing.items()
    )
    return Report(
        "failure" if findings else "success",
        findings,
        services=services,
        service_coverage=tuple(ServiceCoverage(s.name, {"sast": blocks}) for s in services),
        codeowners_path=".github/CODEOWNERS",
    )


def save(store: EvaluationStore, repo: str, sha: str, rep: Report, **changes: Any) -> None:
    values: dict[str, Any] = {
        "repository": repo,
        "head_sha": sha,
        "kind": KIND_BRANCH,
        "evaluated_at": NOW,
        "conclusion": rep.conclusion,
        "title": "t",
        "report": rep.to_json(),
        "installation_id": 77,
        "ref": "main",
        "default_branch": True,
    }
    values.update(changes)
    store.save(EvaluationRecord(**values))


@pytest.fixture
def store(tmp_path: Path) -> EvaluationStore:
    evaluations = Store.open(f"sqlite:///{tmp_path}/ghapp.db").evaluations
    shop = (service("payments", "@acme/payments", data=("pci",)), service("cart", "@acme/web"))
    save(evaluations, "acme/shop", "a" * 40, report(shop, {"payments": "k8s/privileged"}))
    web = (service("site", "@acme/web", tier="3"),)
    save(evaluations, "acme/web", "b" * 40, report(web, {}))
    ledger = (service("ledger", "@acme/payments", tier="2", data=("pci", "pii")),)
    save(
        evaluations, "acme/ledger", "c" * 40, report(ledger, {"ledger": "manifest/missing-oncall"})
    )
    return evaluations


def client(store: EvaluationStore) -> TestClient:
    settings = make_settings(
        public_url="https://ghapp.example.com", github_client_id="Iv1.abc", github_client_secret="s"
    )
    return TestClient(web_routes(settings, store).app, base_url="https://ghapp.example.com")


def sign_in(c: TestClient, router: respx.Router, *, member: bool = True) -> TestClient:
    start = c.get("/login?next=/orgs/acme", follow_redirects=False)
    state = httpx.URL(start.headers["location"]).params["state"]
    router.post(f"{WEB}/login/oauth/access_token").respond(json={"access_token": "ghu_x"})
    router.get(f"{API}/user").respond(json={"login": "octocat", "id": 7})
    c.get(f"/login/callback?code=c0de&state={state}", follow_redirects=False)
    router.post(url__regex=rf"{API}/app/installations/\d+/access_tokens").respond(
        201, json={"token": "t", "expires_at": "2099-01-01T00:00:00Z"}
    )
    router.get(f"{API}/orgs/acme/installation").respond(json={"id": 77})
    membership = router.get(f"{API}/user/memberships/orgs/acme")
    if member:
        membership.respond(json={"state": "active"})
    else:
        membership.respond(404, json={"message": "Not Found"})
    return c


@pytest.fixture
def member(store: EvaluationStore) -> Iterator[TestClient]:
    with respx.mock(assert_all_called=False) as router:
        yield sign_in(client(store), router)


def services_in(page: str) -> list[str]:
    return [line.split("<br>")[0] for line in page.split('<th scope="row">')[1:]]


def test_a_member_sees_every_service_with_counts_rules_and_owners(member: TestClient) -> None:
    page = member.get("/orgs/acme")
    assert page.status_code == 200
    assert services_in(page.text) == ["ledger", "cart", "payments", "site"]  # by repository
    assert "<strong>4</strong>services" in page.text
    assert "<strong>2</strong>compliant (50%)" in page.text
    assert (
        '?rule=k8s%2Fprivileged#services"><code>k8s/privileged</code></a></td><td class="num">1'
        in (page.text)
    )
    assert 'href="/orgs/acme/teams/payments"' in page.text  # owner teams link to the team view
    assert 'href="/acme/shop/checks/' + "a" * 40 + '"' in page.text  # the evaluation's details
    assert "<svg" in page.text and "<polyline" not in page.text  # one day: one dot, no line
    assert page.text.count('<circle class="dot"') == 1
    assert "<script" not in page.text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("owner=%40acme%2Fpayments", ["ledger", "payments"]),
        ("tier=1", ["cart", "payments"]),
        ("data=pii", ["ledger"]),
        ("status=failing", ["ledger", "payments"]),
        ("status=compliant", ["cart", "site"]),
        ("rule=manifest%2Fmissing-oncall", ["ledger"]),
        ("q=SHO", ["cart", "payments"]),
        ("owner=%40acme%2Fpayments&status=compliant", []),
    ],
)
def test_filters_narrow_the_table(member: TestClient, query: str, expected: list[str]) -> None:
    page = member.get(f"/orgs/acme?{query}")
    assert page.status_code == 200
    assert services_in(page.text) == expected


def test_the_team_view_lists_the_services_a_team_owns(member: TestClient) -> None:
    page = member.get("/orgs/acme/teams/payments")
    assert page.status_code == 200
    assert "Services owned by @acme/payments" in page.text
    assert services_in(page.text) == ["ledger", "payments"]
    assert '/orgs/acme/services.csv?owner=%40acme%2Fpayments"' in page.text


def test_csv_export_has_the_same_rows_flattened(member: TestClient) -> None:
    answer = member.get("/orgs/acme/services.csv?owner=%40acme%2Fweb")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"] == 'attachment; filename="acme-services.csv"'
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [(r["repository"], r["service"]) for r in rows] == [
        ("acme/shop", "cart"),
        ("acme/web", "site"),
    ]
    assert rows[0]["coverage.sast.blocking"] == "true" and rows[0]["compliant"] == "true"
    assert rows[0]["owner"] == "@acme/web" and rows[0]["owner_source"].endswith(":7")


def test_json_export_is_the_report_contract(member: TestClient) -> None:
    data = member.get("/orgs/acme/services.json?status=failing").json()
    assert data["version"] == 1 and data["generated_at"]
    assert [s["service"] for s in data["services"]] == ["ledger", "payments"]
    assert data["summary"]["by_rule"] == {"k8s/privileged": 1, "manifest/missing-oncall": 1}
    assert data["services"][1]["failing"] == ["k8s/privileged"]


def test_a_non_member_gets_404_for_the_page_and_the_exports(store: EvaluationStore) -> None:
    with respx.mock(assert_all_called=False) as router:
        c = sign_in(client(store), router, member=False)
        for path in ("/orgs/acme", "/orgs/acme/teams/payments", "/orgs/acme/services.csv"):
            answer = c.get(path)
            assert answer.status_code == 404, path
            assert "payments" not in answer.text


def test_no_session_is_sent_to_sign_in(store: EvaluationStore) -> None:
    answer = client(store).get("/orgs/acme/services.json", follow_redirects=False)
    assert answer.status_code == 302
    assert answer.headers["location"] == "/login?next=/orgs/acme/services.json"


def test_a_later_evaluation_replaces_the_repository_rows_and_pull_requests_do_not(
    store: EvaluationStore, member: TestClient
) -> None:
    fixed = (service("payments", "@acme/payments"),)  # cart removed, payments fixed
    later = datetime(2025, 6, 3, tzinfo=UTC)
    save(store, "acme/shop", "d" * 40, report(fixed, {}), evaluated_at=later)
    pr = report(fixed, {"payments": "k8s/privileged"})
    save(store, "acme/shop", "e" * 40, pr, kind=KIND_PULL_REQUEST, default_branch=False)
    save(store, "acme/shop", "f" * 40, pr, evaluated_at=NOW)  # older than what is shown
    assert services_in(member.get("/orgs/acme?q=shop").text) == ["payments"]
    assert "status-compliant" in member.get("/orgs/acme?q=shop").text


def test_the_trend_draws_one_point_per_day_within_the_window() -> None:
    points = [
        TrendPoint("2025-05-01", 10, 5),
        TrendPoint("2025-06-01", 10, 10),
        TrendPoint("2024-01-01", 10, 1),  # outside the 90 days
    ]
    chart = trend_chart(points, date(2025, 6, 1))
    assert [d.label for d in chart.dots] == [
        "2025-05-01: 5 of 10 compliant (50%)",
        "2025-06-01: 10 of 10 compliant (100%)",
    ]
    assert chart.dots[1].x == chart.right and chart.dots[1].y == chart.grid[2][0]  # top right
    assert chart.dots[0].y == chart.grid[1][0]  # halfway up
    assert len(chart.polyline.split()) == 2


def test_filters_keep_their_values_in_links() -> None:
    filters = Filters(owner="@acme/web", status="failing")
    assert filters.query() == "?owner=%40acme%2Fweb&status=failing"
    assert filters.query(rule="k8s/privileged", status="") == (
        "?owner=%40acme%2Fweb&rule=k8s%2Fprivileged"
    )
    assert Filters().query() == "?" and not Filters().active

"""Sign-in and access for the app's pages, through Starlette's TestClient with GitHub mocked."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from ghapp.app.checkrun import KIND_PULL_REQUEST, EvaluationRecord
from ghapp.core.model import Finding, Report
from ghapp.store.evaluations import EvaluationStore
from ghapp.store.service import Store
from ghapp.web.auth import safe_next
from ghapp.web.routes import web_routes
from tests.apphelpers import (
    API,
    TestClient,
    make_settings,
)

WEB = "https://github.com"
SHA = "a" * 40


@pytest.fixture
def store(tmp_path: Path) -> EvaluationStore:
    evaluations = Store.open(f"sqlite:///{tmp_path}/ghapp.db").evaluations
    report = Report(
        "failure", (Finding("k8s/privileged", "error", "runs `privileged`", path="a.yaml", line=3),)
    )
    evaluations.save(
        EvaluationRecord(
            repository="acme/shop",
            head_sha=SHA,
            kind=KIND_PULL_REQUEST,
            evaluated_at=datetime.now(UTC),
            conclusion="failure",
            title="1 blocking · 1 new · 0 existing",
            report=report.to_json(),
            pr_number=3,
        )
    )
    return evaluations


def client(store: EvaluationStore, **settings: Any) -> TestClient:
    config = make_settings(
        public_url="https://ghapp.example.com",
        github_client_id="Iv1.abc",
        github_client_secret="s3cret",
        **settings,
    )
    app = web_routes(config, store).app
    return TestClient(app, base_url="https://ghapp.example.com")


def sign_in(c: TestClient, router: respx.Router, login: str = "octocat") -> None:
    start = c.get("/login?next=/acme/shop/checks/" + SHA, follow_redirects=False)
    state = httpx.URL(start.headers["location"]).params["state"]
    router.post(f"{WEB}/login/oauth/access_token").respond(json={"access_token": "ghu_x"})
    router.get(f"{API}/user").respond(json={"login": login, "id": 7})
    done = c.get(f"/login/callback?code=c0de&state={state}", follow_redirects=False)
    assert done.headers["location"] == "/acme/shop/checks/" + SHA


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/acme/shop/checks/x", "/acme/shop/checks/x"),
        ("//evil.example", "/"),
        ("https://evil.example", "/"),
        ("/\\evil", "/"),
        (None, "/"),
    ],
)
def test_sign_in_only_returns_to_local_paths(value: str | None, expected: str) -> None:
    assert safe_next(value) == expected


def test_login_redirects_to_github_with_a_state_and_a_secure_session_cookie(
    store: EvaluationStore,
) -> None:
    answer = client(store).get("/login", follow_redirects=False)
    location = httpx.URL(answer.headers["location"])
    assert str(location).startswith(f"{WEB}/login/oauth/authorize?")
    assert location.params["client_id"] == "Iv1.abc" and len(location.params["state"]) >= 20
    assert location.params["redirect_uri"] == "https://ghapp.example.com/login/callback"
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" in cookie


def test_a_callback_with_a_foreign_state_is_refused(store: EvaluationStore) -> None:
    c = client(store)
    c.get("/login", follow_redirects=False)
    assert c.get("/login/callback?code=x&state=forged").status_code == 400


def test_signed_in_reader_sees_the_page_and_others_get_404(store: EvaluationStore) -> None:
    with respx.mock(assert_all_called=False) as router:
        c = client(store)
        sign_in(c, router)
        router.get(f"{API}/repos/acme/shop").respond(json={"permissions": {"pull": True}})
        page = c.get(f"/acme/shop/checks/{SHA}")
        assert page.status_code == 200 and "1 blocking" in page.text
        assert "<code>privileged</code>" in page.text  # backtick spans, HTML-escaped around
        assert c.get(f"/acme/shop/checks/{'b' * 40}").status_code == 404  # nothing stored
        router.get(f"{API}/repos/acme/secret").respond(404, json={"message": "Not Found"})
        assert c.get(f"/acme/secret/checks/{SHA}").status_code == 404


def test_a_rejected_token_means_signing_in_again(store: EvaluationStore) -> None:
    with respx.mock(assert_all_called=False) as router:
        c = client(store)
        sign_in(c, router)
        router.get(f"{API}/repos/acme/shop").respond(401, json={"message": "Bad credentials"})
        answer = c.get(f"/acme/shop/checks/{SHA}", follow_redirects=False)
        assert answer.status_code == 302 and answer.headers["location"].startswith("/login")


def test_org_pages_are_for_members_of_an_org_the_app_is_installed_on(
    store: EvaluationStore,
) -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    from ghapp.github.client import GitHubFactory
    from ghapp.github.oauth import OAuthClient
    from ghapp.web.auth import Access, auth_routes, guarded

    settings = make_settings(
        public_url="https://ghapp.example.com", github_client_id="Iv1.abc", github_client_secret="s"
    )
    access = Access(settings, OAuthClient(settings, GitHubFactory(settings)))

    async def org_page(request: Request) -> Response:
        user = await access.require_org_member(request, request.path_params["org"])
        return PlainTextResponse(f"hello {user.login}")

    app = Starlette(
        routes=[*auth_routes(access), Route("/orgs/{org}", guarded(access, org_page))],
        middleware=[access.session_middleware()],
    )
    with respx.mock(assert_all_called=False) as router:
        c = TestClient(app, base_url="https://ghapp.example.com")
        assert c.get("/orgs/acme", follow_redirects=False).headers["location"] == (
            "/login?next=/orgs/acme"
        )
        sign_in(c, router)
        router.get(f"{API}/orgs/acme/installation").respond(json={"id": 1})
        router.get(f"{API}/orgs/other/installation").respond(404, json={"message": "Not Found"})
        router.get(f"{API}/user/memberships/orgs/acme").respond(json={"state": "active"})
        router.get(f"{API}/user/memberships/orgs/rivals").respond(404, json={})
        router.get(f"{API}/orgs/rivals/installation").respond(json={"id": 2})
        router.post(url__regex=rf"{API}/app/installations/\d+/access_tokens").respond(
            201, json={"token": "t", "expires_at": "2099-01-01T00:00:00Z"}
        )
        assert c.get("/orgs/acme").text == "hello octocat"
        assert c.get("/orgs/rivals").status_code == 404  # installed, but not a member
        assert c.get("/orgs/other").status_code == 404  # the app is not installed there

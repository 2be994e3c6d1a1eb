"""The pages `ghapp serve` adds beside the webhook: sign-in, the evaluation details page and the
organisation dashboard (with its CSV and JSON exports).

`web_routes` returns one `Mount` carrying the session middleware, so the webhook, health and
metrics routes (mounted before it) never read or set a cookie.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from ghapp.core.catalog import Catalog
from ghapp.github.errors import GitHubError
from ghapp.github.oauth import OAuthClient
from ghapp.settings import Settings
from ghapp.store.evaluations import EvaluationStore
from ghapp.web.auth import Access, account, auth_routes, guarded
from ghapp.web.checks import details_page
from ghapp.web.dashboard import dashboard_routes
from ghapp.web.templating import render_page


def web_routes(
    settings: Settings,
    evaluations: EvaluationStore,
    *,
    github: Any = None,
    catalog: Catalog | None = None,
) -> Mount:
    """Sign-in (`/login`, `/login/callback`, `/logout`), `/{owner}/{repo}/checks/{sha}` and
    `/orgs/{org}` (ghapp.web.dashboard).
    `github` is the app's GitHubFactory (to ask whether the app is installed on a repository)."""
    if catalog is None:
        from ghapp.rules import default_catalog

        catalog = default_catalog()
    access = Access(settings, OAuthClient(settings, github))

    async def home(request: Request) -> Response:
        return render_page(
            "message.html",
            heading="ghapp",
            message="Pull-request governance: open a check run's details from a pull request, "
            "or your organisation's service compliance at /orgs/ORGANISATION.",
            **account(request, access),
        )

    async def github_down(request: Request, exc: Exception) -> Response:
        return render_page(
            "message.html",
            status_code=503,
            heading="GitHub did not answer",
            message="ghapp could not check your access with GitHub. Please try again shortly.",
        )

    page = guarded(access, details_page(settings, evaluations, access, catalog))
    app = Starlette(
        routes=[
            Route("/", home, methods=["GET"]),
            *auth_routes(access),
            Route("/{owner}/{repo}/checks/{sha}", page, methods=["GET"]),
            *dashboard_routes(access, evaluations.compliance),
        ],
        middleware=[access.session_middleware()],
        exception_handlers={GitHubError: github_down},
    )
    return Mount("", app=app)

"""Sign-in with GitHub for the app's pages, and the access checks every page reuses.

Sessions are Starlette's signed cookie (HttpOnly, SameSite=Lax, Secure when PUBLIC_URL is
https); the user's GitHub token inside is encrypted (Fernet), both keys derived from the app's
private key so every replica agrees without another secret to configure. Pages call
`require_repo_access` (the details page) or `require_org_member` (the dashboard): no session
redirects to `/login`; a user who may not see the page, or a repository or organisation the app
is not installed on, gets the same 404 as a page that does not exist. Answers are cached for a
minute per user so a page view costs no GitHub call most of the time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from cryptography.fernet import Fernet, InvalidToken
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ghapp.github.errors import GitHubError
from ghapp.github.oauth import OAuthClient, TokenRejected
from ghapp.settings import Settings
from ghapp.web.templating import render_page

SESSION_COOKIE = "ghapp_session"
SESSION_MAX_AGE = 8 * 3600  # GitHub's user tokens expire after eight hours too
CACHE_SECONDS = 60.0


class PageNotFound(Exception):
    """Answer 404 (also for pages the user may not see: they must not learn they exist)."""


class SignInRequired(Exception):
    """Answer with a redirect to `/login`, coming back to this page afterwards."""


@dataclass(frozen=True)
class SignedIn:
    login: str
    id: int
    token: str


class Access:
    """Sign-in state and access decisions for one server (shared by every page)."""

    def __init__(self, settings: Settings, oauth: OAuthClient) -> None:
        self.settings = settings
        self.oauth = oauth
        key = hmac.new(settings.private_key.encode(), b"ghapp token key v1", hashlib.sha256)
        self._fernet = Fernet(base64.urlsafe_b64encode(key.digest()))
        self._cache: OrderedDict[tuple[str, ...], tuple[float, bool]] = OrderedDict()

    def session_middleware(self) -> Middleware:
        secret = hmac.new(self.settings.private_key.encode(), b"ghapp session v1", hashlib.sha256)
        return Middleware(
            SessionMiddleware,
            secret_key=secret.hexdigest(),
            session_cookie=SESSION_COOKIE,
            max_age=SESSION_MAX_AGE,
            same_site="lax",
            https_only=(self.settings.public_url or "").startswith("https://"),
        )

    def current_user(self, request: Request) -> SignedIn | None:
        """The signed-in user, or None."""
        data = request.session.get("user")
        if not isinstance(data, dict):
            return None
        try:
            token = self._fernet.decrypt(str(data["token"]).encode()).decode()
            return SignedIn(str(data["login"]), int(data["id"]), token)
        except (InvalidToken, KeyError, ValueError):
            request.session.clear()
            return None

    def sign_in(self, request: Request, login: str, user_id: int, token: str) -> None:
        request.session["user"] = {
            "login": login,
            "id": user_id,
            "token": self._fernet.encrypt(token.encode()).decode(),
        }

    async def require_repo_access(self, request: Request, repo: str) -> SignedIn:
        """The user, if they may read `owner/name` and the app is installed on it."""
        user = self._require_user(request)
        allowed = await self._cached(
            ("repo", str(user.id), repo),
            lambda: self._repo_allowed(user, repo),
            request,
        )
        if not allowed:
            raise PageNotFound(repo)
        return user

    async def require_org_member(self, request: Request, org: str) -> SignedIn:
        """The user, if they are a member of `org` and the app is installed on it."""
        user = self._require_user(request)
        allowed = await self._cached(
            ("org", str(user.id), org.lower()),
            lambda: self._org_allowed(user, org),
            request,
        )
        if not allowed:
            raise PageNotFound(org)
        return user

    def _require_user(self, request: Request) -> SignedIn:
        user = self.current_user(request)
        if user is None:
            raise SignInRequired(request.url.path)
        return user

    async def _repo_allowed(self, user: SignedIn, repo: str) -> bool:
        return await self.oauth.app_installed_on(repo) and await self.oauth.can_read(
            user.token, repo
        )

    async def _org_allowed(self, user: SignedIn, org: str) -> bool:
        return await self.oauth.app_installed_on_org(org) and await self.oauth.is_org_member(
            user.token, org
        )

    async def _cached(
        self, key: tuple[str, ...], decide: Callable[[], Awaitable[bool]], request: Request
    ) -> bool:
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        try:
            allowed = await decide()
        except TokenRejected:
            request.session.clear()
            raise SignInRequired(request.url.path) from None
        self._cache[key] = (now, allowed)
        while len(self._cache) > 10_000:
            self._cache.popitem(last=False)
        return allowed


def safe_next(value: str | None) -> str:
    """A local path to return to after sign-in (anything else: the site root)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def login_redirect(path: str) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(path, safe='/')}", status_code=302)


def not_found() -> Response:
    return render_page(
        "message.html",
        status_code=404,
        heading="Not found",
        message="There is nothing here, or you do not have access to it.",
    )


def auth_routes(access: Access) -> list[Route]:
    """`/login`, its OAuth callback `/login/callback`, and `/logout`."""

    async def login(request: Request) -> Response:
        if not access.oauth.configured:
            return render_page(
                "message.html",
                status_code=503,
                heading="Sign-in is not configured",
                message="Set GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET and PUBLIC_URL.",
            )
        state = secrets.token_urlsafe(24)
        request.session["oauth_state"] = state
        request.session["next"] = safe_next(request.query_params.get("next"))
        return RedirectResponse(access.oauth.authorize_url(state), status_code=302)

    async def callback(request: Request) -> Response:
        expected = request.session.pop("oauth_state", None)
        state = request.query_params.get("state", "")
        code = request.query_params.get("code", "")
        if not expected or not code or not hmac.compare_digest(str(expected), state):
            return render_page(
                "message.html",
                status_code=400,
                heading="Sign-in failed",
                message="The sign-in request expired or did not come from this site. "
                "Please sign in again.",
            )
        try:
            token = await access.oauth.exchange(code)
            user = await access.oauth.user(token)
        except GitHubError:
            return render_page(
                "message.html",
                status_code=502,
                heading="Sign-in failed",
                message="GitHub did not confirm the sign-in. Please try again.",
            )
        target = safe_next(request.session.pop("next", None))
        request.session.clear()  # a fresh session on sign-in (no fixation)
        access.sign_in(request, user.login, user.id, token)
        return RedirectResponse(target, status_code=302)

    async def logout(request: Request) -> Response:
        request.session.clear()
        return RedirectResponse("/", status_code=303)

    return [
        Route("/login", login, methods=["GET"]),
        Route("/login/callback", callback, methods=["GET"]),
        Route("/logout", logout, methods=["POST"]),
    ]


def guarded(
    access: Access, page: Callable[[Request], Awaitable[Response]]
) -> Callable[[Request], Awaitable[Response]]:
    """`page` with `SignInRequired` answered by a redirect and `PageNotFound` by a 404."""

    async def endpoint(request: Request) -> Response:
        try:
            return await page(request)
        except SignInRequired:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return login_redirect(target)
        except PageNotFound:
            return not_found()

    return endpoint


def account(request: Request, access: Access) -> dict[str, Any]:
    """What the layout shows in its account corner."""
    user = access.current_user(request)
    return {"user": user.login if user else None}

"""Signing people in with GitHub (the app's OAuth client) and asking GitHub what they may see.

The web flow: `authorize_url` sends the browser to `{web}/login/oauth/authorize` with a CSRF
`state`; GitHub sends it back with a `code` that `exchange` trades at
`{web}/login/oauth/access_token` for a user access token. With that token, `user` says who
signed in, `can_read` whether they can read a repository (a GitHub App's user token only
reaches repositories the user can read), and `is_org_member` whether they belong to an
organisation. `app_installed_on` asks, as the app itself, whether it is installed on a
repository. Every call is one request; callers cache the answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from ghapp.github.client import TIMEOUT, USER_AGENT, GitHubFactory, tls_context
from ghapp.github.errors import GitHubError, GitHubUnavailable, NotFound
from ghapp.settings import Settings


class TokenRejected(GitHubError):
    """GitHub refused the user's token (expired or revoked): sign in again."""


@dataclass(frozen=True)
class GitHubUser:
    login: str
    id: int
    name: str | None = None


class OAuthClient:
    """The app's OAuth client (GITHUB_CLIENT_ID / GITHUB_CLIENT_SECRET) and user-token calls."""

    def __init__(self, settings: Settings, factory: GitHubFactory | None = None) -> None:
        self.settings = settings
        self.factory = factory

    @property
    def configured(self) -> bool:
        s = self.settings
        return bool(s.github_client_id and s.github_client_secret and s.public_url)

    @property
    def redirect_uri(self) -> str:
        return f"{self.settings.public_url}/login/callback"

    def authorize_url(self, state: str) -> str:
        """Where to send the browser to sign in."""
        query = urlencode(
            {
                "client_id": self.settings.github_client_id or "",
                "redirect_uri": self.redirect_uri,
                "state": state,
                "allow_signup": "false",
            }
        )
        return f"{self.settings.github_web_url}/login/oauth/authorize?{query}"

    async def exchange(self, code: str) -> str:
        """The user access token for an authorization `code`."""
        body = {
            "client_id": self.settings.github_client_id or "",
            "client_secret": self.settings.github_client_secret or "",
            "code": code,
            "redirect_uri": self.redirect_uri,
        }
        url = f"{self.settings.github_web_url}/login/oauth/access_token"
        async with self._http() as http:
            response = await _send(http, "POST", url, data=body)
        data = _json(response)
        token = data.get("access_token") if isinstance(data, dict) else None
        if response.status_code != 200 or not token:
            error = data.get("error_description") or data.get("error") if data else None
            raise GitHubError(
                f"POST /login/oauth/access_token: {response.status_code} {error or 'no token'}",
                status=response.status_code,
            )
        return str(token)

    async def user(self, token: str) -> GitHubUser:
        """Who the token belongs to."""
        data = await self._get(token, "/user")
        return GitHubUser(str(data["login"]), int(data["id"]), data.get("name"))

    async def can_read(self, token: str, repo: str) -> bool:
        """Whether the token's user can read `owner/name` (404 and 403 mean no)."""
        visible, data = await self._get_visible(token, f"/repos/{repo}")
        if not visible:
            return False
        permissions = data.get("permissions") if isinstance(data, dict) else None
        return bool(permissions.get("pull", True)) if isinstance(permissions, dict) else True

    async def is_org_member(self, token: str, org: str) -> bool:
        """Whether the token's user is an active member of `org`."""
        visible, data = await self._get_visible(token, f"/user/memberships/orgs/{org}")
        return visible and isinstance(data, dict) and data.get("state") == "active"

    async def app_installed_on(self, repo: str) -> bool:
        """Whether the app is installed on `owner/name` (asked as the app, with its JWT)."""
        if self.factory is None:
            return True
        try:
            await self.factory.app().request("GET", f"/repos/{repo}/installation")
        except NotFound:
            return False
        return True

    async def app_installed_on_org(self, org: str) -> bool:
        """Whether the app is installed on the organisation `org`."""
        if self.factory is None:
            return True
        try:
            await self.factory.app().request("GET", f"/orgs/{org}/installation")
        except NotFound:
            return False
        return True

    async def _get_visible(self, token: str, path: str) -> tuple[bool, Any]:
        """GET `path` as the token's user; (False, None) where GitHub answers 404 or 403."""
        try:
            return True, await self._get(token, path)
        except NotFound:
            return False, None
        except GitHubError as exc:
            if exc.status == 403:
                return False, None
            raise

    async def _get(self, token: str, path: str) -> Any:
        url = f"{self.settings.github_api_url}{path}"
        async with self._http() as http:
            response = await _send(http, "GET", url, headers={"Authorization": f"Bearer {token}"})
        if response.status_code == 401:
            raise TokenRejected(f"GET {path}: 401", status=401, method="GET", path=path)
        if response.status_code == 404:
            raise NotFound(f"GET {path}: 404", status=404, method="GET", path=path)
        if response.status_code >= 400:
            kind = GitHubUnavailable if response.status_code >= 500 else GitHubError
            raise kind(f"GET {path}: {response.status_code}", status=response.status_code)
        return _json(response)

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=TIMEOUT,
            verify=tls_context(),
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
        )


async def _send(http: httpx.AsyncClient, method: str, url: str, **kw: Any) -> httpx.Response:
    try:
        return await http.request(method, url, **kw)
    except httpx.HTTPError as exc:
        raise GitHubUnavailable(f"{method} {url}: {type(exc).__name__}") from None


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {}

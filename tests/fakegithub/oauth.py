"""Sign-in with GitHub, faked: the web flow on its own host, the user-token API on the fake's.

`create_fake_web_app(fake)` is the web host (github.com's role): `GET /login/oauth/authorize`
"signs in" `fake.oauth.sign_in_as` at once and redirects to the app's callback with a code and
the app's `state`; `POST /login/oauth/access_token` trades the code (with the client id and
secret) for a user access token. The API routes below answer that token as GitHub answers a
GitHub App's user token: `/user`, the user's installations and their repositories (those the
user can read), org memberships, and, with the app's JWT, `/orgs/{org}/installation`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from . import shapes
from .server import Ctx, HttpError, _installation_json, _paginate, route
from .state import Call, FakeGitHub


def sign_in_as(fake: FakeGitHub, login: str, *, orgs: tuple[str, ...] = ()) -> None:
    """The next sign-in through the fake is `login`'s, a member of `orgs`."""
    with fake.lock:
        fake.oauth.sign_in_as = login
        fake.users.setdefault(login, "User")
        for org in orgs:
            fake.oauth.org_members.setdefault(org, set()).add(login)


def create_fake_web_app(fake: FakeGitHub) -> Callable[[Scope, Receive, Send], Any]:
    """The web host's ASGI app (authorize page and token exchange)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        raw = await request.body()
        with fake.lock:
            response = _web_answer(fake, request, raw)
            body = {k: v[-1] for k, v in parse_qs(raw.decode(errors="replace")).items()}
            body.pop("client_secret", None)
            call = Call(request.method, request.url.path, request.url.query, 0, None, body)
            call.status = response.status_code
            fake.calls.append(call)
        await response(scope, receive, send)

    return app


def _web_answer(fake: FakeGitHub, request: Request, raw: bytes) -> Response:
    oauth = fake.oauth
    if request.method == "GET" and request.url.path == "/login/oauth/authorize":
        q = request.query_params
        redirect = q.get("redirect_uri", "")
        if q.get("client_id") != oauth.client_id or urlsplit(redirect).scheme not in (
            "http",
            "https",
        ):
            return PlainTextResponse("The client id or redirect URI is not valid.", 404)
        if oauth.sign_in_as is None:
            return PlainTextResponse("Nobody is signed in to the fake GitHub.", 403)
        code = secrets.token_hex(10)
        oauth.codes[code] = (oauth.sign_in_as, redirect)
        query = urlencode({"code": code, "state": q.get("state", "")})
        return RedirectResponse(f"{redirect}?{query}", status_code=302)
    if request.method == "POST" and request.url.path == "/login/oauth/access_token":
        form = {k: v[-1] for k, v in parse_qs(raw.decode(errors="replace")).items()}
        if (form.get("client_id"), form.get("client_secret")) != (
            oauth.client_id,
            oauth.client_secret,
        ):
            return JSONResponse({"error": "incorrect_client_credentials"})
        issued = oauth.codes.pop(form.get("code", ""), None)  # a code works once
        if issued is None or issued[1] != form.get("redirect_uri", issued[1]):
            return JSONResponse({"error": "bad_verification_code"})
        token = "ghu_" + secrets.token_hex(18)
        oauth.tokens[token] = issued[0]
        return JSONResponse({"access_token": token, "token_type": "bearer", "scope": ""})
    return PlainTextResponse("Not Found", 404)


def _user(ctx: Ctx) -> str:
    if ctx.user is None:
        raise HttpError(403, "Resource not accessible by integration")
    return ctx.user


@route("GET", "/user")
def get_authenticated_user(ctx: Ctx) -> tuple[int, Any]:
    login = _user(ctx)
    return 200, shapes.public_user(ctx.base, login, ctx.fake.users.get(login, "User"))


def _readable(ctx: Ctx, login: str, installation_id: int) -> list[Any]:
    return [
        r
        for r in ctx.fake.repos.values()
        if r.installation_id == installation_id and ctx.fake.user_can_read(login, r)
    ]


@route("GET", "/user/installations")
def list_user_installations(ctx: Ctx) -> tuple[int, Any]:
    login = _user(ctx)
    ids = [i for i in ctx.fake.installations if _readable(ctx, login, i)]
    items = [_installation_json(ctx, i) for i in ids]
    return 200, {"total_count": len(items), "installations": _paginate(ctx, items)}


@route("GET", "/user/installations/{installation_id}/repositories")
def list_user_installation_repositories(ctx: Ctx) -> tuple[int, Any]:
    login = _user(ctx)
    repos = _readable(ctx, login, int(ctx.params["installation_id"]))
    if not repos:
        raise HttpError(404, "Not Found")
    items = [shapes.repository(ctx.base, ctx.fake, r) for r in repos]
    return 200, {"total_count": len(items), "repositories": _paginate(ctx, items)}


@route("GET", "/user/memberships/orgs/{org}")
def get_user_org_membership(ctx: Ctx) -> tuple[int, Any]:
    login, org = _user(ctx), ctx.params["org"]
    if login not in ctx.fake.oauth.org_members.get(org, set()):
        raise HttpError(404, "Not Found")
    return 200, {
        "url": f"{ctx.base}/orgs/{org}/memberships/{login}",
        "state": "active",
        "role": "member",
        "organization_url": f"{ctx.base}/orgs/{org}",
        "organization": shapes.user(ctx.base, org, "Organization"),
        "user": shapes.user(ctx.base, login),
    }


@route("GET", "/orgs/{org}/installation", jwt_auth=True)
def get_org_installation(ctx: Ctx) -> tuple[int, Any]:
    for installation_id, inst in ctx.fake.installations.items():
        if inst["account"] == ctx.params["org"] and inst["type"] == "Organization":
            return 200, _installation_json(ctx, installation_id)
    raise HttpError(404, "Not Found")

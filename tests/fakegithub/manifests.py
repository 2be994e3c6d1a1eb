"""GitHub's App-manifest flow in the fake: the web form that registers an App from a manifest,
and `POST /app-manifests/{code}/conversions`, which trades the one-time code for credentials.

On GitHub a person confirms the form; here the form registers at once and redirects the browser
to the manifest's `redirect_url` with `code` and `state`, as GitHub does after "Create GitHub App".
The conversion also makes the fake trust the new App's key, so `ghapp serve` configured from what
setup wrote can authenticate against the fake straight away.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

from starlette.responses import HTMLResponse, RedirectResponse

from . import shapes
from .harness import generate_app_key
from .server import Ctx, HttpError, route
from .state import FakeGitHub, now_iso

ACCESS = ("read", "write")
FIRST_APP_ID = 900_001


@dataclass
class Registered:
    """An App created through the form, and what was posted to create it."""

    app_id: int
    slug: str
    owner: str
    manifest: dict[str, Any]
    state: str
    private_pem: str
    public_pem: str
    webhook_secret: str = field(default_factory=lambda: secrets.token_hex(20))
    client_id: str = field(default_factory=lambda: "Iv1." + secrets.token_hex(8))
    client_secret: str = field(default_factory=lambda: secrets.token_hex(20))
    owner_kind: str = "User"
    converted: bool = False


@dataclass
class Manifests:
    """The fake's App registrations by one-time code."""

    by_code: dict[str, Registered] = field(default_factory=dict)
    conversions: list[str] = field(default_factory=list)  # codes traded, in order


def manifests_of(fake: FakeGitHub) -> Manifests:
    """The manifest-flow state kept on `fake` (created on first use)."""
    with fake.lock:
        state: Manifests = fake.__dict__.setdefault("manifests", Manifests())
        return state


@route("POST", "/settings/apps/new", public=True)
def new_user_app(ctx: Ctx) -> tuple[int, Any]:
    return _register(ctx, "octocat", "User")


@route("POST", "/organizations/{org}/settings/apps/new", public=True)
def new_org_app(ctx: Ctx) -> tuple[int, Any]:
    return _register(ctx, ctx.params["org"], "Organization")


def _register(ctx: Ctx, owner: str, owner_kind: str) -> tuple[int, Any]:
    form = parse_qs(ctx.body if isinstance(ctx.body, str) else "")
    try:
        manifest = json.loads(form["manifest"][0])
    except (KeyError, IndexError, ValueError):
        return 422, HTMLResponse("<p>Invalid GitHub App manifest: no manifest field</p>", 422)
    problem = manifest_problem(manifest)
    if problem:
        return 422, HTMLResponse(f"<p>Invalid GitHub App manifest: {problem}</p>", 422)
    private_pem, public_pem = generate_app_key()
    state = manifests_of(ctx.fake)
    app_id = FIRST_APP_ID + len(state.by_code)
    slug = re.sub(r"[^a-z0-9]+", "-", str(manifest.get("name") or "app").lower()).strip("-")
    code = secrets.token_hex(10)
    state.by_code[code] = Registered(
        app_id,
        slug,
        owner,
        manifest,
        ctx.query.get("state", ""),
        private_pem,
        public_pem,
        owner_kind=owner_kind,
    )
    query = urlencode({"code": code, "state": ctx.query.get("state", "")})
    return 302, RedirectResponse(f"{manifest['redirect_url']}?{query}", status_code=302)


def manifest_problem(manifest: Any) -> str | None:
    """Why GitHub would refuse this manifest, or None (the checks its form makes)."""
    if not isinstance(manifest, dict):
        return "not an object"
    if not str(manifest.get("url") or "").startswith(("http://", "https://")):
        return "url (the homepage) is required"
    hook = manifest.get("hook_attributes")
    if not isinstance(hook, dict) or not str(hook.get("url") or "").startswith("http"):
        return "hook_attributes.url is required"
    if not str(manifest.get("redirect_url") or "").startswith("http"):
        return "redirect_url is required for the manifest flow"
    permissions = manifest.get("default_permissions") or {}
    bad = [k for k, v in permissions.items() if v not in ACCESS]
    if bad:
        return f"unknown access for {', '.join(bad)}"
    return None


@route("POST", "/app-manifests/{code}/conversions", public=True)
def convert(ctx: Ctx) -> tuple[int, Any]:
    state = manifests_of(ctx.fake)
    registered = state.by_code.get(ctx.params["code"])
    if registered is None or registered.converted:
        raise HttpError(404, "Not Found")
    registered.converted = True
    state.conversions.append(ctx.params["code"])
    ctx.fake.register_app(registered.public_pem, registered.app_id)
    manifest = registered.manifest
    now = now_iso()
    return 201, {
        "id": registered.app_id,
        "slug": registered.slug,
        "node_id": shapes.node_id("App", registered.app_id),
        "owner": shapes.user(ctx.base, registered.owner, registered.owner_kind),
        "name": manifest.get("name") or registered.slug,
        "description": manifest.get("description"),
        "external_url": manifest["url"],
        "html_url": f"{ctx.base}/apps/{registered.slug}",
        "created_at": now,
        "updated_at": now,
        "permissions": manifest.get("default_permissions") or {},
        "events": manifest.get("default_events") or [],
        "client_id": registered.client_id,
        "client_secret": registered.client_secret,
        "webhook_secret": registered.webhook_secret,
        "pem": registered.private_pem,
    }

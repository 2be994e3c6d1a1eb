"""The local page of `ghapp setup`: one button that registers the App on GitHub from its manifest.

GitHub's manifest flow is a browser round trip: the page POSTs the manifest as a form field to
`{web}/settings/apps/new` (or the organisation's form) with a random `state`; the person names
the App on GitHub and creates it; GitHub redirects back to `/callback?code=…&state=…` here, and
the code is exchanged for the App's credentials, which `on_registered` saves.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ghapp.github.errors import GitHubError
from ghapp.github.registration import Registration, convert_manifest
from ghapp.manifest import EVENTS, PERMISSIONS
from ghapp.web.templating import render_page

CALLBACK_PATH = "/callback"


@dataclass(frozen=True)
class Saved:
    """Where the credentials went."""

    env_file: Path
    key_file: Path | None  # None: the key is in the env file (PRIVATE_KEY)


@dataclass(frozen=True)
class Step:
    """One next step: a sentence, and a link or a command when there is one."""

    text: str
    url: str | None = None
    command: str | None = None


@dataclass
class SetupFlow:
    """One registration: the manifest to post, where, and what to do with the credentials."""

    web_url: str
    api_url: str
    manifest: dict[str, Any]
    on_registered: Callable[[Registration], Saved]
    org: str | None = None
    on_finished: Callable[[], None] = lambda: None
    state: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    registration: Registration | None = None
    saved: Saved | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def form_action(self) -> str:
        """GitHub's "new App from a manifest" form, for the account or the organisation."""
        owner = f"/organizations/{quote(self.org, safe='')}" if self.org else ""
        return f"{self.web_url}{owner}/settings/apps/new?state={quote(self.state)}"

    def next_steps(self) -> list[Step]:
        """What to do once the App exists: install it, start it, let webhooks reach it."""
        if self.registration is None or self.saved is None:
            return []
        slug, org = self.registration.slug, self.org or self.registration.owner
        where = f"the {org} organisation" if self.org else "your account"
        hook = self.manifest["hook_attributes"]["url"]
        return [
            Step(
                f"Install the App on {where}; choose all repositories, or at least the ones to "
                f"govern and {org}/.github (the organisation's policy lives in its "
                ".github/ghapp.yml).",
                url=f"{self.web_url}/apps/{slug}/installations/new",
            ),
            Step(
                f"Start the App where {self.saved.env_file.name} is (it reads it):",
                command=f"cd {self.saved.env_file.parent} && ghapp serve",
            ),
            Step(
                f"GitHub sends webhooks to {hook}: make that address reach the server "
                "(docs/deploy.md; on a laptop, a webhook-forwarding client).",
            ),
            Step(
                f"Write the organisation's policy in {org}/.github at .github/ghapp.yml "
                "(README: Configuration).",
            ),
        ]


def create_setup_app(flow: SetupFlow) -> Starlette:
    """GET / (the button) and GET /callback (GitHub's redirect with the code)."""

    async def start(request: Request) -> Response:
        if flow.saved is not None:
            return _done(flow)
        return render_page(
            "setup.html",
            action=flow.form_action,
            manifest_json=json.dumps(flow.manifest),
            manifest=flow.manifest,
            github_host=urlsplit(flow.web_url).netloc,
            org=flow.org,
            permissions=[
                (p.name, flow.manifest["default_permissions"][p.name], p.why) for p in PERMISSIONS
            ],
            events=EVENTS,
        )

    async def callback(request: Request) -> Response:
        code = request.query_params.get("code", "")
        state = request.query_params.get("state", "")
        if not hmac.compare_digest(state.encode(), flow.state.encode()):
            return _message(
                400,
                "This link is not from this setup",
                "The state does not match the page ghapp setup showed: start again from its page.",
            )
        async with flow.lock:  # a double click must not spend the single-use code twice
            if flow.saved is not None:
                return _done(flow)
            try:
                if flow.registration is None:
                    if not code:
                        return _message(400, "GitHub sent no code", "Start again from the page.")
                    flow.registration = await convert_manifest(flow.api_url, code)
                flow.saved = await asyncio.to_thread(flow.on_registered, flow.registration)
            except GitHubError as exc:
                return _message(502, "Registration not finished", str(exc))
            except OSError as exc:  # the App exists: keep its credentials until they are saved
                return _message(
                    500,
                    f"{flow.registration.slug} is registered, its credentials are not saved yet",  # type: ignore[union-attr]
                    f"{exc}. Fix this and reload the page: setup keeps them until they are saved.",
                )
        # Stop the local server once this page is sent: setup has nothing more to do.
        return _done(flow, background=BackgroundTask(flow.on_finished))

    return Starlette(
        routes=[
            Route("/", start, methods=["GET"]),
            Route(CALLBACK_PATH, callback, methods=["GET"]),
        ]
    )


def _done(flow: SetupFlow, background: BackgroundTask | None = None) -> Response:
    response = render_page(
        "setup_done.html",
        registration=flow.registration,
        saved=flow.saved,
        steps=flow.next_steps(),
    )
    response.background = background
    return response


def _message(status: int, heading: str, message: str) -> Response:
    return render_page("message.html", status_code=status, heading=heading, message=message)

"""The last step of registering an App from a manifest: trade GitHub's one-time `code` for the
App's credentials (`POST /app-manifests/{code}/conversions`, no authentication; the code is
single-use and expires after an hour)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from ghapp.github.errors import GitHubError

TIMEOUT = httpx.Timeout(30.0, connect=10.0)


@dataclass(frozen=True)
class Registration:
    """What GitHub returns once: everything `ghapp serve` needs to act as the new App."""

    app_id: int
    slug: str
    name: str
    html_url: str
    owner: str  # the account (user or organisation) that owns the registration
    pem: str
    webhook_secret: str
    client_id: str
    client_secret: str

    def __repr__(self) -> str:  # the secrets stay out of logs and tracebacks
        return f"Registration(app_id={self.app_id}, slug={self.slug!r}, owner={self.owner!r})"


async def convert_manifest(
    api_url: str, code: str, *, client: httpx.AsyncClient | None = None
) -> Registration:
    """Exchange the manifest flow's `code` for the new App's credentials."""
    url = f"{api_url.rstrip('/')}/app-manifests/{quote(code, safe='')}/conversions"
    headers = {"Accept": "application/vnd.github+json", "User-Agent": "ghapp"}
    try:
        if client is None:
            async with httpx.AsyncClient(timeout=TIMEOUT) as own:
                response = await own.post(url, headers=headers)
        else:
            response = await client.post(url, headers=headers)
    except httpx.HTTPError as exc:
        raise GitHubError(f"cannot reach GitHub at {api_url}: {exc}", method="POST") from exc
    if response.status_code != 201:
        raise GitHubError(
            f"GitHub refused the registration code ({response.status_code}: "
            f"{_message(response)}); codes are single-use and expire after an hour, "
            "start again from the setup page",
            status=response.status_code,
            method="POST",
        )
    return _registration(response.json())


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message") or response.reason_phrase)
    except (ValueError, AttributeError):
        return response.reason_phrase


REQUIRED = ("id", "slug", "pem", "webhook_secret", "client_id", "client_secret")


def _registration(data: Any) -> Registration:
    missing = [k for k in REQUIRED if not isinstance(data, dict) or not data.get(k)]
    if missing:
        raise GitHubError(f"GitHub's answer lacks the App's {', '.join(missing)}")
    owner = data.get("owner") if isinstance(data.get("owner"), dict) else {}
    try:
        app_id = int(data["id"])
    except (TypeError, ValueError):
        raise GitHubError(f"GitHub's answer has no numeric App id ({data['id']!r})") from None
    return Registration(
        app_id=app_id,
        slug=str(data["slug"]),
        name=str(data.get("name") or data["slug"]),
        html_url=str(data.get("html_url") or ""),
        owner=str(owner.get("login") or ""),
        pem=str(data["pem"]),
        webhook_secret=str(data["webhook_secret"]),
        client_id=str(data["client_id"]),
        client_secret=str(data["client_secret"]),
    )

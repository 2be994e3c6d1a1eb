"""The GitHub App manifest: the one source of the permissions and events ghapp asks for.

`ghapp setup` posts `app_manifest(...)` to GitHub; `app.yml` at the repository root is generated
from it (`python -m ghapp.manifest > app.yml`) and a test keeps the two equal. Least privilege:
each permission and event is here because code uses it, and says which code.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import yaml

from ghapp.settings import DEFAULT_WEBHOOK_PATH

NAME = "ghapp"
DESCRIPTION = (
    "Pull-request governance: who owns what changed, whether every service's ownership record "
    "is complete, whether security scans really run and block, and whether deploy config is safe."
)
# Where `ghapp serve` finishes GitHub sign-in (the app's OAuth callback).
OAUTH_CALLBACK_PATH = "/login/callback"
EXAMPLE_PUBLIC_URL = "https://ghapp.example.com"
EXAMPLE_REDIRECT_URL = "http://127.0.0.1:3000/callback"


@dataclass(frozen=True)
class Permission:
    name: str
    access: str  # read or write
    why: str
    read_only: str | None = None  # the access in the read-only profile, when different


@dataclass(frozen=True)
class Event:
    name: str
    why: str


PERMISSIONS = (
    Permission("checks", "write", "the ghapp check run, its annotations and its buttons"),
    Permission(
        "pull_requests",
        "write",
        "review comments, review requests, labels, the summary comment",
    ),
    Permission(
        "contents",
        "write",
        "read files; write for /claim-ownership's pull request (never a push)",
        read_only="read",
    ),
    Permission("metadata", "read", "mandatory for every GitHub App"),
    Permission("members", "read", "owner teams exist; commenters' team membership"),
    Permission("issues", "read", "to receive issue_comment events (comment commands)"),
)
EVENTS = (
    Event("pull_request", "evaluate pull requests when opened, pushed to, reopened, ready"),
    Event("push", "evaluate the default branch after each push"),
    Event("check_suite", "Re-run all checks"),
    Event("check_run", "Re-run and the check run's buttons"),
    Event("issue_comment", "comment commands (/claim-ownership, /owners, /recheck, ...)"),
    Event("installation_repositories", "evaluate repositories added to an installation"),
)


def permissions(read_only: bool = False) -> dict[str, str]:
    """The permissions ghapp asks for; `read_only` keeps contents at read (no claim PRs)."""
    return {p.name: (p.read_only or p.access) if read_only else p.access for p in PERMISSIONS}


def app_manifest(
    public_url: str,
    redirect_url: str,
    *,
    name: str = NAME,
    webhook_url: str | None = None,
    read_only: bool = False,
) -> dict[str, Any]:
    """The manifest GitHub's "register from a manifest" form expects (`manifest` field, JSON).
    Webhooks go to `webhook_url`, by default the server's own path under `public_url`."""
    base = public_url.rstrip("/")
    return {
        "name": name,
        "description": DESCRIPTION,
        "url": base,
        "hook_attributes": {"url": webhook_url or f"{base}{DEFAULT_WEBHOOK_PATH}", "active": True},
        "redirect_url": redirect_url,
        "callback_urls": [f"{base}{OAUTH_CALLBACK_PATH}"],
        "public": False,
        "default_permissions": permissions(read_only),
        "default_events": [e.name for e in EVENTS],
    }


def render_app_yml() -> str:
    """app.yml: the manifest with example URLs, each permission and event commented."""
    manifest = app_manifest(EXAMPLE_PUBLIC_URL, EXAMPLE_REDIRECT_URL)
    head = {k: v for k, v in manifest.items() if k not in ("default_permissions", "default_events")}
    lines = [
        "# The GitHub App manifest of ghapp. Generated from ghapp/manifest.py, do not edit:",
        "# `python -m ghapp.manifest > app.yml`.",
        "# `ghapp setup --public-url URL` registers the app with it (GitHub takes it as a browser",
        "# form, not as JSON), with your URL instead of the examples below.",
        "# Read-only profile (`ghapp setup --read-only`): contents: read, so /claim-ownership",
        "# cannot open pull requests; everything else works the same.",
        yaml.safe_dump(head, sort_keys=False, width=80).rstrip(),
        "default_permissions:",
    ]
    width = max(len(f"{p.name}: {p.access}") for p in PERMISSIONS)
    lines += [f"  {f'{p.name}: {p.access}':<{width}}  # {p.why}" for p in PERMISSIONS]
    lines.append("default_events:  # `installation` events are always sent to apps")
    width = max(len(e.name) for e in EVENTS)
    lines += [f"  - {e.name:<{width}}  # {e.why}" for e in EVENTS]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render_app_yml())

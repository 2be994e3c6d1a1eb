"""Where the app's config comes from: the repo's base branch, layered over the org default.

The repository's `.github/ghapp.yml` is read by the core from the *base* snapshot (a pull request
cannot weaken its own policy). The org default lives in the org's `.github` repository
(`.github/ghapp.yml`, else `ghapp.yml`); the core layers the two and honours the org's
`locked:` keys (`ghapp.core.policy.policy.parse_policy`). This module fetches the org text, cached for a
few minutes (including "there is none") so a busy org does not pay two calls per event.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from ghapp.core.policy.policy import Policy, read_policy
from ghapp.core.snapshot import Snapshot
from ghapp.github.client import InstallationClient
from ghapp.github.errors import Forbidden, NotFound

ORG_CONFIG_REPO = ".github"
ORG_CONFIG_PATHS = (".github/ghapp.yml", "ghapp.yml")
ORG_CONFIG_TTL = timedelta(minutes=5)


@dataclass(frozen=True)
class PublishOptions:
    """The `publish:` switches: what the app may post besides the check run."""

    review_comments: bool = True
    request_reviews: bool = False
    labels: bool = False
    summary_comment: bool = False

    @classmethod
    def from_policy(cls, policy: Policy) -> PublishOptions:
        raw: Mapping[str, Any] = policy.publish or {}
        defaults = cls()
        return cls(
            **{
                name: bool(raw.get(name, getattr(defaults, name)))
                for name in ("review_comments", "request_reviews", "labels", "summary_comment")
            }
        )


class OrgConfigs:
    """Org default config texts by org login, each kept for ORG_CONFIG_TTL."""

    def __init__(self, clock: Callable[[], datetime], ttl: timedelta = ORG_CONFIG_TTL) -> None:
        self._clock = clock
        self._ttl = ttl
        self._texts: dict[str, tuple[datetime, str | None]] = {}

    async def get(self, client: InstallationClient, org: str) -> str | None:
        """The org default config text, or None when the org has none (or hides it from us)."""
        now = self._clock()
        cached = self._texts.get(org.lower())
        if cached is not None and cached[0] > now:
            return cached[1]
        text = await fetch_org_config(client, org)
        self._texts[org.lower()] = (now + self._ttl, text)
        return text

    def invalidate(self, org: str) -> None:
        """Forget an org's config (a push to `<org>/.github` changed it)."""
        self._texts.pop(org.lower(), None)


async def fetch_org_config(client: InstallationClient, org: str) -> str | None:
    """Read `<org>/.github` at its default branch: `.github/ghapp.yml`, else `ghapp.yml`."""
    for path in ORG_CONFIG_PATHS:
        try:
            data = await client.request("GET", f"/repos/{org}/{ORG_CONFIG_REPO}/contents/{path}")
        except (NotFound, Forbidden):
            continue  # no such repo or file, or the installation does not cover `.github`
        if isinstance(data, dict) and data.get("type", "file") == "file":
            content = str(data.get("content", ""))
            return base64.b64decode(content).decode("utf-8", errors="replace")
    return None


def load_policy(base: Snapshot, org_text: str | None, today: date) -> Policy:
    """The effective policy (same inputs as the core's evaluation), for the publish switches."""
    policy, _problems = read_policy(base, org_text=org_text, today=today)
    return policy  # problems are reported by the core's evaluation as findings

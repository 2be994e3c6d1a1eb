"""Owner existence for the app, from GitHub's own CODEOWNERS check.

GitHub validates CODEOWNERS itself and lists what it rejects at
`GET /repos/{owner}/{repo}/codeowners/errors?ref=SHA`, including owners that do not exist or
lack write access ("Unknown owner"). One call answers for every owner in the file, where asking
per user and team would cost two calls an owner; the app makes it only when the change touches
CODEOWNERS (or for a whole commit), so a warm `synchronize` costs nothing extra.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ghapp.github.client import InstallationClient
from ghapp.github.errors import Forbidden, NotFound, Unprocessable

CODEOWNERS_PATHS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")


class ReportedOwners:
    """An OwnerDirectory: owners GitHub reported as unknown do not exist (or cannot write);
    every other owner passed GitHub's check."""

    def __init__(self, unknown: Iterable[str]) -> None:
        self.unknown = {owner.lower() for owner in unknown}

    def exists(self, owner: str) -> bool | None:
        return owner.lower() not in self.unknown

    def can_write(self, owner: str) -> bool | None:
        return None  # GitHub folds "cannot write" into "Unknown owner"


def unknown_owners(errors: Iterable[Mapping[str, Any]]) -> set[str]:
    """The owner tokens of GitHub's "Unknown owner" errors (the token at the error's column)."""
    found = set()
    for error in errors:
        if "unknown owner" not in str(error.get("kind", "")).lower():
            continue
        source, column = str(error.get("source", "")), int(error.get("column") or 1)
        token = source[column - 1 :].split()
        if token:
            found.add(token[0])
    return found


def touches_codeowners(changed: Iterable[str] | None) -> bool:
    """Whether an evaluation needs GitHub's verdict: a whole commit, or a change to CODEOWNERS."""
    return changed is None or any(path in CODEOWNERS_PATHS for path in changed)


async def reported_owners(client: InstallationClient, repo: str, sha: str) -> ReportedOwners | None:
    """GitHub's CODEOWNERS verdict at `sha` (None when there is no CODEOWNERS or no access)."""
    try:
        data = await client.request("GET", f"/repos/{repo}/codeowners/errors", params={"ref": sha})
    except (NotFound, Forbidden, Unprocessable):
        return None
    return ReportedOwners(unknown_owners((data or {}).get("errors") or []))

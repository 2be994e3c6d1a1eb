"""What the core may ask about users and teams: do they exist, may they write to the repository.

The app implements this over the GitHub API; the CLI over a YAML/JSON file (`--directory`).
Without one, owner existence is not checked (GitHub's `unknown-owner` needs a lookup too).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


class OwnerDirectory(Protocol):
    def exists(self, owner: str) -> bool | None:
        """Whether `@user`, `@org/team` or an email names a known user or team (None: unknown)."""
        ...

    def can_write(self, owner: str) -> bool | None:
        """Whether the owner has write access to the repository (None: unknown)."""
        ...


@dataclass(frozen=True)
class People:
    """Who is who, for ownership suggestions: commit emails to GitHub logins, and the members
    of each team (`@org/team` -> logins). Emails and logins are lower-case."""

    logins: Mapping[str, str] = field(default_factory=dict)
    teams: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def login_for(self, email: str) -> str | None:
        return self.logins.get(email.lower())


class StaticDirectory:
    """A directory from plain data: `{"users": [...], "teams": [...], "emails": [...],
    "write": [...]}`; names with or without '@', compared case-insensitively like GitHub.
    `logins` (email -> login) and `members` (team -> logins) add what suggestions need."""

    def __init__(
        self,
        users: list[str] | tuple[str, ...] = (),
        teams: list[str] | tuple[str, ...] = (),
        emails: list[str] | tuple[str, ...] = (),
        write: list[str] | tuple[str, ...] | None = None,
        logins: Mapping[str, str] | None = None,
        members: Mapping[str, list[str] | tuple[str, ...]] | None = None,
    ) -> None:
        norm = _normalise
        by_email = {email.lower(): norm(login) for email, login in (logins or {}).items()}
        team_members = {
            _team(t): tuple(sorted({norm(m) for m in ms})) for t, ms in (members or {}).items()
        }
        known = (*users, *teams, *emails, *by_email, *by_email.values(), *team_members)
        self._known = {norm(x) for x in known}
        self._known |= {m for ms in team_members.values() for m in ms}
        self._write = None if write is None else {norm(x) for x in write}
        self.people = People(by_email, team_members)

    def exists(self, owner: str) -> bool | None:
        return _normalise(owner) in self._known

    def can_write(self, owner: str) -> bool | None:
        if self._write is None:
            return None
        return _normalise(owner) in self._write


def _normalise(owner: str) -> str:
    return owner.lstrip("@").lower()


def _team(name: str) -> str:
    """A team as CODEOWNERS writes it: `@org/team` (given with or without the '@')."""
    return "@" + name.strip().lstrip("@")

"""What the core may ask about users and teams: do they exist, may they write to the repository.

The app implements this over the GitHub API; the CLI over a YAML/JSON file (`--directory`).
Without one, owner existence is not checked (GitHub's `unknown-owner` needs a lookup too).
"""

from __future__ import annotations

from typing import Protocol


class OwnerDirectory(Protocol):
    def exists(self, owner: str) -> bool | None:
        """Whether `@user`, `@org/team` or an email names a known user or team (None: unknown)."""
        ...

    def can_write(self, owner: str) -> bool | None:
        """Whether the owner has write access to the repository (None: unknown)."""
        ...


class StaticDirectory:
    """A directory from plain data: `{"users": [...], "teams": [...], "emails": [...],
    "write": [...]}`; names with or without '@', compared case-insensitively like GitHub."""

    def __init__(
        self,
        users: list[str] | tuple[str, ...] = (),
        teams: list[str] | tuple[str, ...] = (),
        emails: list[str] | tuple[str, ...] = (),
        write: list[str] | tuple[str, ...] | None = None,
    ) -> None:
        norm = _normalise
        self._known = {norm(x) for x in (*users, *teams, *emails)}
        self._write = None if write is None else {norm(x) for x in write}

    def exists(self, owner: str) -> bool | None:
        return _normalise(owner) in self._known

    def can_write(self, owner: str) -> bool | None:
        if self._write is None:
            return None
        return _normalise(owner) in self._write


def _normalise(owner: str) -> str:
    return owner.lstrip("@").lower()

"""What a comment command runs with: the GitHub calls it may make (`CommandPort`, implemented
over the API in ghapp.commands.register and by a plain fake in the tests), who ran it where
(`Invocation`), the facts the commands of one comment share (`Facts`), and what it did
(`Result`, whose reply sections `say` writes)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ghapp.commands.audit import Outcome
from ghapp.core.commands import Command, Malformed
from ghapp.core.ownership.evidence import CommitRecord
from ghapp.core.snapshot import Snapshot
from ghapp.render.escape import code, text


@dataclass(frozen=True)
class PullInfo:
    number: int
    base_ref: str
    base_sha: str
    head_sha: str


class CommandPort(Protocol):
    """The GitHub calls commands make."""

    async def react(self, repo: str, comment_id: int, content: str) -> None: ...
    async def reply(self, repo: str, pr: int, body: str) -> None: ...
    async def pull(self, repo: str, pr: int) -> PullInfo: ...
    async def changed_files(self, repo: str, pr: int) -> Sequence[str]: ...
    async def snapshot(self, repo: str, sha: str) -> Snapshot:
        """The commit's files, with CODEOWNERS, manifests and config readable without waiting."""
        ...

    async def team_exists(self, org: str, slug: str) -> bool: ...
    async def branch_sha(self, repo: str, branch: str) -> str | None: ...
    async def create_branch(self, repo: str, branch: str, sha: str) -> None: ...
    async def file_on_branch(self, repo: str, path: str, branch: str) -> tuple[str, str] | None:
        """(text, blob sha) of the file on the branch, None when absent."""
        ...

    async def put_file(
        self, repo: str, path: str, branch: str, text: str, message: str, sha: str | None
    ) -> None: ...
    async def find_pull(self, repo: str, branch: str) -> str | None:
        """The html_url of an open PR whose head is `branch`, if any."""
        ...

    async def open_pull(self, repo: str, branch: str, base: str, title: str, body: str) -> str: ...
    async def history(
        self, repo: str, sha: str, paths: Sequence[str], since: datetime
    ) -> Sequence[CommitRecord]:
        """Commits that touched `paths` (for owner suggestions)."""
        ...

    async def teams(self, org: str, named: Sequence[str]) -> Mapping[str, tuple[str, ...]]:
        """Members of the organisation's teams, `named` ones first (for owner suggestions)."""
        ...


Recheck = Callable[[str, int, int | None], Awaitable[None]]  # repo, pr, installation id
CommandsConfig = Callable[[str, Snapshot], Awaitable[Mapping[str, Any]]]  # `commands:` key


@dataclass(frozen=True)
class Invocation:
    """Who ran what, where: `key` names the side effects (branch suffix) so retries reuse them."""

    repo: str
    pr: int
    actor: str
    installation_id: int | None
    source: str
    key: str
    comment_id: int | None = None


@dataclass(frozen=True)
class Result:
    """What a command did: the audit outcome, the reply section, details for the audit log."""

    outcome: Outcome
    reply: str | None
    detail: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def malformed(cls, command: Command | Malformed, reason: str, usage: str) -> Result:
        """A command we could not understand: the reason and the nearest usage."""
        said = say(command, f"{text(reason)}.\n{usage}")
        return cls("refused", said, reason, {"malformed": True})


class Facts:
    """What the commands of one comment share, fetched once and only when a command needs it:
    the pull request, its base snapshot, its changed files, the `commands:` config."""

    def __init__(self, port: CommandPort, inv: Invocation, config: CommandsConfig | None) -> None:
        self._port, self._inv, self._config = port, inv, config
        self._pull: PullInfo | None = None
        self._base: Snapshot | None = None
        self._changed: Sequence[str] | None = None
        self._commands: Mapping[str, Any] | None = None

    async def pull(self) -> PullInfo:
        if self._pull is None:
            self._pull = await self._port.pull(self._inv.repo, self._inv.pr)
        return self._pull

    async def base(self) -> Snapshot:
        if self._base is None:
            self._base = await self._port.snapshot(self._inv.repo, (await self.pull()).base_sha)
        return self._base

    async def changed(self) -> Sequence[str]:
        if self._changed is None:
            self._changed = await self._port.changed_files(self._inv.repo, self._inv.pr)
        return self._changed

    async def commands(self) -> Mapping[str, Any]:
        if self._commands is None:
            found = await self._config(self._inv.repo, await self.base()) if self._config else {}
            self._commands = found
        return self._commands


def say(command: Command | Malformed, said: str) -> str:
    """One reply section: the command as its author wrote it (as code), then `said` (markdown
    whose user-controlled parts the caller escaped)."""
    label = f"/{command.name}" if isinstance(command, Command) else command.text
    return f"**{code(label)}**: {said}"

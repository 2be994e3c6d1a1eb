"""Who may run which comment command.

Rules come from the `commands:` key of `.github/ghapp.yml` (read from the base branch), layered
over safe defaults:

```yaml
commands:
  claim-ownership: {permission: maintain}   # members of the claimed team may always claim
  waive: {permission: admin, teams: ["@acme/security"]}
  owners: {permission: read}
  recheck: {permission: read}
  help: {enabled: true}
```

`permission` is the minimum repository role that suffices (read < triage < write < maintain <
admin), `teams` are teams whose active members may run it as well, `enabled: false` turns the
command off. Facts come from the GitHub API only, never from the comment: the collaborator
permission endpoint and team memberships (state `active`), through `CachedAccess`, which keeps
answers for a short TTL per installation. `read` needs no call at all: whoever can comment on a
pull request can read the repository.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol

LEVELS: tuple[str, ...] = ("none", "read", "triage", "write", "maintain", "admin")


@dataclass(frozen=True)
class CommandRule:
    """Who may run one command."""

    enabled: bool = True
    permission: str = "read"
    teams: tuple[str, ...] = ()


DEFAULT_RULES: Mapping[str, CommandRule] = MappingProxyType(
    {
        "claim-ownership": CommandRule(permission="maintain"),
        "waive": CommandRule(permission="admin"),
        "owners": CommandRule(),
        "recheck": CommandRule(),
        "help": CommandRule(),
    }
)


@dataclass(frozen=True)
class Decision:
    """Whether the actor may run the command, and the sentence that says why (or why not)."""

    allowed: bool
    reason: str


class Access(Protocol):
    """The GitHub facts authorisation needs (implemented over the API)."""

    async def permission(self, repo: str, user: str) -> str:
        """The user's role on the repository: one of LEVELS ('none' when not a collaborator)."""
        ...

    async def is_member(self, org: str, team_slug: str, user: str) -> bool:
        """Whether the user is an active member of the team."""
        ...


def command_rules(config: Mapping[str, Any] | None) -> dict[str, CommandRule]:
    """The defaults with the repository's `commands:` settings over them."""
    rules = dict(DEFAULT_RULES)
    for name, given in (config or {}).items():
        if name not in rules or not isinstance(given, Mapping):
            continue  # the config schema reports unknown keys; never fail a command on them
        base = rules[name]
        permission = str(given.get("permission", base.permission))
        rules[name] = CommandRule(
            enabled=bool(given.get("enabled", base.enabled)),
            permission=permission if permission in LEVELS else base.permission,
            teams=tuple(str(t) for t in given.get("teams", base.teams)),
        )
    return rules


async def authorize(
    command: str,
    actor: str,
    repo: str,
    rule: CommandRule,
    access: Access,
    claimed_team: str | None = None,
) -> Decision:
    """Decide whether `actor` may run `command` on `repo` (claims: for `claimed_team`)."""
    if not rule.enabled:
        return Decision(False, f"/{command} is turned off for this repository")
    if rule.permission in ("none", "read"):
        return Decision(True, "anyone who can read the repository may run it")
    org = repo.split("/", 1)[0]
    if claimed_team is not None:
        if team_org(claimed_team).lower() != org.lower():
            return Decision(False, f"{claimed_team} is not a team of the {org} organisation")
        if await access.is_member(org, team_slug(claimed_team), actor):
            return Decision(True, f"@{actor} is a member of {claimed_team}")
    for team in rule.teams:
        if team_org(team).lower() == org.lower() and await access.is_member(
            org, team_slug(team), actor
        ):
            return Decision(True, f"@{actor} is a member of {team}")
    level = await access.permission(repo, actor)
    if _rank(level) >= _rank(rule.permission):
        return Decision(True, f"@{actor} has {level} permission on {repo}")
    allowed = [f"{rule.permission} permission on the repository"]
    if claimed_team is not None:
        allowed.insert(0, f"members of {claimed_team}")
    allowed.extend(f"members of {t}" for t in rule.teams)
    return Decision(False, f"@{actor} may not run /{command}: it needs {' or '.join(allowed)}")


def team_org(team: str) -> str:
    return team.lstrip("@").split("/", 1)[0]


def team_slug(team: str) -> str:
    return team.lstrip("@").split("/", 1)[-1]


def _rank(level: str) -> int:
    return LEVELS.index(level) if level in LEVELS else 0


class CachedAccess:
    """Access answers kept for `ttl` seconds, per installation: a burst of commands (or a
    redelivery) costs one lookup, and a revoked membership stops counting within the TTL."""

    def __init__(
        self,
        access: Access,
        installation_id: int | None,
        store: AccessCache,
    ) -> None:
        self._access = access
        self._installation = installation_id
        self._store = store

    async def permission(self, repo: str, user: str) -> str:
        key = (self._installation, "permission", repo.lower(), user.lower())
        result = await self._store.get(key, lambda: self._access.permission(repo, user))
        return str(result)

    async def is_member(self, org: str, team_slug: str, user: str) -> bool:
        key = (self._installation, "member", org.lower(), team_slug.lower(), user.lower())
        result = await self._store.get(key, lambda: self._access.is_member(org, team_slug, user))
        return bool(result)


class AccessCache:
    """The TTL store behind CachedAccess; one per process, shared across installations
    (keys carry the installation id). `clock` returns seconds (time.monotonic)."""

    def __init__(self, ttl: float, clock: Callable[[], float], max_entries: int = 10_000) -> None:
        self._ttl = ttl
        self._clock = clock
        self._max = max_entries
        self._entries: dict[tuple[Any, ...], tuple[float, object]] = {}
        self.lookups = 0

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: tuple[Any, ...], load: Callable[[], Awaitable[object]]) -> object:
        now = self._clock()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        self.lookups += 1
        value = await load()
        if len(self._entries) >= self._max:
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            if len(self._entries) >= self._max:
                self._entries.clear()
        self._entries[key] = (now + self._ttl, value)
        return value

"""Who may run which command: defaults, `commands:` config, API facts, caching."""

from __future__ import annotations

import asyncio

import pytest

from ghapp.commands.authz import (
    DEFAULT_RULES,
    AccessCache,
    CachedAccess,
    CommandRule,
    authorize,
    command_rules,
)


class FakeAccess:
    """Repository roles and active team memberships, counting lookups."""

    def __init__(self, roles: dict[str, str], members: dict[str, set[str]]) -> None:
        self.roles = roles
        self.members = members  # "org/slug" -> logins
        self.calls: list[tuple[str, ...]] = []

    async def permission(self, repo: str, user: str) -> str:
        self.calls.append(("permission", repo, user))
        return self.roles.get(user, "none")

    async def is_member(self, org: str, team_slug: str, user: str) -> bool:
        self.calls.append(("member", org, team_slug, user))
        return user in self.members.get(f"{org}/{team_slug}", set())


ACCESS = FakeAccess(
    roles={"admin1": "admin", "maint": "maintain", "writer": "write", "reader": "read"},
    members={"acme/payments": {"pay-dev"}, "acme/security": {"sec-dev"}},
)


@pytest.mark.parametrize(
    ("command", "actor", "team", "config", "allowed", "reason"),
    [
        # claim-ownership: members of the claimed team, or maintain/admin
        ("claim-ownership", "pay-dev", "@acme/payments", None, True, "member of @acme/payments"),
        ("claim-ownership", "maint", "@acme/payments", None, True, "maintain permission"),
        ("claim-ownership", "admin1", "@acme/payments", None, True, "admin permission"),
        ("claim-ownership", "writer", "@acme/payments", None, False, "needs members of"),
        ("claim-ownership", "sec-dev", "@acme/payments", None, False, "may not run"),
        ("claim-ownership", "pay-dev", "@other/payments", None, False, "not a team of the acme"),
        (
            "claim-ownership",
            "writer",
            "@acme/payments",
            {"claim-ownership": {"permission": "write"}},
            True,
            "write permission",
        ),
        # waive: admins, or a configured security team
        ("waive", "admin1", None, None, True, "admin permission"),
        ("waive", "maint", None, None, False, "admin permission on the repository"),
        ("waive", "sec-dev", None, None, False, "may not run /waive"),
        ("waive", "sec-dev", None, {"waive": {"teams": ["@acme/security"]}}, True, "member of"),
        ("waive", "admin1", None, {"waive": {"enabled": False}}, False, "turned off"),
        # read-level commands: anyone who can comment, without an API call
        ("owners", "stranger", None, None, True, "anyone"),
        ("help", "stranger", None, None, True, "anyone"),
        ("recheck", "stranger", None, None, True, "anyone"),
        (
            "recheck",
            "reader",
            None,
            {"recheck": {"permission": "write"}},
            False,
            "write permission",
        ),
        ("recheck", "writer", None, {"recheck": {"permission": "write"}}, True, "write permission"),
    ],
)
def test_authorisation_table(
    command: str,
    actor: str,
    team: str | None,
    config: dict[str, dict[str, object]] | None,
    allowed: bool,
    reason: str,
) -> None:
    rule = command_rules(config)[command]
    decision = asyncio.run(authorize(command, actor, "acme/shop", rule, ACCESS, team))
    assert decision.allowed is allowed
    assert reason in decision.reason


def test_read_commands_make_no_api_calls() -> None:
    access = FakeAccess({}, {})
    asyncio.run(authorize("owners", "x", "acme/shop", DEFAULT_RULES["owners"], access))
    assert access.calls == []


def test_unknown_command_keys_and_bad_levels_keep_the_defaults() -> None:
    rules = command_rules({"deploy": {"enabled": True}, "waive": {"permission": "root"}})
    assert "deploy" not in rules
    assert rules["waive"] == CommandRule(permission="admin")


def test_answers_are_cached_per_installation_until_the_ttl() -> None:
    now = [0.0]
    access = FakeAccess({"writer": "write"}, {"acme/payments": {"pay-dev"}})
    store = AccessCache(ttl=60, clock=lambda: now[0])

    async def ask(installation: int) -> tuple[str, bool]:
        cached = CachedAccess(access, installation, store)
        return (
            await cached.permission("acme/shop", "writer"),
            await cached.is_member("acme", "payments", "pay-dev"),
        )

    assert asyncio.run(ask(1)) == ("write", True)
    assert asyncio.run(ask(1)) == ("write", True)
    assert len(access.calls) == 2  # the second round came from the cache
    asyncio.run(ask(2))
    assert len(access.calls) == 4  # another installation does not share answers
    now[0] = 61
    access.members["acme/payments"].clear()  # membership revoked
    assert asyncio.run(ask(1)) == ("write", False)
    assert len(access.calls) == 6


def test_cache_is_bounded() -> None:
    store = AccessCache(ttl=60, clock=lambda: 0.0, max_entries=3)
    access = FakeAccess({}, {})
    for user in ("a", "b", "c", "d", "e"):
        asyncio.run(CachedAccess(access, 1, store).permission("acme/shop", user))
    assert len(store) <= 3

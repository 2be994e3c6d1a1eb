"""Owner suggestions in comment commands: `/owners suggest [PATH ...]`, and the team that
`/claim-ownership` (no team named) claims for when the commenter is in exactly one suggested team.

Suggestions are computed for the pull request's files nobody owns on the base branch (the
CODEOWNERS GitHub reads), with the history of the PR head (ghapp.app.suggestions). Everything a
PR author controls (paths, evidence naming paths) is escaped in the reply, and owners are shown
as code: a suggestion is not an owner, so nobody is pinged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from ghapp.app.suggestions import SuggestionSource, suggestions_for
from ghapp.commands.authz import Access, team_org, team_slug
from ghapp.core.catalog import Catalog
from ghapp.core.manifests.services import discover_services
from ghapp.core.ownership.placement import Placement
from ghapp.core.ownership.suggest import DEFAULT_SINCE_DAYS, Group, Suggestions
from ghapp.core.snapshot import Snapshot
from ghapp.render.escape import code, text

MAX_LISTED = 20  # groups in a reply
MAX_MEMBERSHIP_CHECKS = 10


async def pr_suggestions(
    source: SuggestionSource,
    repo: str,
    head_sha: str,
    base: Snapshot,
    changed: Sequence[str],
    paths: Sequence[str],
    catalog: Catalog,
    now: datetime,
) -> Suggestions:
    """Suggestions for `paths` (default: the changed files) of a pull request."""
    services = (await asyncio.to_thread(discover_services, base, catalog))[0]
    targets = list(paths) or list(changed)
    return await suggestions_for(
        source, repo, head_sha, base, targets, services, now, extra_paths=changed
    )


def suggestions_reply(suggestions: Suggestions, targets: Sequence[str]) -> str:
    """The `/owners suggest` answer (Markdown, user text escaped)."""
    head = (
        f"**Owner suggestions** (from the last {DEFAULT_SINCE_DAYS} days of commits, team "
        "membership, neighbouring owners and service manifests)"
    )
    rows = [_group_row(g) for g in suggestions.groups[:MAX_LISTED]]
    if len(suggestions.groups) > MAX_LISTED:
        rows.append(f"- … and {len(suggestions.groups) - MAX_LISTED} more")
    for path, (line, pattern) in sorted(suggestions.deliberate.items()):
        rows.append(
            f"- {code(path)}: deliberately unowned (CODEOWNERS line {line} {code(pattern)} lists "
            "no owners)"
        )
    if not rows:
        asked = ", ".join(code(p) for p in targets[:5]) or "no files"
        return f"{head}: every file asked about has an owner ({asked})."
    return "\n".join([f"{head}:", "", *rows])


def _group_row(group: Group) -> str:
    where = code(group.pattern or group.files[0])
    count = "1 file" if len(group.files) == 1 else f"{len(group.files)} files"
    if group.top is None:
        return f"- {where} ({count}): no evidence for any owner yet"
    top = group.top
    lines = [f"- {where} ({count}): {code(top.owner)}, score {top.score:.2f}"]
    lines += [f"  - {text(sentence)}" for sentence in top.evidence]
    if group.placement is not None:
        lines.append(f"  - {_instruction(group.placement)}")
        lines.append(f"  - or comment {code('/claim-ownership ' + top.owner)}")
    elif group.refused:
        lines.append(f"  - no CODEOWNERS line can claim it: {text(group.refused)}")
    others = ", ".join(f"{code(s.owner)} {s.score:.2f}" for s in group.suggestions[1:])
    if others:
        lines.append(f"  - also: {others}")
    return "\n".join(lines)


def _instruction(placed: Placement) -> str:
    rule, path = code(placed.rule), code(placed.codeowners_path)
    if placed.new_file:
        return f"create {path} with the line {rule}"
    if placed.replaces:
        return f"change line {placed.number} of {path} to {rule}"
    if placed.before is None:
        return f"add {rule} at the end of {path}"
    return f"add {rule} to {path} as line {placed.number}, before {code(placed.before)}"


def suggested_teams(suggestions: Suggestions, org: str) -> list[str]:
    """The organisation's teams among the suggestions, best first."""
    ranked = sorted((s for g in suggestions.groups for s in g.suggestions), key=lambda s: -s.score)
    teams = [s.owner for s in ranked if "/" in s.owner and team_org(s.owner).lower() == org.lower()]
    return list(dict.fromkeys(teams))


async def teams_of(access: Access, org: str, actor: str, teams: Sequence[str]) -> list[str]:
    """Which of `teams` the actor is an active member of (the first few checked)."""
    return [
        t for t in teams[:MAX_MEMBERSHIP_CHECKS] if await access.is_member(org, team_slug(t), actor)
    ]

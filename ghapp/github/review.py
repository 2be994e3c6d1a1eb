"""Review comments: only on lines in the PR diff, each naming its owners, never posted twice.

GitHub answers 422 to a review comment on a line outside the diff, so `commentable_lines` reads
each changed file's `patch` (unified diff hunks) and keeps the head-side line numbers GitHub
accepts: added lines and context lines inside a hunk. Every comment body ends with a hidden
marker `<!-- ghapp:<hash> -->` of the finding's fingerprint (rule, path, subject: no line
number, so a finding that moved is still the same). Posted hashes are kept in `Memory`; when the
memory knows nothing about a PR (a fresh process), the existing review comments are read once to
recover them from their markers.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ghapp.app.memory import Memory
from ghapp.core.model import Finding
from ghapp.github.client import InstallationClient
from ghapp.github.snapshot import PER_PAGE, ChangedFile
from ghapp.render.escape import code, fence, mention, prose

HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")
MARKER = re.compile(r"<!-- ghapp:([0-9a-f]{16}) -->")
MAX_COMMENTS_PER_REVIEW = 30  # more than this is noise; the check run lists everything
MAX_EXISTING_PAGES = 10
FILE_RULES = frozenset({"codeowners/unowned-file"})  # findings about a whole file, not a line


def commentable_lines(patch: str | None) -> frozenset[int]:
    """Head-side line numbers a review comment may target (added or context lines in hunks)."""
    lines: set[int] = set()
    if not patch:
        return frozenset()
    current: int | None = None
    for text in patch.splitlines():
        if hunk := HUNK.match(text):
            current = int(hunk.group(1))
        elif current is None or text.startswith("\\"):
            continue  # before the first hunk, or "\ No newline at end of file"
        elif text.startswith("-"):
            continue
        else:  # "+" added or " " context
            lines.add(current)
            current += 1
    return frozenset(lines)


def fingerprint_hash(finding: Finding) -> str:
    """A short stable id of the problem (rule, path, subject), used in the hidden marker."""
    return hashlib.sha256(json.dumps(finding.fingerprint).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ReviewComment:
    path: str
    line: int
    body: str
    key: str  # fingerprint hash

    def to_json(self) -> dict[str, object]:
        return {"path": self.path, "line": self.line, "side": "RIGHT", "body": self.body}


def plan_comments(findings: Iterable[Finding], files: Sequence[ChangedFile]) -> list[ReviewComment]:
    """One comment per new, unwaived finding that sits on a commentable line (deduped by key)."""
    lines = {f.path: commentable_lines(f.patch) for f in files}
    planned: dict[str, ReviewComment] = {}
    for finding in findings:
        if not finding.new or finding.waived or finding.path is None:
            continue
        allowed = lines.get(finding.path, frozenset())
        line = finding.line
        if line is None and finding.rule in FILE_RULES and allowed:
            line = min(allowed)  # about the whole file: its first line in the diff
        if line is None or line not in allowed:
            continue
        key = fingerprint_hash(finding)
        planned.setdefault(key, ReviewComment(finding.path, line, comment_body(finding, key), key))
    return list(planned.values())[:MAX_COMMENTS_PER_REVIEW]


def comment_body(finding: Finding, key: str) -> str:
    """The comment text: what is wrong, who must act, how to fix it, a suggestion when mechanical.

    Messages and fixes quote what the pull request wrote, so they are made inert (`prose`); the
    owners are mentioned only when ghapp resolved them itself, else named as code."""
    parts = [f"**{finding.severity}** {code(finding.rule)}: {prose(finding.message)}"]
    if finding.owners:
        shown = (mention(o) if owners_vouched(finding) else code(o) for o in finding.owners)
        parts.append(f"Owners who must act: {' '.join(shown)}")
    else:
        parts.append("Nobody owns this file yet: the author of this change should claim it.")
    if finding.fix:
        parts.append(f"**Fix:** {prose(finding.fix)}")
    if finding.suggestion is not None:
        marks = fence(finding.suggestion)
        parts.append(f"{marks}suggestion\n{finding.suggestion}\n{marks}")
    parts.append(f"<!-- ghapp:{key} -->")
    return "\n\n".join(parts)


def owners_vouched(finding: Finding) -> bool:
    """Whether ghapp resolved the finding's owners itself (a CODEOWNERS rule, or a manifest
    owner that is a CODEOWNERS owner too), so they may be live mentions. A finding that does
    not say where its owners come from is not vouched for: its owners are named, not pinged."""
    return finding.owner_source is not None and finding.owner_source.validated


async def posted_keys(
    client: InstallationClient, memory: Memory, repo: str, number: int
) -> set[str]:
    """Fingerprint hashes already posted on this PR (memory first; else read the comments once)."""
    remembered = await memory.recall(_memory_key(repo, number))
    if remembered is not None:
        return set(json.loads(remembered))
    keys: set[str] = set()
    for page in range(1, MAX_EXISTING_PAGES + 1):
        batch = await client.request(
            "GET",
            f"/repos/{repo}/pulls/{number}/comments",
            params={"per_page": PER_PAGE, "page": page},
        )
        for comment in batch or []:
            keys.update(MARKER.findall(str(comment.get("body") or "")))
        if len(batch or []) < PER_PAGE:
            break
    await memory.remember(_memory_key(repo, number), json.dumps(sorted(keys)))
    return keys


async def post_review(
    client: InstallationClient,
    memory: Memory,
    *,
    repo: str,
    number: int,
    head_sha: str,
    findings: Iterable[Finding],
    files: Sequence[ChangedFile],
) -> int:
    """Post one COMMENT review with the comments not posted before; how many were posted."""
    planned = plan_comments(findings, files)
    if not planned:
        return 0
    already = await posted_keys(client, memory, repo, number)
    fresh = [c for c in planned if c.key not in already]
    if not fresh:
        return 0
    await client.request(
        "POST",
        f"/repos/{repo}/pulls/{number}/reviews",
        json={
            "commit_id": head_sha,
            "event": "COMMENT",
            "body": f"ghapp found {len(fresh)} problem(s) on changed lines.",
            "comments": [c.to_json() for c in fresh],
        },
    )
    await memory.remember(
        _memory_key(repo, number), json.dumps(sorted(already | {c.key for c in fresh}))
    )
    return len(fresh)


def _memory_key(repo: str, number: int) -> str:
    return f"review-comments:{repo}#{number}"


def owners_to_request(
    owners: Iterable[str], org: str, author: str | None
) -> Mapping[str, list[str]]:
    """Split `@user` / `@org/team` owners into the review-request body (emails are skipped)."""
    users: set[str] = set()
    teams: set[str] = set()
    for owner in owners:
        name = owner.lstrip("@")
        if "/" in name:
            team_org, _, slug = name.partition("/")
            if team_org.lower() == org.lower():  # only the repository's own org's teams
                teams.add(slug)
        elif "@" not in name and name and name.lower() != (author or "").lower():
            users.add(name)
    return {"reviewers": sorted(users), "team_reviewers": sorted(teams)}

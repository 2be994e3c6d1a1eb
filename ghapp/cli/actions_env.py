"""What the GitHub Actions runner tells a step (its environment and event payload), and which
commits an event is about. Read by `ghapp ci` only."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ghapp.cli import UsageError
from ghapp.cli.ci import NEEDS

PR_EVENTS = ("pull_request", "pull_request_target")


@dataclass(frozen=True)
class ActionsEnvironment:
    """What the Actions runner tells a step about its run."""

    event_name: str
    event_path: Path | None
    sha: str | None
    workspace: Path | None
    step_summary: Path | None
    output: Path | None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ActionsEnvironment:
        if environ.get("GITHUB_ACTIONS") != "true":
            raise UsageError(
                f"ghapp ci runs inside GitHub Actions and reads {NEEDS}; GITHUB_ACTIONS is not "
                "set, so run `ghapp check` here"
            )

        def path(name: str) -> Path | None:
            value = environ.get(name)
            return Path(value) if value else None

        return cls(
            event_name=environ.get("GITHUB_EVENT_NAME", ""),
            event_path=path("GITHUB_EVENT_PATH"),
            sha=environ.get("GITHUB_SHA") or None,
            workspace=path("GITHUB_WORKSPACE"),
            step_summary=path("GITHUB_STEP_SUMMARY"),
            output=path("GITHUB_OUTPUT"),
        )

    def payload(self) -> dict[str, Any]:
        if self.event_path is None:
            return {}
        try:
            data = json.loads(self.event_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"GITHUB_EVENT_PATH {self.event_path}: cannot read: {exc}") from None
        return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class Range:
    """What to evaluate: `head` against `base` (either None: the whole working tree)."""

    base: str | None
    head: str | None
    description: str
    subject: str = "commit"  # what the summary calls it: "pull request", "merge group", "push"


def event_range(env: ActionsEnvironment, root: Path) -> Range:
    """The commits the event is about: a pull request's (or merge group's) base and head, a
    pushed commit and its parent (fetched when the checkout is shallow), else the whole tree."""
    from ghapp import commits

    payload = env.payload()
    if env.event_name in PR_EVENTS:
        pr = payload.get("pull_request") or {}
        base, head = _sha(pr, "base"), _sha(pr, "head")
        if not (base and head):
            raise UsageError(f"{env.event_name} payload has no pull_request.base.sha/head.sha")
        number = pr.get("number")
        return Range(
            base, head, f"pull request #{number}: {base[:12]}..{head[:12]}", "pull request"
        )
    if env.event_name == "merge_group":
        group = payload.get("merge_group") or {}
        base, head = group.get("base_sha"), group.get("head_sha")
        if isinstance(base, str) and isinstance(head, str):
            return Range(base, head, f"merge group: {base[:12]}..{head[:12]}", "merge group")
    if env.event_name == "push" and not payload.get("deleted"):
        head = env.sha or payload.get("after")
        if not isinstance(head, str) or not head:
            raise UsageError("push event without GITHUB_SHA")
        commits.ensure_commit(root, head, "the pushed commit")
        parent = commits.parent_of(root, head)
        if parent is None:
            return Range(None, head, f"push of root commit {head[:12]}: the whole tree", "push")
        return Range(parent, head, f"push: {head[:12]} against its parent {parent[:12]}", "push")
    return Range(None, None, f"{env.event_name or 'no event'}: the whole tree")


def _sha(pr: Mapping[str, Any], side: str) -> str | None:
    ref = pr.get(side)
    sha = ref.get("sha") if isinstance(ref, Mapping) else None
    return sha if isinstance(sha, str) and sha else None

"""The GITHUB_TOKEN's scopes: none declared (`workflow/missing-permissions`), `write-all`
(`workflow/write-all-permissions`), and write scopes granted to every job at the workflow level
(`workflow/excessive-permissions`).

Workflow-level write scopes are reported only when they reach a job that does not need them:
the workflow has several jobs and at least one declares no `permissions:` of its own and shows
no use of the token (no `gh`, git push, publishing, token input or GitHub-writing action). One
job, or jobs that all declare their own, are fine (zizmor's regular persona). Reusable-only
workflows inherit their caller's token and are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from ghapp.core.context import Context
from ghapp.core.model import Finding
from ghapp.core.workflows.actions import uses_token
from ghapp.core.workflows.parsing import Job, Workflow
from ghapp.core.yamlnodes import LineDict

# Events on which a pull request's author (or any commenter) shapes what a job does while its
# token keeps the base repository's write scopes.
_EXPOSED = ("pull_request_target", "issue_comment", "workflow_run")
_TOKEN_ENV = re.compile(r"github\.token|secrets\.GITHUB_TOKEN|^(GH|GITHUB)_TOKEN=")


def check(ctx: Context, workflows: Sequence[Workflow]) -> Iterator[Finding]:
    """Token-permission findings for every workflow."""
    for wf in workflows:
        yield from _write_all(ctx, wf)
        yield from _excessive(ctx, wf)
        yield from _missing(ctx, wf)


def write_scopes(permissions: Any) -> tuple[str, ...] | None:
    """The scopes a `permissions:` value grants write on; None for `write-all` (every scope)."""
    if isinstance(permissions, str):
        return None if _is_write_all(permissions) else ()
    if isinstance(permissions, dict):
        return tuple(str(k) for k, v in permissions.items() if str(v).strip().lower() == "write")
    return ()


def token_writes(wf: Workflow, job: Job) -> str | None:
    """How the job's token can write ("contents: write", "write-all", "the default scopes"), or
    None when it certainly cannot."""
    holder = job if job.has_permissions else wf if wf.has_permissions else None
    if holder is None:
        return "the default scopes (read-write unless the repository restricts them)"
    scopes = write_scopes(holder.permissions)
    if scopes is None:
        return "write-all"
    return ", ".join(f"{s}: write" for s in scopes) or None


def _write_all(ctx: Context, wf: Workflow) -> Iterator[Finding]:
    if _is_write_all(wf.permissions):
        yield ctx.finding(
            "workflow/write-all-permissions",
            f"{wf.path} grants `permissions: write-all` to every job",
            path=wf.path,
            line=wf.permissions_line,
            subject="workflow",
        )
    for job in wf.jobs:
        if _is_write_all(job.permissions):
            yield ctx.finding(
                "workflow/write-all-permissions",
                f"job `{job.id}` grants `permissions: write-all`",
                path=wf.path,
                line=job.permissions_line,
                subject=f"job:{job.id}",
            )


def _excessive(ctx: Context, wf: Workflow) -> Iterator[Finding]:
    scopes = write_scopes(wf.permissions)
    if not scopes or wf.events == {"workflow_call"} or len(wf.jobs) < 2:
        return
    # a job that shows no use of the token (no gh, push, publish, token input) needs no write
    inheriting = [j.id for j in wf.jobs if not j.has_permissions and not _may_use_token(j)]
    if not inheriting:
        return
    exposed = [e for e in _EXPOSED if e in wf.events]
    where = (
        f"; on {'/'.join(exposed)} a fork or a commenter shapes what they run" if exposed else ""
    )
    perms = wf.permissions
    line = perms.line_of(scopes[0]) if isinstance(perms, LineDict) else wf.permissions_line
    yield ctx.finding(
        "workflow/excessive-permissions",
        f"{wf.path} grants {', '.join(f'`{s}: write`' for s in scopes)} at the workflow level, "
        f"so job(s) {', '.join(f'`{j}`' for j in inheriting)}, which use no token, get it too"
        f"{where}",
        path=wf.path,
        line=line,
        subject="workflow",
    )


def _missing(ctx: Context, wf: Workflow) -> Iterator[Finding]:
    if wf.has_permissions or wf.events == {"workflow_call"}:
        return
    bare = [j.id for j in wf.jobs if not j.has_permissions and not j.uses]
    if bare:
        yield ctx.finding(
            "workflow/missing-permissions",
            f"{wf.path} sets no `permissions:`, so job(s) {', '.join(bare)} get the default "
            "GITHUB_TOKEN scopes (often read-write)",
            path=wf.path,
            line=wf.on_line,
            subject="workflow",
        )


def _may_use_token(job: Job) -> bool:
    if job.uses is not None or any(_TOKEN_ENV.search(f"{k}={v}") for k, v in job.env.items()):
        return True  # a reusable workflow's needs are unknown here
    return any(uses_token(step) for step in job.steps)


def _is_write_all(value: object) -> bool:
    return isinstance(value, str) and value.strip().lower() == "write-all"

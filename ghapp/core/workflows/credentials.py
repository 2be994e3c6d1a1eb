"""`workflow/persist-credentials`: `actions/checkout` keeps the job's GITHUB_TOKEN for git (in
`.git/config`; from checkout v6 in a file under `$RUNNER_TEMP` that the git config includes), in
reach of every later step, in a job where a later step could leak it and none needs it:

- the job runs a pull request's code on a privileged trigger: that code reads the token;
- it uploads the workspace with its hidden files: `.git/config` lands in a downloadable artifact
  (only before checkout v6, and only when upload-artifact includes hidden files: before v4.4 or
  with `include-hidden-files: true`);
- it publishes (a release, a package, an image) with a token declared to write, and every build
  step before the publishing one runs third-party code with that token in reach.

Nothing is reported when the token cannot write, when `persist-credentials` is set (`true` says
the job needs it), or when a later step pushes with git (the credentials are then needed).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from ghapp.core.context import Context
from ghapp.core.model import Finding
from ghapp.core.workflows.actions import publishes, pushes
from ghapp.core.workflows.parsing import Step, Workflow
from ghapp.core.workflows.permissions import token_writes
from ghapp.core.workflows.privileged import PullRequestCode, fork_reachable, pull_request_code

_VERSION = re.compile(r"^v?(\d+)(?:\.(\d+))?")
_COMMENT_VERSION = re.compile(r"#\s*(?:tag=)?v?(\d+)(?:\.(\d+))?")
_WORKSPACE = re.compile(r"^(\.|\./|\$\{\{\s*github\.workspace\s*\}\}/?)$|(^|/)\.git(/|$)")


def check(ctx: Context, workflows: Sequence[Workflow]) -> Iterator[Finding]:
    """Persisted checkout credentials in jobs that could leak them."""
    reachable = fork_reachable(workflows)
    for wf in workflows:
        events = [e for e in ("pull_request_target", "workflow_run") if (wf.path, e) in reachable]
        executions = {x.job.id: x for x in pull_request_code(wf, events)}
        for job in wf.jobs:
            writes = token_writes(wf, job)
            if writes is None:
                continue
            for i, step in enumerate(job.steps):
                if step.action != "actions/checkout" or "persist-credentials" in step.with_:
                    continue
                later = job.steps[i + 1 :]
                if any(pushes(s) for s in later):
                    break
                declared = job.has_permissions or wf.has_permissions
                leak = _leak(wf, step, later, executions.get(job.id), declared)
                if leak is not None:
                    yield ctx.finding(
                        "workflow/persist-credentials",
                        f"`{step.uses}` in job `{job.id}` keeps the GITHUB_TOKEN ({writes}) "
                        f"for git, and {leak}",
                        path=wf.path,
                        line=step.uses_line or step.line,
                        subject=f"{job.id}:{step.label}",
                    )


def _leak(
    wf: Workflow,
    checkout: Step,
    later: Sequence[Step],
    execution: PullRequestCode | None,
    declared: bool,
) -> str | None:
    """Why the persisted token is exposed for nothing (None: it is not, or it is needed)."""
    if execution is not None and execution.runner in later:
        return (
            f"step `{execution.runner.label}` (line {execution.runner_line}) runs the pull "
            f"request's code ({execution.runner_what}), which can read it"
        )
    checkout_major = _version(wf, checkout)[0]
    in_git_config = checkout_major is not None and checkout_major < 6
    for step in later:
        if step.action != "actions/upload-artifact" or not in_git_config:
            continue
        path = step.with_.get("path", "")
        if not any(_WORKSPACE.search(p.strip()) for p in path.splitlines() if p.strip()):
            continue
        major, minor = _version(wf, step)
        hidden = step.with_.get("include-hidden-files") == "true" or (
            major is not None and (major < 4 or (major == 4 and minor is not None and minor < 4))
        )
        if hidden:
            return (
                f"step `{step.label}` (line {step.uses_line}) uploads the workspace with its "
                "hidden files, `.git/config` and the token in it included"
            )
    for step in later if declared else ():  # the default scopes may be read-only: say nothing
        tool = publishes(step)
        if tool is not None:
            return (
                f"the job publishes (step `{step.label}`, {tool}) but never pushes with git: "
                "every build step after the checkout can read a token nothing needs"
            )
    return None


def _version(wf: Workflow, step: Step) -> tuple[int | None, int | None]:
    """(major, minor) of an action from its ref (`@v4.1`) or the comment after a SHA pin."""
    ref = (step.uses or "").partition("@")[2]
    m = _VERSION.match(ref) if len(ref) < 40 else None
    if m is None and step.uses_line and 0 < step.uses_line <= len(wf.lines):
        m = _COMMENT_VERSION.search(wf.lines[step.uses_line - 1])
    if m is None:
        return None, None
    return int(m.group(1)), int(m.group(2)) if m.group(2) else None

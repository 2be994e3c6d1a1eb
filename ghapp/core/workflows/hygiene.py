"""Workflow hygiene: `workflow/…` findings, each on the line to change (zizmor's audits as model).

A workflow that cannot be read is `workflow/invalid`; the others are checked by family:
- pinning: unpinned actions and reusable workflows, `secrets: inherit` to another repository;
- permissions: no `permissions:`, `write-all`, write scopes granted to every job;
- credentials: checkout credentials persisted in a job that could leak them;
- privileged: `pull_request_target`/`workflow_run` (the trigger itself, executing the pull
  request's code, fork data written to GITHUB_ENV, release caches such jobs can poison);
- injection: attacker-controlled `${{ }}` expanded into a script.
Precision first: a rule reports what it can name (the step, the command, the line), not what
might be.
"""

from __future__ import annotations

from collections.abc import Iterable

from ghapp.core.context import Context
from ghapp.core.model import Finding
from ghapp.core.workflows import credentials, injection, permissions, pinning, privileged

FAMILIES = (pinning.check, permissions.check, credentials.check, privileged.check, injection.check)


def check_workflows(ctx: Context) -> Iterable[Finding]:
    """Hygiene findings for every workflow file of the snapshot."""
    findings: list[Finding] = []
    valid = []
    for wf in ctx.workflows:
        if wf.error is None:
            valid.append(wf)
            continue
        findings.append(
            ctx.finding(
                "workflow/invalid",
                f"{wf.path} cannot be used as a workflow: {wf.error}",
                path=wf.path,
                line=wf.error_line,
                subject=wf.path,
            )
        )
    for family in FAMILIES:
        findings.extend(family(ctx, valid))
    return findings

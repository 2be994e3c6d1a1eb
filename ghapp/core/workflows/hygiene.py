"""Workflow hygiene: `workflow/…` findings, each on the line to change (zizmor's audits as model).

A workflow that is not valid is `workflow/invalid`, one ghapp cannot read in full (over the YAML
limits, or unreadable: GitHub may still run it) `workflow/unreadable`; the others are checked by
family:
- pinning: unpinned actions and reusable workflows, `secrets: inherit` to another repository;
- permissions: no `permissions:`, `write-all`, write scopes granted to every job;
- credentials: checkout credentials persisted in a job that could leak them;
- privileged: `pull_request_target`/`workflow_run` (the trigger itself, executing the pull
  request's code, fork data written to GITHUB_ENV, release caches such jobs can poison);
- injection: attacker-controlled `${{ }}` expanded into a script.
Composite actions (`action.yml`) get the step audits too (`check_actions`): unpinned `uses:` and
script injection. What the repository's zizmor config or `# zizmor: ignore[...]` comments accept
is waived (ghapp.core.workflows.zizmor). Precision first: a rule reports what it can name (the step, the command, the line), not what
might be.
"""

from __future__ import annotations

from collections.abc import Iterable

from ghapp.core.context import Context
from ghapp.core.model import Finding
from ghapp.core.snapshot import read_bounded, unread_id
from ghapp.core.workflows import credentials, injection, permissions, pinning, privileged
from ghapp.core.workflows.parsing import Workflow, is_action_path, parse_composite_action
from ghapp.core.workflows.zizmor import read_config, waive_accepted
from ghapp.core.yamlnodes import MAX_YAML_BYTES

FAMILIES = (pinning.check, permissions.check, credentials.check, privileged.check, injection.check)


def check_workflows(ctx: Context) -> Iterable[Finding]:
    """Hygiene findings for every workflow file of the snapshot."""
    findings: list[Finding] = []
    valid = []
    for wf in ctx.workflows:
        if wf.error is None:
            valid.append(wf)
        else:
            findings.append(_unusable(ctx, wf))
    for family in FAMILIES:
        findings.extend(family(ctx, valid))
    return waive_accepted(findings, read_config(ctx.snapshot), valid)


def check_actions(ctx: Context) -> Iterable[Finding]:
    """The step audits (unpinned `uses:`, script injection) on the snapshot's composite actions:
    their steps run inside every workflow that uses them. One ghapp cannot read in full is
    `workflow/unreadable`."""
    actions: list[Workflow] = []
    findings: list[Finding] = []
    for path in ctx.snapshot.paths():
        if not is_action_path(path):
            continue
        data, why = read_bounded(ctx.snapshot, path, MAX_YAML_BYTES)
        action: Workflow | None
        if data is None:
            action = Workflow(path, error=why, unread=unread_id(ctx.snapshot, path))
        else:
            action = parse_composite_action(path, data.decode("utf-8", errors="replace"))
        if action is not None and action.unread:
            findings.append(_unusable(ctx, action))
        elif action is not None:
            actions.append(action)
    found = [*pinning.check(ctx, actions), *injection.check(ctx, actions)]
    return [*findings, *waive_accepted(found, read_config(ctx.snapshot), actions)]


def _unusable(ctx: Context, wf: Workflow) -> Finding:
    """`workflow/invalid`, or `workflow/unreadable` when ghapp could not read it in full."""
    if wf.unread:
        return ctx.finding(
            "workflow/unreadable",
            f"ghapp cannot check {wf.path}, which GitHub may still run: {wf.error}",
            path=wf.path,
            line=wf.error_line,
            subject=f"{wf.path} {wf.unread}",
        )
    return ctx.finding(
        "workflow/invalid",
        f"{wf.path} cannot be used as a workflow: {wf.error}",
        path=wf.path,
        line=wf.error_line,
        subject=wf.path,
    )

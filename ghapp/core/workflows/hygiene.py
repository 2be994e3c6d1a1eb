"""Workflow hygiene: `workflow/…` findings, each on the line to change (zizmor's audits as model).

- unpinned actions: a `uses:` ref that is not a full 40-hex commit SHA. Third-party actions are
  `workflow/unpinned-action` (warning); GitHub's own `actions/*` and `github/*` are the separate,
  lower `workflow/unpinned-github-action` (notice). Local `./` actions are fine, and so is
  `docker://image@sha256:…`. No `suggestion`: the right SHA cannot be known offline.
- token permissions: no `permissions:` for the workflow or a job (reusable-only workflows
  inherit their caller's and are skipped), or `write-all`.
- untrusted checkout: `pull_request_target`/`workflow_run` jobs that check out the PR head and
  then run something.
- script injection: attacker-controlled `${{ github.event.… }}` expanded inside `run:` (or a
  github-script `script:`), reported on the line of the expression itself.
- `secrets: inherit` to a workflow in another repository.

Composite actions (`action.yml`) get the step audits too (`check_actions`): unpinned `uses:` and
script injection.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from ghapp.core.context import Context
from ghapp.core.model import Finding
from ghapp.core.snapshot import read_text
from ghapp.core.workflows.parsing import (
    Job,
    Step,
    Workflow,
    is_action_path,
    may_run,
    parse_composite_action,
)

_SHA = re.compile(r"[0-9a-fA-F]{40}")
_GITHUB_OWNERS = frozenset({"actions", "github"})
_EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.DOTALL)
_UNTRUSTED = re.compile(
    r"github\s*\.\s*(head_ref\b|event\s*\.\s*("
    r"(issue|pull_request|discussion)\.(title|body)\b"
    r"|(comment|review|review_comment)\.body\b"
    r"|pages\b.*\.page_name\b"
    r"|commits\b.*\.(message|author\.(email|name))\b"
    r"|head_commit\.(message|author\.(email|name))\b"
    r"|pull_request\.head\.(ref|label|repo\.default_branch)\b"
    r"|workflow_run\.(head_branch|display_title|head_commit\.(message|author\.(email|name)))\b"
    r"))",
    re.IGNORECASE,
)
_HEAD_REF = re.compile(
    r"github\.event\.pull_request\.head\.(sha|ref)|github\.head_ref|refs/pull/"
    r"|github\.event\.workflow_run\.head_(sha|branch)|pull_request\.merge_commit_sha",
    re.IGNORECASE,
)
_PRIVILEGED = ("pull_request_target", "workflow_run")
_INERT_ACTIONS = ("actions/upload-artifact", "actions/download-artifact", "actions/cache")
_GH_CHECKOUT = re.compile(r"\bgh\s+pr\s+checkout\b")


def check_workflows(ctx: Context) -> Iterable[Finding]:
    """Hygiene findings for every workflow file of the snapshot."""
    findings: list[Finding] = []
    for wf in ctx.workflows:
        if wf.error is not None:
            findings.append(
                ctx.finding(
                    "workflow/invalid",
                    f"{wf.path} cannot be used as a workflow: {wf.error}",
                    path=wf.path,
                    line=wf.error_line,
                    subject=wf.path,
                )
            )
            continue
        for check in (_unpinned, _permissions, _untrusted_checkout, _injection, _inherit):
            findings.extend(check(ctx, wf))
    return findings


def check_actions(ctx: Context) -> Iterable[Finding]:
    """The step audits (unpinned `uses:`, script injection) on the snapshot's composite actions:
    their steps run inside every workflow that uses them."""
    findings: list[Finding] = []
    for path in ctx.snapshot.paths():
        if not is_action_path(path):
            continue
        text = read_text(ctx.snapshot, path)
        action = parse_composite_action(path, text) if text is not None else None
        if action is not None:
            findings += [*_unpinned(ctx, action), *_injection(ctx, action)]
    return findings


def _unpinned(ctx: Context, wf: Workflow) -> Iterator[Finding]:
    for job in wf.jobs:
        refs = [(job.uses, job.uses_line)] + [(s.uses, s.uses_line) for s in job.steps]
        for uses, line in refs:
            if not uses or uses.startswith("./"):
                continue
            if uses.startswith("docker://"):
                if "@sha256:" not in uses:
                    yield ctx.finding(
                        "workflow/unpinned-action",
                        f"`{uses}` is not pinned to an image digest (`@sha256:…`)",
                        path=wf.path,
                        line=line,
                        column=_column(wf, line, uses),
                        subject=uses,
                        fix="Pin the image by digest: `docker://image@sha256:<digest>`.",
                    )
                continue
            name, _, ref = uses.partition("@")
            if _SHA.fullmatch(ref):
                continue
            owner = name.split("/", 1)[0].lower()
            rule = (
                "workflow/unpinned-github-action"
                if owner in _GITHUB_OWNERS
                else "workflow/unpinned-action"
            )
            pinned = f"the mutable ref `{ref}`" if ref else "no ref at all"
            yield ctx.finding(
                rule,
                f"`{name}` is pinned to {pinned}, not a full commit SHA",
                path=wf.path,
                line=line,
                column=_column(wf, line, uses),
                subject=uses,
            )


def _permissions(ctx: Context, wf: Workflow) -> Iterator[Finding]:
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


def _untrusted_checkout(ctx: Context, wf: Workflow) -> Iterator[Finding]:
    events = [e for e in _PRIVILEGED if e in wf.events]
    for job in wf.jobs:
        live = [e for e in events if may_run(job.if_, e)]
        if not live:
            continue
        for i, step in enumerate(job.steps):
            if not any(may_run(step.if_, e) for e in live):
                continue
            where = _head_checkout(step)
            if where is None:
                continue
            runner = next((s for s in job.steps[i + 1 :] if _runs_code(s)), None)
            if runner is None and not (step.run and _GH_CHECKOUT.search(step.run)):
                continue
            then = f", then `{runner.label}` runs it" if runner is not None else ""
            yield ctx.finding(
                "workflow/untrusted-checkout",
                f"job `{job.id}` runs on {'/'.join(live)} with secrets and checks out the "
                f"pull request's code ({where[0]}){then}",
                path=wf.path,
                line=where[1],
                subject=f"{job.id}:{where[0]}",
            )


def _head_checkout(step: Step) -> tuple[str, int] | None:
    """(what, line) when the step fetches the untrusted head: checkout with a head ref, gh pr."""
    if step.uses and step.uses.lower().startswith("actions/checkout"):
        ref = step.with_.get("ref", "")
        if _HEAD_REF.search(ref):
            return f"ref: {ref}", step.with_lines.get("ref", step.line)
    if step.run and _GH_CHECKOUT.search(step.run):
        return "gh pr checkout", step.run_line or step.line
    return None


def _runs_code(step: Step) -> bool:
    if step.run:
        return True
    if not step.uses:
        return False
    name = step.uses.split("@", 1)[0].lower()
    return not name.startswith(_INERT_ACTIONS) and not name.startswith("actions/checkout")


def _injection(ctx: Context, wf: Workflow) -> Iterator[Finding]:
    for job in wf.jobs:
        for step in job.steps:
            sources: list[tuple[str, int | None, str]] = []
            if step.run:
                sources.append((step.run, step.run_line, "run"))
            if step.uses and step.uses.lower().startswith("actions/github-script"):
                script = step.with_.get("script")
                if script:
                    sources.append((script, step.with_lines.get("script"), "script"))
            for text, key_line, where in sources:
                yield from _injections(ctx, wf, job, step, text, key_line or step.line, where)


def _injections(
    ctx: Context, wf: Workflow, job: Job, step: Step, text: str, key_line: int, where: str
) -> Iterator[Finding]:
    cursor = (key_line, 0)
    for match in _EXPRESSION.finditer(text):
        expr = match.group(0)
        bad = _UNTRUSTED.search(expr)
        if bad is None:
            continue
        line, column = _locate(wf, expr, cursor, key_line + text.count("\n") + 2)
        cursor = (line, column or 0)
        yield ctx.finding(
            "workflow/script-injection",
            f"`{expr}` expands attacker-controlled `{bad.group(0)}` into the `{where}:` of "
            f"step `{step.label}` (job `{job.id}`)",
            path=wf.path,
            line=line,
            column=column,
            subject=f"{job.id}:{step.label}:{bad.group(0)}",
        )


def _inherit(ctx: Context, wf: Workflow) -> Iterator[Finding]:
    for job in wf.jobs:
        if job.uses and not job.uses.startswith("./") and job.secrets_inherit_line:
            yield ctx.finding(
                "workflow/secrets-inherit",
                f"job `{job.id}` passes every secret to `{job.uses}` with `secrets: inherit`",
                path=wf.path,
                line=job.secrets_inherit_line,
                subject=f"{job.id}:{job.uses}",
            )


def _is_write_all(value: object) -> bool:
    return isinstance(value, str) and value.strip().lower() == "write-all"


def _locate(wf: Workflow, needle: str, after: tuple[int, int], end: int) -> tuple[int, int | None]:
    """Where `needle` next occurs after (line, 1-based column), up to line `end`."""
    first = needle.split("\n", 1)[0]
    start, skip = after
    for number in range(max(start, 1), min(end, len(wf.lines)) + 1):
        col = wf.lines[number - 1].find(first, skip if number == start else 0)
        if col >= 0:
            return number, col + 1
    return start, None


def _column(wf: Workflow, line: int | None, text: str) -> int | None:
    if line is None or not 0 < line <= len(wf.lines):
        return None
    col = wf.lines[line - 1].find(text)
    return col + 1 if col >= 0 else None

"""`workflow/script-injection`: attacker-controlled `${{ github.event.… }}` expanded into a
`run:` script (or a github-script `script:`), reported on the line of the expression itself."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from ghapp.core.context import Context
from ghapp.core.model import Finding
from ghapp.core.workflows.expressions import MAX_LENGTH, expression_spans
from ghapp.core.workflows.parsing import Job, Step, Workflow

# Event fields a fork author or any commenter writes freely. (`.{0,100}`, not `.*`: every
# `github.event.commits` of an expression would otherwise rescan it to the end, quadratic in an
# expression of many of them.)
UNTRUSTED = re.compile(
    r"github\s*\.\s*(head_ref\b|event\s*\.\s*("
    r"(issue|pull_request|discussion)\.(title|body)\b"
    r"|(comment|review|review_comment)\.body\b"
    r"|pages\b.{0,100}\.page_name\b"
    r"|commits\b.{0,100}\.(message|author\.(email|name))\b"
    r"|head_commit\.(message|author\.(email|name))\b"
    r"|pull_request\.head\.(ref|label|repo\.default_branch)\b"
    r"|workflow_run\.(head_branch|display_title|head_commit\.(message|author\.(email|name)))\b"
    r"))",
    re.IGNORECASE,
)


def check(ctx: Context, workflows: Sequence[Workflow]) -> Iterator[Finding]:
    """Script injection in every step of every workflow."""
    for wf in workflows:
        for job in wf.jobs:
            for step in job.steps:
                sources: list[tuple[str, int | None, str]] = []
                if step.run:
                    sources.append((step.run, step.run_line, "run"))
                if step.action == "actions/github-script":
                    script = step.with_.get("script")
                    if script:
                        sources.append((script, step.with_lines.get("script"), "script"))
                for text, key_line, where in sources:
                    yield from _injections(ctx, wf, job, step, text, key_line or step.line, where)


def _injections(
    ctx: Context, wf: Workflow, job: Job, step: Step, text: str, key_line: int, where: str
) -> Iterator[Finding]:
    cursor = (key_line, 0)
    last_line = key_line + text.count("\n") + 2  # once: per finding it was quadratic
    for start, end in expression_spans(text):
        expr = text[start:end]
        if len(expr) > MAX_LENGTH:
            continue  # GitHub refuses such an expression, so it expands nothing
        bad = UNTRUSTED.search(expr)
        if bad is None:
            continue
        line, column = _locate(wf, expr, cursor, last_line)
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


def _locate(wf: Workflow, needle: str, after: tuple[int, int], end: int) -> tuple[int, int | None]:
    """Where `needle` next occurs after (line, 1-based column), up to line `end`."""
    first = needle.split("\n", 1)[0]
    start, skip = after
    for number in range(max(start, 1), min(end, len(wf.lines)) + 1):
        col = wf.lines[number - 1].find(first, skip if number == start else 0)
        if col >= 0:
            return number, col + 1
    return start, None

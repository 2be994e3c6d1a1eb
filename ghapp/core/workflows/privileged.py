"""Workflows that run with the base repository's secrets on events a fork can cause.

`pull_request_target` and `workflow_run` run in the base repository's context (its secrets, a
token that can write, the default branch's cache scope) while a fork author controls the pull
request: its code, the artifacts its `pull_request` run uploaded, its branch name and title.
A `workflow_run` workflow is reachable from a fork only when a workflow it listens to is (one
triggered only by push, schedule or a maintainer never is); unknown names count as reachable.

- `workflow/dangerous-trigger` (notice): such a trigger is used at all; review what it trusts.
- `workflow/untrusted-checkout`: a job checks out the pull request's code and a later step
  executes it; the message names that step and command.
- `workflow/github-env`: such a job writes data a fork controls (an artifact, the pull
  request's files, event text) to `GITHUB_ENV`/`GITHUB_PATH`, which sets variables
  (`NODE_OPTIONS`, `LD_PRELOAD`) or PATH entries for every later step.
- `workflow/cache-poisoning`: a release job restores a cache that such a job, running the pull
  request's code in the default branch's cache scope, can write.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from ghapp.core.context import Context
from ghapp.core.model import Finding
from ghapp.core.workflows.actions import (
    commands,
    describe,
    executes,
    executing_command,
    publishes,
    restores_cache,
)
from ghapp.core.workflows.injection import UNTRUSTED
from ghapp.core.workflows.parsing import Job, Step, Workflow, may_run, script_line
from ghapp.core.workflows.shell import split_script

PRIVILEGED = ("pull_request_target", "workflow_run")
# Events only maintainers cause: a workflow_run listening to workflows with only these is safe.
_MAINTAINER_EVENTS = frozenset(
    {"push", "schedule", "workflow_dispatch", "release", "workflow_call", "repository_dispatch",
     "create", "delete", "deployment", "page_build", "registry_package", "milestone"}
)  # fmt: skip
_HEAD_REF = re.compile(
    r"github\.event\.pull_request\.head\.(sha|ref)|github\.head_ref|refs/pull/"
    r"|github\.event\.workflow_run\.head_(sha|branch)|pull_request\.merge_commit_sha",
    re.IGNORECASE,
)
_BOT_AUTHOR = re.compile(
    r"github\.event\.pull_request\.user\.login\s*==\s*'[A-Za-z0-9-]+\[bot\]'", re.IGNORECASE
)
_GH_CHECKOUT = re.compile(r"\bgh\s+pr\s+checkout\b")
_ARTIFACT_ACTIONS = frozenset({"actions/download-artifact", "dawidd6/action-download-artifact"})
_ENV_WRITE = re.compile(
    r"(>>?|\btee\s+(-a\s+|--append\s+)?)\s*\"?\$\{?(GITHUB_ENV|GITHUB_PATH)\b\}?\"?"
)
_READS = re.compile(
    r"(\$\(|`)\s*(cat|jq|yq|head|tail|sed|awk|grep|cut|tr|unzip|xargs|<)\b"
    r"|^\s*(echo\s+)?\$\(<|^\s*(cat|jq|yq|head|tail|sed|awk|grep|cut|tr)\s"
)
_MULTILINE = re.compile(r"body|message", re.IGNORECASE)


@dataclass(frozen=True)
class PullRequestCode:
    """A job that checks out a pull request's code in a privileged run and executes it."""

    workflow: Workflow
    job: Job
    events: tuple[str, ...]
    checkout: Step
    checkout_what: str
    checkout_line: int
    runner: Step
    runner_what: str
    runner_line: int


def check(ctx: Context, workflows: Sequence[Workflow]) -> Iterator[Finding]:
    """The privileged-trigger family over every (valid) workflow."""
    reachable = fork_reachable(workflows)
    executions: list[PullRequestCode] = []
    for wf in workflows:
        events = tuple(e for e in PRIVILEGED if (wf.path, e) in reachable)
        yield from _dangerous(ctx, wf, events)
        found = list(pull_request_code(wf, events))
        executions.extend(found)
        yield from (_untrusted(ctx, x) for x in found)
        yield from _github_env(ctx, wf, events)
    yield from _cache_poisoning(ctx, workflows, executions)


def fork_reachable(workflows: Iterable[Workflow]) -> set[tuple[str, str]]:
    """(workflow path, privileged event) pairs a fork's pull request can set off."""
    flows = list(workflows)
    by_name: dict[str, list[Workflow]] = {}
    for wf in flows:
        by_name.setdefault(wf.name or wf.path, []).append(wf)

    def reachable(wf: Workflow, seen: frozenset[str]) -> bool:
        other = [e for e in wf.events if e not in _MAINTAINER_EVENTS and e != "workflow_run"]
        if other:
            return True
        run = wf.trigger("workflow_run")
        return run is not None and _run_reachable(run.workflows, seen | {wf.path})

    def _run_reachable(names: Sequence[str] | None, seen: frozenset[str]) -> bool:
        if not names:
            return True
        for name in names:
            sources = by_name.get(name)
            if not sources or any(s.path not in seen and reachable(s, seen) for s in sources):
                return True
        return False

    out: set[tuple[str, str]] = set()
    for wf in flows:
        if "pull_request_target" in wf.events:
            out.add((wf.path, "pull_request_target"))
        run = wf.trigger("workflow_run")
        if run is not None and _run_reachable(run.workflows, frozenset({wf.path})):
            out.add((wf.path, "workflow_run"))
    return out


def pull_request_code(wf: Workflow, events: Sequence[str]) -> Iterator[PullRequestCode]:
    """Jobs that check out the pull request's code on `events` and then execute it."""
    for job in wf.jobs:
        live = tuple(e for e in events if may_run(job.if_, e))
        if not live or _bot_authored_only(job.if_):
            continue
        for i, step in enumerate(job.steps):
            if not any(may_run(step.if_, e) for e in live):
                continue
            where = _head_checkout(step)
            if where is None:
                continue
            run = _first_execution(wf, job.steps[i + 1 :], step)
            if run is not None:
                yield PullRequestCode(wf, job, live, step, where[0], where[1], *run)
                break


def _first_execution(
    wf: Workflow, later: Sequence[Step], checkout: Step
) -> tuple[Step, str, int] | None:
    """The first step (and command) that executes the checked-out code."""
    if checkout.run:  # `gh pr checkout 1 && make`: what follows it in the same script
        checked_out = False
        for words, offset in commands(checkout):
            if words[:3] == ["gh", "pr", "checkout"]:
                checked_out = True
            elif checked_out and executing_command(words):
                line = script_line(wf.lines, checkout.run_line, offset)
                return checkout, describe(words), line or checkout.line
    for step in later:
        found = executes(step)
        if found is not None:
            what, at = found
            where = step.uses_line if at is None else script_line(wf.lines, step.run_line, at)
            return step, what, where or step.line
    return None


def _bot_authored_only(condition: str | None) -> bool:
    """`if: github.event.pull_request.user.login == 'dependabot[bot]'` (with no `||`): only a
    bot's pull requests run the job, and the author of a pull request cannot be spoofed (unlike
    `github.actor`, which zizmor's bot-conditions audit covers)."""
    if not condition or "||" in condition:
        return False
    return bool(_BOT_AUTHOR.search(condition))


def _head_checkout(step: Step) -> tuple[str, int] | None:
    """(what, line) when the step fetches the untrusted head: checkout with a head ref, gh pr."""
    if step.action == "actions/checkout":
        ref = step.with_.get("ref", "")
        if _HEAD_REF.search(ref):
            return f"ref: {ref}", step.with_lines.get("ref", step.line)
    if step.run and _GH_CHECKOUT.search(step.run):
        return "gh pr checkout", step.run_line or step.line
    return None


def _dangerous(ctx: Context, wf: Workflow, events: Sequence[str]) -> Iterator[Finding]:
    for event in events:
        trigger = wf.trigger(event)
        yield ctx.finding(
            "workflow/dangerous-trigger",
            f"{wf.path} runs on `{event}`, with the base repository's secrets and a token that "
            "can write, for pull requests from forks: no job may check out, build or trust the "
            "pull request's code, artifacts or text",
            path=wf.path,
            line=trigger.line if trigger else wf.on_line,
            subject=event,
        )


def _untrusted(ctx: Context, x: PullRequestCode) -> Finding:
    return ctx.finding(
        "workflow/untrusted-checkout",
        f"job `{x.job.id}` runs on {'/'.join(x.events)} with secrets and checks out the pull "
        f"request's code ({x.checkout_what}); step `{x.runner.label}` (line {x.runner_line}) "
        f"then executes it: {x.runner_what}",
        path=x.workflow.path,
        line=x.checkout_line,
        subject=f"{x.job.id}:{x.checkout_what}",
    )


def _github_env(ctx: Context, wf: Workflow, events: Sequence[str]) -> Iterator[Finding]:
    for job in wf.jobs:
        live = [e for e in events if may_run(job.if_, e)]
        if not live:
            continue
        fork_files: list[str] = []  # what put fork-controlled files in the workspace
        for step in job.steps:
            if not any(may_run(step.if_, e) for e in live):
                continue
            if step.run:
                for dest, line, source in _env_writes(wf, job, step, fork_files):
                    yield ctx.finding(
                        "workflow/github-env",
                        f"step `{step.label}` (job `{job.id}`, on {'/'.join(live)}) writes "
                        f"{source} to {dest}: a value with a newline sets any variable "
                        "(`NODE_OPTIONS`, `LD_PRELOAD`) for every later step of the job",
                        path=wf.path,
                        line=line,
                        subject=f"{job.id}:{step.label}:{dest}",
                    )
            brought = _brings_fork_files(step)
            if brought is not None and brought not in fork_files:
                fork_files.insert(
                    0, brought
                )  # the latest first: it is what a read most likely reads


def _brings_fork_files(step: Step) -> str | None:
    if step.action in _ARTIFACT_ACTIONS:
        return f"an artifact (`{step.action}`)"
    if step.run and re.search(r"\bgh\s+run\s+download\b", step.run):
        return "an artifact (`gh run download`)"
    head = _head_checkout(step)
    return f"the pull request's files ({head[0]})" if head else None


def _env_writes(
    wf: Workflow, job: Job, step: Step, fork_files: Sequence[str]
) -> Iterator[tuple[str, int, str]]:
    """(destination, line, what is written) for each fork-controlled write in the script."""
    script = step.run or ""
    env = {**wf.env, **job.env, **step.env}
    # only text that can hold a newline can add a variable: bodies and commit messages
    tainted_env = {
        k for k, v in env.items() if (m := UNTRUSTED.search(v)) and _MULTILINE.search(m.group(0))
    }
    tainted: set[str] = set()  # shell variables assigned from fork files or tainted values
    here = _brings_fork_files(step)
    from_files = " or ".join([here, *fork_files] if here else fork_files) or None
    previous = ""
    for text, offset, op in split_script(script):
        for name, value in re.findall(r"(?:^|\s)([A-Za-z_]\w*)=(\S.*)$", text):
            if (from_files and _READS.search(value)) or _refers(value, tainted_env | tainted):
                tainted.add(name)
        m = _ENV_WRITE.search(text)
        if m is not None:
            piped = m.group(0).lstrip().startswith("tee")
            written = previous if piped else text[: m.start()]
            source = _taint(written, tainted_env, tainted, from_files)
            if source is not None and not _validated(script, written):
                line = script_line(wf.lines, step.run_line, offset) or step.line
                yield m.group(3), line, source
        previous = text if op == "|" else ""


def _taint(written: str, env: set[str], shell: set[str], from_files: str | None) -> str | None:
    """What fork-controlled data `written` carries (None: nothing known to be)."""
    hit = next((n for n in sorted(env | shell) if _refers(written, {n})), None)
    if hit is not None:
        origin = "the event's text" if hit in env else from_files or "the event's text"
        return f"`${hit}` (from {origin})"
    if from_files and _READS.search(written):
        return f"data read from {from_files}"
    return None


def _refers(text: str, names: set[str]) -> bool:
    return any(re.search(r"\$\{?" + re.escape(n) + r"\b", text) for n in names)


def _validated(script: str, written: str) -> bool:
    """`[[ $PR =~ ^[0-9]+$ ]]` on the variable written: the script checked it."""
    names = re.findall(r"\$\{?([A-Za-z_]\w*)", written)
    return any(re.search(r"\$\{?" + re.escape(n) + r"\}?\"?\s*=~", script) for n in names)


def _cache_poisoning(
    ctx: Context, workflows: Sequence[Workflow], executions: Sequence[PullRequestCode]
) -> Iterator[Finding]:
    if not executions:
        return
    writer = executions[0]
    for wf in workflows:
        release = _release_trigger(wf)
        for job in wf.jobs:
            why = release[1] if release and may_run(job.if_, release[0]) else None
            why = why or next((p for s in job.steps if (p := publishes(s))), None)
            if why is None:
                continue
            for step in job.steps:
                cache = restores_cache(step)
                if cache is None:
                    continue
                yield ctx.finding(
                    "workflow/cache-poisoning",
                    f"job `{job.id}` releases ({why}) and restores a cache ({cache}); job "
                    f"`{writer.job.id}` of {writer.workflow.path} runs pull-request code on "
                    f"{'/'.join(writer.events)} in the default branch's cache scope, so it can "
                    "plant what this job restores",
                    path=wf.path,
                    line=step.uses_line or step.line,
                    subject=f"{job.id}:{step.action}",
                )


def _release_trigger(wf: Workflow) -> tuple[str, str] | None:
    """(event, description) when the workflow runs for releases: `release` or a tag push."""
    if "release" in wf.events:
        return "release", "on `release`"
    push = wf.trigger("push")
    if push is not None and push.tags:
        return "push", "on tag pushes"
    return None

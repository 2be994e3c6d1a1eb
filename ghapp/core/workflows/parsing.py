"""GitHub Actions workflows as values: triggers, jobs and steps with their line numbers.

`load_workflows(snapshot)` parses every `.github/workflows/*.yml|yaml` (GitHub reads only that
folder, not its subfolders) with the line-aware YAML loader. A file that cannot be used is kept
as a `Workflow` with `error` set, so hygiene checks can report it and coverage skips it; when
ghapp could not even read it in full (over the YAML limits, or unreadable) `unread` is set too,
because GitHub may well run what ghapp could not check.
`expand_steps` walks a workflow's jobs and follows job-level `uses: ./.github/workflows/x.yml`
into the called workflow's jobs (cycle-safe), which is how a PR-triggered caller makes a
`workflow_call`-only file run on pull requests. Callers can fan out (20 jobs calling a workflow
of 20 jobs calling ...: 20**6 paths in 7 small files), so a walk visits at most
`MAX_EXPANDED_JOBS` jobs, a budget that walks over several workflows can share; steps past it
are not seen (so scans there do not count: that fails closed).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

# `filter_matches` and `may_run` are re-exported: coverage, hygiene and the tests import them here.
from ghapp.core.globs import compile_filters
from ghapp.core.globs import filter_matches as filter_matches
from ghapp.core.snapshot import Snapshot, digest, read_bounded, unread_id
from ghapp.core.workflows.expressions import may_run as may_run
from ghapp.core.yamlnodes import (
    MAX_YAML_BYTES,
    LineDict,
    LineList,
    YamlError,
    YamlLimitError,
    load_document,
)

WORKFLOW_DIR = ".github/workflows/"
MAX_CALL_DEPTH = 10  # GitHub allows 4 levels of nesting; a deeper chain is a cycle or junk
MAX_EXPANDED_JOBS = 50_000  # job visits per walk (or shared budget), called workflows included


@dataclass(frozen=True)
class Trigger:
    """One `on:` event with its filters (None: the filter is absent)."""

    event: str
    line: int
    branches: tuple[str, ...] | None = None
    branches_ignore: tuple[str, ...] | None = None
    paths: tuple[str, ...] | None = None
    paths_ignore: tuple[str, ...] | None = None
    types: tuple[str, ...] | None = None
    tags: tuple[str, ...] | None = None
    workflows: tuple[str, ...] | None = None  # `workflow_run`: the workflows that trigger it


@dataclass(frozen=True)
class Step:
    """One job step; `with_` holds inputs as strings (scalars stringified, booleans lowercased)."""

    index: int
    line: int
    name: str | None = None
    uses: str | None = None
    uses_line: int | None = None
    run: str | None = None
    run_line: int | None = None
    shell: str | None = None
    if_: str | None = None
    continue_on_error: str | None = None
    with_: Mapping[str, str] = field(default_factory=dict)
    with_lines: Mapping[str, int] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    working_directory: str | None = None

    @property
    def label(self) -> str:
        return self.name or self.uses or f"step {self.index + 1}"

    @property
    def action(self) -> str | None:
        """The `uses:` name without its ref, lowercased (GitHub names are case-insensitive)."""
        return self.uses.split("@", 1)[0].strip().lower() if self.uses else None


@dataclass(frozen=True)
class Job:
    """One job: either steps, or a reusable workflow call (`uses`)."""

    id: str
    line: int
    if_: str | None = None
    continue_on_error: str | None = None
    steps: tuple[Step, ...] = ()
    uses: str | None = None
    uses_line: int | None = None
    with_: Mapping[str, str] = field(default_factory=dict)
    secrets_inherit_line: int | None = None
    container_image: str | None = None
    container_line: int | None = None
    permissions: Any = None
    permissions_line: int | None = None
    has_permissions: bool = False
    env: Mapping[str, str] = field(default_factory=dict)
    working_directory: str | None = None  # `defaults.run.working-directory`


@dataclass(frozen=True)
class Workflow:
    """One workflow file; `error` is set (and the rest empty) when it could not be read."""

    path: str
    lines: tuple[str, ...] = ()
    name: str | None = None
    triggers: tuple[Trigger, ...] = ()
    on_line: int | None = None
    jobs: tuple[Job, ...] = ()
    permissions: Any = None
    permissions_line: int | None = None
    has_permissions: bool = False
    env: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None
    error_line: int | None = None
    unread: str | None = None  # not read in full: what identifies its content (`unread_id`)

    def trigger(self, event: str) -> Trigger | None:
        return next((t for t in self.triggers if t.event == event), None)

    @property
    def events(self) -> frozenset[str]:
        return frozenset(t.event for t in self.triggers)


@dataclass(frozen=True)
class StepUse:
    """A step reached from a top-level workflow: the chain of jobs that leads to it."""

    workflow: Workflow  # the file that holds the step
    jobs: tuple[Job, ...]  # caller job(s) first, the job holding the step last
    step: Step


def is_workflow_path(path: str) -> bool:
    """True for a file GitHub runs as a workflow: `.github/workflows/<name>.yml|yaml`."""
    if not path.startswith(WORKFLOW_DIR):
        return False
    rest = path[len(WORKFLOW_DIR) :]
    return "/" not in rest and rest.endswith((".yml", ".yaml"))


def load_workflows(snapshot: Snapshot) -> tuple[Workflow, ...]:
    """Every workflow file of the snapshot, parsed (sorted by path)."""
    out = []
    for path in sorted(p for p in snapshot.paths() if is_workflow_path(p)):
        data, problem = read_bounded(snapshot, path, MAX_YAML_BYTES)
        if data is None:
            out.append(Workflow(path, error=problem, unread=unread_id(snapshot, path)))
        else:
            out.append(parse_workflow(path, data.decode("utf-8", errors="replace")))
    return tuple(out)


def parse_workflow(path: str, text: str) -> Workflow:
    """Parse one workflow file; problems become `Workflow.error`, never an exception."""
    lines = tuple(text.splitlines())
    try:
        doc = load_document(text)
    except YamlLimitError as exc:
        unread = digest(text.encode("utf-8", errors="replace"))
        return Workflow(path, lines, error=str(exc), error_line=exc.line, unread=unread)
    except YamlError as exc:
        return Workflow(path=path, lines=lines, error=str(exc), error_line=exc.line)
    if not isinstance(doc, LineDict):
        return Workflow(path=path, lines=lines, error="not a workflow (no mapping)", error_line=1)
    # YAML 1.1 reads the key `on` as the boolean True.
    on_key = "on" if "on" in doc else True
    if on_key not in doc:
        return Workflow(path=path, lines=lines, error="no `on:` triggers", error_line=doc.line)
    jobs = doc.get("jobs")
    if not isinstance(jobs, LineDict):
        return Workflow(path=path, lines=lines, error="no `jobs:` mapping", error_line=doc.line)
    return Workflow(
        path=path,
        lines=lines,
        name=_text(doc.get("name")),
        triggers=_parse_triggers(doc[on_key], doc.line_of(on_key)),
        on_line=doc.line_of(on_key),
        jobs=tuple(_parse_job(str(k), v, jobs.line_of(k)) for k, v in jobs.items()),
        permissions=doc.get("permissions"),
        permissions_line=doc.line_of("permissions") if "permissions" in doc else None,
        has_permissions="permissions" in doc,
        env=_inputs(doc.get("env"))[0],
    )


def expand_steps(
    workflow: Workflow,
    by_path: Mapping[str, Workflow],
    _chain: tuple[Job, ...] = (),
    budget: list[int] | None = None,
) -> Iterator[StepUse]:
    """Every step the workflow runs, following local reusable workflows (cycles cut). `budget`
    holds the jobs left to visit (default: a fresh MAX_EXPANDED_JOBS); pass one list to several
    walks to bound them together."""
    seen = {workflow.path}
    yield from _expand(workflow, by_path, _chain, seen, budget or [MAX_EXPANDED_JOBS])


def _expand(
    workflow: Workflow,
    by_path: Mapping[str, Workflow],
    chain: tuple[Job, ...],
    seen: set[str],
    budget: list[int],  # jobs left to visit, shared by the whole walk
) -> Iterator[StepUse]:
    for job in workflow.jobs:
        if budget[0] <= 0:
            return
        budget[0] -= 1
        for step in job.steps:
            yield StepUse(workflow, (*chain, job), step)
        target = local_workflow_target(job.uses)
        if target is None or target in seen or len(chain) >= MAX_CALL_DEPTH:
            continue
        callee = by_path.get(target)
        if callee is not None and callee.error is None:
            yield from _expand(callee, by_path, (*chain, job), seen | {target}, budget)


def local_workflow_target(uses: str | None) -> str | None:
    """`./.github/workflows/x.yml` (a ref after @ is not allowed for local calls) -> its path."""
    if not uses or not uses.startswith("./"):
        return None
    return uses[2:].split("@", 1)[0]


def _parse_triggers(on: Any, line: int) -> tuple[Trigger, ...]:
    if isinstance(on, str):
        return (Trigger(on, line),)
    if isinstance(on, LineList):
        return tuple(Trigger(str(e), on.line_of(i)) for i, e in enumerate(on) if e is not None)
    if not isinstance(on, LineDict):
        return ()
    out = []
    for event, spec in on.items():
        tline = on.line_of(event)
        if not isinstance(spec, LineDict):
            out.append(Trigger(str(event), tline))
            continue
        out.append(
            Trigger(
                str(event),
                tline,
                branches=_strings(spec.get("branches")),
                branches_ignore=_strings(spec.get("branches-ignore")),
                paths=_strings(spec.get("paths")),
                paths_ignore=_strings(spec.get("paths-ignore")),
                types=_strings(spec.get("types")),
                tags=_strings(spec.get("tags")),
                workflows=_strings(spec.get("workflows")),
            )
        )
    return tuple(out)


def _parse_job(job_id: str, raw: Any, line: int) -> Job:
    if not isinstance(raw, LineDict):
        return Job(id=job_id, line=line)
    steps_raw = raw.get("steps")
    steps: tuple[Step, ...] = ()
    if isinstance(steps_raw, LineList):
        steps = tuple(
            _parse_step(i, s, steps_raw.line_of(i))
            for i, s in enumerate(steps_raw)
            if isinstance(s, LineDict)
        )
    with_, _ = _inputs(raw.get("with"))
    container = raw.get("container")
    image = container.get("image") if isinstance(container, LineDict) else container
    secrets = raw.get("secrets")
    return Job(
        id=job_id,
        line=line,
        if_=_text(raw.get("if")),
        continue_on_error=_text(raw.get("continue-on-error")),
        steps=steps,
        uses=_text(raw.get("uses")),
        uses_line=raw.line_of("uses") if "uses" in raw else None,
        with_=with_,
        secrets_inherit_line=raw.line_of("secrets") if secrets == "inherit" else None,
        container_image=_text(image),
        container_line=raw.line_of("container") if "container" in raw else None,
        permissions=raw.get("permissions"),
        permissions_line=raw.line_of("permissions") if "permissions" in raw else None,
        has_permissions="permissions" in raw,
        env=_inputs(raw.get("env"))[0],
        working_directory=_default_directory(raw.get("defaults")),
    )


def _default_directory(defaults: Any) -> str | None:
    run = defaults.get("run") if isinstance(defaults, LineDict) else None
    return _text(run.get("working-directory")) if isinstance(run, LineDict) else None


def _inputs(raw: Any) -> tuple[dict[str, str], dict[str, int]]:
    values: dict[str, str] = {}
    lines: dict[str, int] = {}
    if isinstance(raw, LineDict):
        for key, value in raw.items():
            text = _text(value)
            if text is not None:
                values[str(key)] = text
                lines[str(key)] = raw.line_of(key)
    return values, lines


def _parse_step(index: int, raw: LineDict, line: int) -> Step:
    with_, with_lines = _inputs(raw.get("with"))
    return Step(
        index=index,
        line=line,
        name=_text(raw.get("name")),
        uses=_text(raw.get("uses")),
        uses_line=raw.line_of("uses") if "uses" in raw else None,
        run=_text(raw.get("run")),
        run_line=raw.line_of("run") if "run" in raw else None,
        shell=_text(raw.get("shell")),
        if_=_text(raw.get("if")),
        continue_on_error=_text(raw.get("continue-on-error")),
        with_=with_,
        with_lines=with_lines,
        env=_inputs(raw.get("env"))[0],
        working_directory=_text(raw.get("working-directory")),
    )


def script_line(lines: Sequence[str], run_line: int | None, offset: int) -> int | None:
    """The file line of line `offset` (0-based) of a `run:` block scalar (`|`); else the key line."""
    if run_line is None or not 0 < run_line <= len(lines):
        return run_line
    after = lines[run_line - 1].split("run:", 1)[-1].strip()
    return run_line + 1 + offset if after.startswith("|") else run_line


def _text(value: Any) -> str | None:
    """A scalar as the string GitHub would see (true -> 'true'); None for absent or non-scalars."""
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _strings(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, Sequence) and not isinstance(value, str):
        return tuple(str(v) for v in value if v is not None)
    return (str(value),)


# --- When does a trigger fire? (Whether an `if:` can be true: ghapp.core.workflows.expressions) -------

PR_EVENTS = ("pull_request", "pull_request_target", "merge_group")
MAX_FILTER_PATTERNS = 10_000  # patterns in one path filter list
MAX_FILTER_CHECKS = 1_000_000  # path-filter patterns times changed paths, per trigger
_CODE_UPDATE_TYPES = frozenset({"opened", "synchronize", "reopened"})


def fires_for_pull_request(trigger: Trigger, paths: Iterable[str] | None) -> bool:
    """Whether a PR-type trigger runs for a PR that changes `paths` (None: for some PR).

    Branch filters are taken as satisfied: the base branch is not known here, and a filtered
    trigger still runs for PRs into the listed branches.
    """
    if trigger.event not in PR_EVENTS:
        return False
    types = set(trigger.types or _CODE_UPDATE_TYPES)
    if trigger.event != "merge_group" and not _CODE_UPDATE_TYPES & types:
        return False  # e.g. only `closed` or `labeled`: the code of a PR update is not scanned
    if paths is None:
        return True
    changed = paths if isinstance(paths, (list, tuple)) else list(paths)
    if trigger.paths is not None:
        return _any_selected(trigger.paths, tuple(changed), True)
    if trigger.paths_ignore is not None:
        return _any_selected(trigger.paths_ignore, tuple(changed), False)
    return bool(changed)


@lru_cache(maxsize=128)
def _any_selected(patterns: tuple[str, ...], changed: tuple[str, ...], wanted: bool) -> bool:
    """Whether some changed path is (`wanted`) or is not selected by the filters. Remembered:
    coverage asks again for every scan, category and service. Past MAX_FILTER_PATTERNS patterns
    or MAX_FILTER_CHECKS pattern and path pairs the answer is "no" (the scan is not counted as
    running on the pull request: that fails closed)."""
    if len(patterns) > MAX_FILTER_PATTERNS or len(patterns) * len(changed) > MAX_FILTER_CHECKS:
        return False
    selects = compile_filters(patterns).selects
    return any(selects(p) is wanted for p in changed)


# --- Composite actions ----------------------------------------------------------------------

ACTION_FILES = ("action.yml", "action.yaml")


def is_action_path(path: str) -> bool:
    """True for an action's metadata file (`action.yml|yaml`, at the root or in a folder)."""
    return path.rsplit("/", 1)[-1] in ACTION_FILES


def parse_composite_action(path: str, text: str) -> Workflow | None:
    """A composite action as a workflow of one job (`runs`) holding its steps, so the step
    audits apply to it; None for other kinds of action (Docker, JavaScript) or invalid ones. One
    over the YAML limits is a Workflow with `error` and `unread` set (and no jobs)."""
    try:
        doc = load_document(text)
    except YamlLimitError as exc:
        unread = digest(text.encode("utf-8", errors="replace"))
        return Workflow(path, error=str(exc), error_line=exc.line, unread=unread)
    except YamlError:
        return None
    runs = doc.get("runs") if isinstance(doc, LineDict) else None
    if not isinstance(runs, LineDict) or str(runs.get("using", "")).lower() != "composite":
        return None
    job = _parse_job("runs", runs, doc.line_of("runs"))
    return Workflow(
        path=path, lines=tuple(text.splitlines()), name=_text(doc.get("name")), jobs=(job,)
    )

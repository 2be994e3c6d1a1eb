"""Security-scan coverage: which categories the workflows scan, on PRs, blocking; `scan/…` findings.

A *site* is one recognised scan in one workflow (a step, one command of a `run:` script, a
command reached from one through `make`, a script or a composite action, or a remote reusable
workflow call), reached from a top-level workflow with that workflow's triggers and the `if:`
conditions of every job and step on the way (local reusable workflows are followed by
`expand_steps`, the rest by ghapp.core.workflows.delegation). Its source is the line that
scans. A site runs on pull requests for some changed paths when a PR-type trigger fires for them
and no condition is certainly false for that event; it is blocking when the tool fails on
findings (inputs and shell considered) and no `continue-on-error` softens it.
`CategoryCoverage.blocking` is the best rung reached: when some site runs on PRs, whether one of
*those* blocks (so "on PRs ✓, blocking ✓" means a PR can be stopped); otherwise whether any
site blocks its own (push, schedule) run. Policy checks use the same reading.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial

from ghapp.core.context import Context
from ghapp.core.globs import any_glob
from ghapp.core.manifests.services import service_of
from ghapp.core.model import CATEGORIES, CategoryCoverage, Finding, ScanSite, Service, Source
from ghapp.core.policy.policy import CoverageRequirement
from ghapp.core.workflows.delegation import Follower
from ghapp.core.workflows.linters import resolve_gate
from ghapp.core.workflows.parsing import (
    MAX_EXPANDED_JOBS,
    Job,
    StepUse,
    Trigger,
    Workflow,
    expand_steps,
    fires_for_pull_request,
    may_run,
    script_line,
)
from ghapp.core.workflows.scanners import Detection, ScannerCatalog, compile_catalog
from ghapp.core.workflows.signals import find_signals

LABELS = {
    "sast": "SAST",
    "secrets": "secret",
    "sca": "dependency (SCA)",
    "container": "container",
    "iac": "IaC",
}


@dataclass(frozen=True)
class Site:
    """One recognised scan, with what decides whether it runs on PRs and whether it blocks."""

    tool: str
    categories: tuple[str, ...]
    source: Source
    workflow: str  # the top-level workflow whose triggers apply
    triggers: tuple[Trigger, ...]
    conditions: tuple[tuple[str, int], ...]  # (`if:` text, line) of each job and the step
    blocking: bool
    why_not_blocking: str | None = None
    soft_by_default: bool = False
    via: tuple[Source, ...] = ()  # the workflow step, Makefile and script lines that lead here
    job: str | None = None
    step: str | None = None

    def on_pull_request(self, paths: Iterable[str] | None) -> bool:
        """Whether this scan runs for a PR changing `paths` (None: for some PR)."""
        changed = paths if paths is None or isinstance(paths, (list, tuple)) else list(paths)
        return any(
            all(may_run(cond, t.event) for cond, _ in self.conditions)
            for t in self.triggers
            if fires_for_pull_request(t, changed)
        )

    def why_not_on_pull_request(self, paths: Iterable[str] | None) -> str:
        """A sentence for a site that does not run on PRs."""
        changed = None if paths is None else list(paths)
        firing = [t for t in self.triggers if fires_for_pull_request(t, changed)]
        if not firing:
            events = sorted({t.event for t in self.triggers}) or ["nothing"]
            filtered = [t for t in self.triggers if fires_for_pull_request(t, None)]
            if filtered:
                return f"{self.workflow}: its pull_request path filters exclude these files"
            return f"{self.workflow} is triggered by {', '.join(events)}, not pull_request"
        for cond, line in self.conditions:
            if not any(may_run(cond, t.event) for t in firing):
                return f"`if: {cond}` (line {line}) skips it on pull requests"
        return "it does not run on pull requests"

    def explained(self, paths: Iterable[str] | None) -> ScanSite:
        """This site as the report shows it: where it is, and why it does or does not count."""
        changed = None if paths is None else list(paths)
        on_pr = self.on_pull_request(changed)
        return ScanSite(
            tool=self.tool,
            path=self.source.path,
            line=self.source.line,
            workflow=self.workflow,
            job=self.job,
            step=self.step,
            on_pull_request=on_pr,
            blocking=self.blocking,
            why_not_on_pull_request=None if on_pr else self.why_not_on_pull_request(changed),
            why_not_blocking=None if self.blocking else self.why_not_blocking,
        )


def find_sites(ctx: Context) -> tuple[Site, ...]:
    """Every recognised scan in the snapshot's workflows."""
    scanners = compile_catalog(ctx.catalog.tools)
    follower = Follower(ctx.snapshot, scanners)
    workflows = ctx.workflows
    by_path = {w.path: w for w in workflows}
    sites: list[Site] = []
    budget = [MAX_EXPANDED_JOBS]  # shared: fanned-out reusable workflows cannot multiply it
    for wf in workflows:
        if wf.error is not None:
            continue
        for use in expand_steps(wf, by_path, budget=budget):
            found = scanners.match_step(
                use.step, follow=follower.hook(), cwd=_working_directory(use)
            )
            if use.step.uses and use.step.uses.startswith("./"):
                found.extend(follower.action(use.step.uses))
            for det in map(partial(resolve_gate, read=follower.read), found):
                if det.categories:  # recognised tools that cover no category (zizmor)
                    sites.append(_step_site(wf, use, det))
        sites.extend(_call_sites(wf, scanners))
    return tuple(sites)


def compute_coverage(
    ctx: Context, paths: Iterable[str] | None = None, sites: Sequence[Site] | None = None
) -> dict[str, CategoryCoverage]:
    """Coverage of each category (all five keys); `paths` are a PR's changed paths, None: repo."""
    changed = None if paths is None else list(paths)
    sites = find_sites(ctx) if sites is None else sites
    signals = find_signals(ctx.snapshot)
    out: dict[str, CategoryCoverage] = {}
    for category in CATEGORIES:
        mine = [s for s in sites if category in s.categories]
        on_pr = [s for s in mine if s.on_pull_request(changed)]
        out[category] = CategoryCoverage(
            configured=bool(mine),
            on_pull_request=bool(on_pr),
            blocking=any(s.blocking for s in on_pr or mine),
            tools=tuple(sorted({s.tool for s in mine})),
            sources=tuple(sorted(set(s.source for s in mine), key=_source_key)),
            signals=signals.get(category, ()),
            sites=tuple(s.explained(changed) for s in mine),
        )
    return out


def required_categories(
    reqs: Sequence[CoverageRequirement], service: Service, files: Sequence[str]
) -> tuple[str, ...]:
    """The scan categories policy `reqs` require of `service`, whose files are `files`."""
    needs = _needs(reqs, service, files)
    return tuple(c for c in CATEGORIES if c in needs)


def check_coverage(ctx: Context) -> Iterable[Finding]:
    """`scan/…` findings: services whose required categories are missing, not on PRs or soft."""
    if not ctx.policy.coverage:
        return []
    sites = find_sites(ctx)
    findings: list[Finding] = []
    for service, files in _scopes(ctx):
        needs = _needs(ctx.policy.coverage, service, files)
        for category, (on_pr, blocking) in needs.items():
            finding = _judge(ctx, service, files, category, on_pr, blocking, sites)
            if finding is not None:
                findings.append(finding)
    return findings


def _judge(
    ctx: Context,
    service: Service | None,
    files: Sequence[str],
    category: str,
    need_pr: bool,
    need_blocking: bool,
    sites: Sequence[Site],
) -> Finding | None:
    mine = [s for s in sites if category in s.categories]
    who = _describe(service)
    bar = ", ".join(
        [
            "configured",
            *(["on pull requests"] if need_pr else []),
            *(["blocking"] if need_blocking else []),
        ]
    )
    subject = f"{service.name if service else '(repository)'}:{category}"
    label = LABELS[category]
    if not mine:
        path, line = _anchor(service)
        return ctx.finding(
            f"scan/missing-{category}",
            f"{who} requires {label} scanning ({bar}); no workflow runs {_a(label)} scanner: "
            "configured ✗",
            path=path,
            line=line,
            subject=subject,
            service=service.name if service else None,
        )
    tools = ", ".join(sorted({s.tool for s in mine}))
    scoped = files if service is not None else None
    on_pr = [s for s in mine if s.on_pull_request(scoped)] if need_pr else mine
    if not on_pr:
        site = mine[0]
        # the trigger or `if:` to change is in the workflow: point at its step, name the scan
        step = site.via[0] if site.via else site.source
        runs = f"; {site.tool} runs at {site.source.path}:{site.source.line}" if site.via else ""
        return ctx.finding(
            "scan/not-on-pull-request",
            f"{who} requires {label} scanning ({bar}): configured ✓ ({tools}), on pull requests "
            f"✗ ({site.why_not_on_pull_request(scoped)}{runs})",
            path=step.path,
            line=step.line,
            subject=subject,
            service=service.name if service else None,
            fix=f"Run the {site.tool} step on `pull_request` (add the trigger, widen its paths "
            "filter, or drop the `if:` that excludes pull requests).",
        )
    if need_blocking and not any(s.blocking for s in on_pr):
        site = on_pr[0]
        return ctx.finding(
            "scan/not-blocking",
            f"{who} requires {label} scanning ({bar}): configured ✓ ({tools}), on pull requests "
            f"{'✓' if need_pr else '-'}, blocking ✗ ({site.why_not_blocking})",
            path=site.source.path,
            line=site.source.line,
            subject=subject,
            service=service.name if service else None,
            fix=(
                f"Configure {site.tool} to fail on findings ({site.why_not_blocking})."
                if site.soft_by_default
                else f"Remove {site.why_not_blocking} so that a {site.tool} failure fails the run."
            ),
        )
    return None


def _needs(
    reqs: Sequence[CoverageRequirement], service: Service | None, files: Sequence[str]
) -> dict[str, tuple[bool, bool]]:
    """category -> (on PR required, blocking required), the strictest over matching requirements."""
    out: dict[str, tuple[bool, bool]] = {}
    for req in reqs:
        if not _applies(req, service, files):
            continue
        for category in req.categories:
            if category not in LABELS:
                continue
            pr, block = out.get(category, (False, False))
            out[category] = (pr or req.on_pull_request, block or req.blocking)
    return out


def _applies(req: CoverageRequirement, service: Service | None, files: Sequence[str]) -> bool:
    tier = service.tier if service else None
    data = {d.lower() for d in service.data} if service else set()
    if req.tiers and tier not in req.tiers:
        return False
    if req.data and not data & {d.lower() for d in req.data}:
        return False
    if not req.when_files:
        return True
    base = f"{service.path}/" if service and service.path else ""
    return any(
        any_glob(req.when_files, p) or (base and any_glob(req.when_files, p[len(base) :]))
        for p in files
    )


def _scopes(ctx: Context) -> Iterator[tuple[Service | None, list[str]]]:
    """Each service with its files (nearest manifest wins); the repository when none exist."""
    paths = list(ctx.snapshot.paths())
    if not ctx.services:
        yield None, paths
        return
    services = tuple(ctx.services)
    files: dict[str, list[str]] = {s.name: [] for s in services}
    for path in paths:
        owner = service_of(services, path)
        if owner is not None:
            files[owner.name].append(path)
    seen: set[str] = set()
    for service in services:
        if service.name not in seen:
            seen.add(service.name)
            yield service, files[service.name]


def _describe(service: Service | None) -> str:
    if service is None:
        return "This repository"
    facts = [f"tier {service.tier}" if service.tier else "", ", ".join(service.data)]
    detail = "; ".join(f for f in facts if f)
    return f"Service {service.name}" + (f" ({detail})" if detail else "")


def _anchor(service: Service | None) -> tuple[str | None, int | None]:
    if service is None:
        return None, None
    line = service.line_of("tier") if service.tier else service.line_of("data")
    return service.manifest, line


def _step_site(top: Workflow, use: StepUse, det: Detection) -> Site:
    step = use.step
    why = det.why_not_blocking
    soft = _continue_on_error(step.continue_on_error, step.line, "step")
    for job in use.jobs:
        soft = soft or _continue_on_error(job.continue_on_error, job.line, f"job `{job.id}`")
    line = step.uses_line or script_line(use.workflow.lines, step.run_line, det.line_offset)
    here = Source(use.workflow.path, line or step.line)
    source = here
    via: tuple[Source, ...] = ()
    if det.path is not None:  # found through make or a script: credit the line that scans
        source = Source(det.path, det.line)
        via = (here, *(Source(p, n) for p, n in det.via))
        if why is not None:
            path, number = det.why_at or (here.path, here.line)
            why = f"{why} ({path}:{number})"
    return Site(
        tool=det.tool,
        categories=det.categories,
        source=source,
        workflow=top.path,
        triggers=top.triggers,
        conditions=_conditions(use.jobs, step.if_, step.line),
        blocking=det.blocking and soft is None,
        why_not_blocking=why if not det.blocking else soft,
        soft_by_default=det.soft_by_default,
        via=via,
        job=use.jobs[-1].id if use.jobs else None,
        step=step.label,
    )


def _working_directory(use: StepUse) -> str:
    """The step's `working-directory` (or its job's default), repository-relative."""
    raw = use.step.working_directory or use.jobs[-1].working_directory or ""
    if "${{" in raw or raw.startswith(("/", "$")):
        return ""
    parts = [p for p in raw.split("/") if p and p != "."]
    return "/".join(parts)


def _call_sites(wf: Workflow, scanners: ScannerCatalog) -> Iterator[Site]:
    for job in wf.jobs:
        if not job.uses or job.uses.startswith("./"):
            continue
        det = scanners.match_workflow_call(job.uses, job.with_)
        if det is None:
            continue
        soft = _continue_on_error(job.continue_on_error, job.line, f"job `{job.id}`")
        yield Site(
            tool=det.tool,
            categories=det.categories,
            source=Source(wf.path, job.uses_line or job.line),
            workflow=wf.path,
            triggers=wf.triggers,
            conditions=_conditions((job,), None, job.line),
            blocking=det.blocking and soft is None,
            why_not_blocking=det.why_not_blocking if not det.blocking else soft,
            soft_by_default=det.soft_by_default,
            job=job.id,
            step=f"uses: {job.uses}",
        )


def _conditions(
    jobs: Sequence[Job], step_if: str | None, step_line: int
) -> tuple[tuple[str, int], ...]:
    conds = [(j.if_, j.line) for j in jobs if j.if_ is not None]
    if step_if is not None:
        conds.append((step_if, step_line))
    return tuple((c, line) for c, line in conds if c is not None)


def _continue_on_error(value: str | None, line: int, where: str) -> str | None:
    """Why a `continue-on-error` makes the scan non-blocking (an expression might: assume so)."""
    if value is None or value.strip().lower() == "false":
        return None
    return f"`continue-on-error: {value}` on the {where} (line {line})"


def _source_key(source: Source) -> tuple[str, int]:
    return (source.path, source.line or 0)


def _a(label: str) -> str:
    """`label` with its indefinite article ("an IaC", "a SAST": by sound, not by letter)."""
    return f"an {label}" if label in ("IaC",) else f"a {label}"

"""Evaluate a repository snapshot, or a change between two snapshots, against its policy.

Theory of operation: the policy is read from the *base* when there is one (a pull request cannot
weaken its own policy), otherwise from the head. Every check runs over the head; with a base, the
checks run over the base too and a head finding whose fingerprint (rule, path, subject) exists on
the base is marked `new: false`. Then, in this order: ignored paths are dropped, severity
overrides apply ("off" drops the finding), owners are assigned (the service owner, else the
CODEOWNERS owners of the path), and inline suppressions (`# ghapp: ignore[rule] reason`, read
from the files the checks read) or waivers mark findings `waived`; a suppression that waives
nothing is itself a `config/unused-suppression` finding. The conclusion is `neutral`
without a policy (or with `enforce: false`), `failure` when a new, unwaived error remains, else
`success`.

No step's failure loses the others' findings: each runs under a `Guard` (ghapp.core.failures)
that turns an unexpected exception into a `ghapp/check-failed` error naming the step and file.
Such a finding always counts as new (the failure hides what the step would have found), and a
policy that cannot be read at all is replaced by the enforcing default.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace
from datetime import date
from functools import partial
from typing import Any

from ghapp.core.catalog import Catalog
from ghapp.core.context import Context
from ghapp.core.failures import CHECK_FAILED, Guard, WatchedSnapshot
from ghapp.core.fixtures import copies_note, is_fixture_finding, is_test_path, skipped_note
from ghapp.core.globs import any_glob, glob_match
from ghapp.core.kubernetes.checks import check_kubernetes
from ghapp.core.manifests.checks import check_manifests
from ghapp.core.manifests.groups import team_slug
from ghapp.core.manifests.services import discover_services, owner_team_slug, service_of
from ghapp.core.model import (
    CATEGORIES,
    AppliedWaiver,
    CategoryCoverage,
    Conclusion,
    FileOwners,
    Finding,
    OwnerSource,
    PolicyInfo,
    Report,
    Service,
    ServiceCoverage,
    Severity,
)
from ghapp.core.ownership.checks import check_codeowners
from ghapp.core.ownership.codeowners import CodeOwners, find_codeowners
from ghapp.core.ownership.directory import OwnerDirectory
from ghapp.core.policy.policy import ConfigProblem, Policy, Waiver, read_policy
from ghapp.core.policy.suppressions import (
    Suppression,
    SuppressionIndex,
    SuppressionRecorder,
    unused_suppressions,
)
from ghapp.core.snapshot import Snapshot, content_ids
from ghapp.core.workflows.coverage import (
    Site,
    check_coverage,
    compute_coverage,
    find_sites,
    required_categories,
)
from ghapp.core.workflows.hygiene import check_actions, check_workflows

Check = Callable[[Context], Iterable[Finding]]
CHECKS: tuple[Check, ...] = (
    check_codeowners,
    check_manifests,
    check_coverage,
    check_workflows,
    check_actions,
    check_kubernetes,
)
SEVERITY_ORDER: dict[str, int] = {"error": 0, "warning": 1, "notice": 2}
REPORT_ONLY_NOTE = "No ghapp config found: report only, nothing blocks."
Fingerprint = tuple[str, str, str]


@dataclass(frozen=True)
class Evaluation:
    """A context plus the findings its checks produced (before policy is applied), the
    inline suppressions found in the files they read, and how many service manifests under
    test directories were left out."""

    context: Context
    findings: tuple[Finding, ...]
    suppressions: tuple[Suppression, ...] = ()
    fixture_services: int = 0


def evaluate(
    head: Snapshot,
    *,
    catalog: Catalog,
    today: date,
    base: Snapshot | None = None,
    changed: Iterable[str] | None = None,
    org_config: str | None = None,
    repo_config: str | None = None,
    directory: OwnerDirectory | None = None,
    extra_waivers: Sequence[Waiver] = (),
) -> Report:
    """Evaluate `head` (against `base` when given) and return the report.

    `changed` lists the paths a pull request touched; when None and a base is given, it is
    computed by comparing the two snapshots. `repo_config` replaces the repository's config
    file; `extra_waivers` are waivers granted outside the config file (e.g. `/waive` on a PR).
    """
    watched_head = WatchedSnapshot(head)
    watched_base = WatchedSnapshot(base) if base is not None else None
    # Read through a recorder of its own: the config file's suppressions waive config findings.
    policy_source = SuppressionRecorder(watched_base or watched_head)
    enforcing: tuple[Policy, tuple[ConfigProblem, ...]] = (Policy(configured=True), ())
    (policy, problems), failures = Guard(watched_base or watched_head, catalog).run(
        "policy reading",
        partial(
            read_policy, policy_source, org_text=org_config, repo_text=repo_config, today=today
        ),
        enforcing,
    )
    if extra_waivers:
        granted = tuple(replace(w, source=w.source or "/waive comment") for w in extra_waivers)
        live = tuple(w for w in granted if w.until is None or w.until >= today)
        expired = tuple(w for w in granted if w not in live)
        policy = replace(
            policy,
            waivers=policy.waivers + live,
            expired_waivers=policy.expired_waivers + expired,
        )
    if changed is None and watched_base is not None:
        changed = changed_paths(watched_base, watched_head)
    changed_set = frozenset(changed) if changed is not None else None

    config_findings = [*(_config_finding(catalog, p) for p in problems), *failures]
    memo: dict[Hashable, Any] = {}  # per-file results, shared by head and base
    current = run_checks(watched_head, catalog, policy, today, changed_set, directory, memo)
    suppressions = current.suppressions
    if base is None:
        suppressions += policy_source.suppressions
    findings = _with_unused(current.findings, config_findings, suppressions, catalog)
    known: set[Fingerprint] | None = None
    if watched_base is not None:
        before = run_checks(watched_base, catalog, policy, today, changed_set, directory, memo)
        known = {
            f.fingerprint
            for f in _with_unused(
                before.findings,
                config_findings,
                before.suppressions + policy_source.suppressions,
                catalog,
            )
        }
        # Config findings come from the base's config file, and so do their suppressions.
        suppressions += tuple(s for s in policy_source.suppressions if s.path in _paths(problems))

    ctx = current.context
    skipped = 0
    if not policy.report_test_fixtures:
        kept = [f for f in findings if not is_fixture_finding(f)]
        skipped, findings = len(findings) - len(kept), kept
    originals = [f for f in findings if f.copy_of is None]
    copies, findings = len(findings) - len(originals), originals
    guard = Guard(watched_head, catalog)
    changed_list = sorted(changed_set) if changed_set is not None else None
    no_sites: tuple[Site, ...] = ()
    sites, failed = guard.run("scan coverage", partial(find_sites, ctx), no_sites)
    findings += failed
    coverage, failed = guard.run(
        "scan coverage",
        partial(compute_coverage, ctx, changed_list, sites),
        {c: CategoryCoverage() for c in CATEGORIES},
    )
    findings += failed
    paths = changed_list if changed_list is not None else ctx.snapshot.paths()
    no_files: tuple[FileOwners, ...] = ()
    files, failed = guard.run("ownership resolution", partial(resolve_files, ctx, paths), no_files)
    findings += failed
    no_coverage: tuple[ServiceCoverage, ...] = ()
    service_coverage, failed = guard.run(
        "service coverage", partial(touched_coverage, ctx, files, sites), no_coverage
    )
    findings = apply_policy([*findings, *failed], ctx, suppressions, known)
    return Report(
        conclusion=conclude(policy, findings),
        findings=tuple(sorted(findings, key=_finding_order)),
        coverage=coverage,
        services=tuple(_with_owner_handle(ctx, s) for s in ctx.services),
        files=files,
        policy_configured=policy.configured,
        notes=_notes(policy, skipped, current.fixture_services, copies),
        policy=policy_info(policy),
        service_coverage=service_coverage,
        codeowners_path=ctx.codeowners_path,
        compared_to_base=watched_base is not None,
    )


def _notes(
    policy: Policy, fixture_findings: int, fixture_services: int, copies: int
) -> tuple[str, ...]:
    notes = [] if policy.configured else [REPORT_ONLY_NOTE]
    if fixture_findings or fixture_services:
        notes.append(skipped_note(fixture_findings, fixture_services))
    if copies:
        notes.append(copies_note(copies))
    return tuple(notes)


def policy_info(policy: Policy) -> PolicyInfo:
    """What the report says about the policy that applied (layers, locked keys, waivers)."""
    return PolicyInfo(
        configured=policy.configured,
        enforce=policy.enforce,
        layers=policy.layers,
        locked=policy.locked,
        waivers=tuple(applied_waiver(w) for w in policy.waivers),
        expired_waivers=tuple(applied_waiver(w) for w in policy.expired_waivers),
    )


def touched_coverage(
    ctx: Context, files: Sequence[FileOwners], sites: Sequence[Site]
) -> tuple[ServiceCoverage, ...]:
    """Scan coverage for each service that has files in `files` (the change), scoped to them."""
    changed: dict[str, list[str]] = {}
    for f in files:
        if f.service is not None:
            changed.setdefault(f.service, []).append(f.path)
    if not changed:
        return ()
    owned: dict[str, list[str]] = {name: [] for name in changed}
    if ctx.policy.coverage:  # which categories are required depends on all the service's files
        for path in ctx.snapshot.paths():
            service = service_of(ctx.services, path)
            if service is not None and service.name in owned:
                owned[service.name].append(path)
    out = []
    seen: set[str] = set()
    for service in ctx.services:
        if service.name not in changed or service.name in seen:
            continue
        seen.add(service.name)
        out.append(
            ServiceCoverage(
                service=service.name,
                categories=compute_coverage(ctx, changed[service.name], sites),
                required=required_categories(ctx.policy.coverage, service, owned[service.name]),
            )
        )
    return tuple(out)


def applied_waiver(waiver: Waiver) -> AppliedWaiver:
    return AppliedWaiver(
        rule=waiver.rule,
        approved_by=waiver.approved_by,
        reason=waiver.reason,
        until=waiver.until.isoformat() if waiver.until else None,
        source=waiver.source,
        line=waiver.line,
        path=waiver.path,
        service=waiver.service,
    )


def _with_owner_handle(ctx: Context, service: Service) -> Service:
    handle = service_owner_handle(ctx, service)
    if not handle or handle == service.owner:
        return service
    return replace(service, owner=handle, owner_as_written=service.owner)


def run_checks(
    snapshot: Snapshot,
    catalog: Catalog,
    policy: Policy,
    today: date,
    changed: frozenset[str] | None,
    directory: OwnerDirectory | None,
    memo: dict[Hashable, Any] | None = None,
) -> Evaluation:
    """Parse ownership once, then run every check over one snapshot (each under a guard)."""
    watched = snapshot if isinstance(snapshot, WatchedSnapshot) else WatchedSnapshot(snapshot)
    guard = Guard(watched, catalog)
    recorder = SuppressionRecorder(watched)
    located = find_codeowners(recorder)
    text = located.text if located is not None else None
    codeowners, findings = guard.run("CODEOWNERS parsing", partial(_parse_codeowners, text), None)
    no_services: tuple[tuple[Service, ...], Sequence[Finding]] = ((), ())
    (services, manifest_findings), failed = guard.run(
        "manifest reading", partial(discover_services, recorder, catalog), no_services
    )
    findings += [*failed, *manifest_findings]
    fixture_services = 0
    if not policy.report_test_fixtures:
        # A fake catalog entity in test data is not a service: it owns no files, has no checks.
        real = tuple(s for s in services if not is_test_path(s.manifest))
        fixture_services, services = len(services) - len(real), real
    ctx = Context(
        snapshot=recorder,
        catalog=catalog,
        policy=policy,
        today=today,
        codeowners=codeowners,
        codeowners_path=located.path if located else None,
        services=services,
        changed=changed,
        directory=directory,
        memo={} if memo is None else memo,
    )
    for check in CHECKS:
        if check is check_codeowners and codeowners is None and text is not None:
            continue  # CODEOWNERS could not be parsed: that failure is already reported
        name = check.__name__.removeprefix("check_")
        findings += guard.findings(f"{name} check", partial(check, ctx))
    return Evaluation(ctx, tuple(findings), recorder.suppressions, fixture_services)


def _parse_codeowners(text: str | None) -> CodeOwners | None:
    return CodeOwners.from_text(text) if text is not None else None


def apply_policy(
    findings: Iterable[Finding],
    ctx: Context,
    suppressions: Sequence[Suppression] = (),
    known: AbstractSet[Fingerprint] | None = None,
) -> list[Finding]:
    """Ignore paths, override severities, assign owners, apply suppressions and waivers; with
    `known` (the base's fingerprints), mark the findings the base already has as not new."""
    policy = ctx.policy
    index = SuppressionIndex(suppressions)
    out: list[Finding] = []
    for finding in findings:
        if finding.path and any_glob(policy.ignore, finding.path):
            continue
        severity = policy.severities.get(finding.rule)
        if severity == "off":
            continue
        changes: dict[str, Any] = {}  # one copy per finding, however many fields change
        if known is not None:
            # A failed check hides what it would have found: never "already on the base".
            changes["new"] = finding.rule == CHECK_FAILED or finding.fingerprint not in known
        if severity is not None:
            changes["severity"] = _severity(severity)
        service_name = finding.service
        if service_name is None and finding.path:
            service = service_of(ctx.services, finding.path)
            if service is not None:
                service_name = changes["service"] = service.name
        if not finding.owners:
            owners, source = owners_and_source(ctx, finding.path, service_name)
            if not owners and finding.rule.startswith("codeowners/") and ctx.codeowners_path:
                # Nobody owns the file: whoever owns CODEOWNERS must decide who will.
                owners, source = owners_and_source(ctx, ctx.codeowners_path)
                source = replace(source, kind="codeowners-file") if source else None
            changes["owners"] = owners
            changes["owner_source"] = source
        elif finding.owner_source is None:
            changes["owner_source"] = OwnerSource("check", validated=False)
        if changes:
            finding = finding.with_(**changes)
        suppression = index.match(finding)
        waiver = _waiver_for(policy.waivers, finding)
        if suppression is not None:
            finding = finding.with_(waived=True, waiver=suppression.describe())
        elif waiver is not None:
            until = f" until {waiver.until.isoformat()}" if waiver.until else ""
            finding = finding.with_(
                waived=True,
                waiver=f"waived by {waiver.approved_by}{until}: {waiver.reason}",
                waiver_detail=applied_waiver(waiver),
            )
        out.append(finding)
    return out


def conclude(policy: Policy, findings: Iterable[Finding]) -> Conclusion:
    if not policy.configured or not policy.enforce:
        return "neutral"
    blocking = any(f.severity == "error" and f.new and not f.waived for f in findings)
    return "failure" if blocking else "success"


def owners_for(ctx: Context, path: str | None, service_name: str | None = None) -> tuple[str, ...]:
    """Who must act on a finding: its service's owner, else the CODEOWNERS owners of the path."""
    return owners_and_source(ctx, path, service_name)[0]


def owners_and_source(
    ctx: Context, path: str | None, service_name: str | None = None
) -> tuple[tuple[str, ...], OwnerSource | None]:
    """`owners_for`, with what decided: the service manifest, or the CODEOWNERS line."""
    service = _service_named(ctx.services, service_name) if service_name else None
    if service is None and path:
        service = service_of(ctx.services, path)
    if service is not None:
        handle = service_owner_handle(ctx, service)
        if handle:
            line = service.line_of("owner")
            known = handle in ctx.codeowners_handles
            return (handle,), OwnerSource("manifest", service.manifest, line, validated=known)
    if path and ctx.codeowners is not None:
        match = ctx.codeowners.owners_of(path)
        if match is not None:
            source = OwnerSource("codeowners", ctx.codeowners_path, match.line, match.pattern)
            return tuple(match.owners), source
    return (), None


def service_owner_handle(ctx: Context, service: Service) -> str | None:
    """The service owner as a GitHub handle (`@org/team`, `@user`) when it can be known.

    A Backstage owner such as `group:default/payments` names a catalog group; its team is the
    one the policy or a Group entity maps it to, else the team of the same slug. The
    organisation comes from a CODEOWNERS team with that slug (the manifest's own path first),
    else from the mapping itself."""
    owner = service.owner
    if not owner:
        return None
    if owner.startswith("@") or "@" in owner:
        return owner
    slug = owner_team_slug(owner)
    if slug is None:
        return None
    mapping = ctx.owner_teams.mapping(owner)
    wanted = mapping.teams if mapping is not None else frozenset({slug.lower()})
    if ctx.codeowners is not None:
        match = ctx.codeowners.owners_of(service.manifest)
        candidates = list(match.owners) if match else []
        candidates += [o for rule in ctx.codeowners.rules for o in rule.owners]
        teams = (c for c in candidates if c.startswith("@") and "/" in c)
        found = next((t for t in teams if team_slug(t) in wanted), None)
        if found is not None:
            return found
    return mapping.handle if mapping is not None else None


def resolve_files(ctx: Context, paths: Sequence[str]) -> tuple[FileOwners, ...]:
    """Owners, deciding rule and service of each path."""
    matches = (
        ctx.codeowners.resolve_all(paths) if ctx.codeowners is not None else [None] * len(paths)
    )
    out = []
    for path, match in zip(paths, matches, strict=True):
        service = service_of(ctx.services, path)
        out.append(
            FileOwners(
                path=path,
                owners=tuple(match.owners) if match else (),
                line=match.line if match else None,
                pattern=match.pattern if match else None,
                service=service.name if service else None,
            )
        )
    return tuple(out)


def changed_paths(base: Snapshot, head: Snapshot) -> list[str]:
    """Paths added, removed or modified between two snapshots. Files both sides identify
    (`ContentIdentity`) are compared by id; only the others are read."""
    before, after = set(base.paths()), set(head.paths())
    changed = before ^ after
    base_id, head_id = content_ids(base), content_ids(head)
    for path in before & after:
        if base_id is not None and head_id is not None:
            a, b = base_id(path), head_id(path)
            if a is not None and b is not None:
                if a != b:
                    changed.add(path)
                continue
        if base.size(path) != head.size(path) or base.read(path) != head.read(path):
            changed.add(path)
    return sorted(changed)


def _with_unused(
    findings: Iterable[Finding],
    config_findings: Iterable[Finding],
    suppressions: Sequence[Suppression],
    catalog: Catalog,
) -> list[Finding]:
    """The findings plus one `config/unused-suppression` per suppression that waives none."""
    out = [*findings, *config_findings]
    for s in unused_suppressions(suppressions, out):
        unknown = [r for r in s.rules if r not in catalog.rules]
        why = (
            f"names no ghapp rule ({', '.join(unknown)})"
            if unknown
            else f"matches no finding on line {s.target}"
            if s.target is not None
            else "matches no finding"
        )
        out.append(
            Finding(
                rule="config/unused-suppression",
                severity=catalog.rule("config/unused-suppression").severity,
                message=f"`{s.comment}` {why}",
                path=s.path,
                line=s.line,
                fix=catalog.rule("config/unused-suppression").fix,
                subject=f"{s.comment} {s.reason}",
            )
        )
    return out


def _paths(problems: Iterable[ConfigProblem]) -> frozenset[str]:
    return frozenset(p.path for p in problems)


def _waiver_for(waivers: Iterable[Waiver], finding: Finding) -> Waiver | None:
    for waiver in waivers:
        rule_ok = (
            finding.rule == waiver.rule
            or (waiver.rule.endswith("/") and finding.rule.startswith(waiver.rule))
            or waiver.rule == "*"
        )
        if not rule_ok:
            continue
        if waiver.path and not (finding.path and glob_match(waiver.path, finding.path)):
            continue
        if waiver.service and waiver.service != finding.service:
            continue
        return waiver
    return None


def _service_named(services: Iterable[Service], name: str) -> Service | None:
    return next((s for s in services if s.name == name), None)


def _config_finding(catalog: Catalog, problem: ConfigProblem) -> Finding:
    rule = catalog.rule(problem.rule)
    return Finding(
        rule=problem.rule,
        severity=_severity(problem.severity),
        message=problem.message,
        path=problem.path,
        line=problem.line,
        fix=problem.fix or rule.fix,
        subject=problem.message,
    )


def _severity(value: str) -> Severity:
    if value == "error":
        return "error"
    if value == "warning":
        return "warning"
    return "notice"


def _finding_order(f: Finding) -> tuple[int, str, int, str]:
    return (SEVERITY_ORDER.get(f.severity, 3), f.path or "", f.line or 0, f.rule)

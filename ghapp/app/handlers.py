"""Event handlers: thin functions that pick the commit (and PR) to check, then run `check_*`.

`check_pull_request` and `check_commit` are the whole pipeline: load the trees (and the PR's
changed files), prefetch the blobs the core reads, evaluate off the event loop (in a worker
process under `ghapp serve`, see ghapp.app.sandbox), publish. An evaluation that cannot
finish raises `EvaluationFailed`. When the queue gives up on an evaluation's delivery
(dead-lettered), `give_up` runs the same handlers in a mode that completes the check run saying
so instead of evaluating, so no run stays `in_progress`. Other modules extend the app
through `Services`: `requested_actions` (check-run buttons by identifier) and
`on_repositories` (hooks told which repositories an installation covers), and through
`Router.add` (for example `issue_comment` commands).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from ghapp.app.checkrun import (
    KIND_BRANCH,
    KIND_PULL_REQUEST,
    EvaluationSink,
    Progress,
    details_url,
    evaluation_run,
    give_up_run,
    record_of,
    save_evaluation,
)
from ghapp.app.memory import Memory
from ghapp.app.router import Callback, Event, Router
from ghapp.app.sandbox import EvaluationFailed, Sandbox, ThreadSandbox
from ghapp.app.suggestions import with_owner_suggestions
from ghapp.commands.audit import AuditLog
from ghapp.core.catalog import Catalog
from ghapp.core.model import Report
from ghapp.core.ownership.directory import OwnerDirectory
from ghapp.core.policy.policy import CONFIG_PATHS, Policy, Waiver
from ghapp.core.snapshot import Snapshot
from ghapp.github.client import GitHubFactory, InstallationClient
from ghapp.github.config import OrgConfigs, PublishOptions, load_policy
from ghapp.github.directory import reported_owners, touches_codeowners
from ghapp.github.errors import RetryableError
from ghapp.github.history import GitHubHistory
from ghapp.github.publish import Publisher, Target
from ghapp.github.snapshot import Caches, ChangedFiles, GitHubSnapshot, load_changed_files
from ghapp.logs import delivery_fields, log_json
from ghapp.settings import Settings

logger = logging.getLogger("ghapp.handlers")

Evaluator = Callable[..., Report]  # ghapp.core.evaluate.evaluate's signature
RepositoriesHook = Callable[[int, Sequence[str]], Awaitable[None]]
ZERO_SHA = "0" * 40
PR_ACTIONS = ("opened", "synchronize", "reopened", "ready_for_review", "edited")


@dataclass
class Services:
    """What handlers share: clients, caches, memory, catalog, clock, and the extension points."""

    settings: Settings
    github: GitHubFactory
    catalog: Catalog
    clock: Callable[[], datetime]
    memory: Memory
    evaluator: Evaluator
    org_configs: OrgConfigs
    caches: Caches = field(default_factory=Caches)
    requested_actions: dict[str, Callback] = field(default_factory=dict)
    on_repositories: list[RepositoriesHook] = field(default_factory=list)
    audit: AuditLog | None = None  # where `/waive` waivers live; they apply to PR evaluations
    report_hooks: list[Callable[[Report], None]] = field(default_factory=list)  # e.g. metrics
    evaluations: EvaluationSink | None = None  # keeps reports for the details page
    sandbox: Sandbox = field(default_factory=ThreadSandbox)  # where evaluations run


@dataclass(frozen=True)
class PullRequest:
    """The parts of a PR payload the pipeline needs (from pull_request, check_run or check_suite)."""

    number: int
    head_sha: str
    base_sha: str
    author: str | None = None

    @classmethod
    def from_payload(cls, pr: Mapping[str, Any]) -> PullRequest:
        user = pr.get("user") if isinstance(pr.get("user"), Mapping) else {}
        return cls(
            number=int(pr["number"]),
            head_sha=str(pr["head"]["sha"]),
            base_sha=str(pr["base"]["sha"]),
            author=user.get("login") if user else None,
        )


def register(router: Router, services: Services) -> None:
    """Add the app's own routes and default check-run actions."""
    for name, action, callback in _evaluation_routes():
        router.add(name, action, callback)
    router.add("check_run", "requested_action", on_requested_action)
    router.add("installation", "created", on_installation)
    router.add("installation_repositories", "added", on_installation)
    services.requested_actions.setdefault("recheck", on_check_run_rerequested)
    services.requested_actions.setdefault("request-reviews", on_request_reviews)


def _evaluation_routes() -> list[tuple[str, str | None, Callback]]:
    """The routes whose jobs evaluate a commit and post its check run (see `give_up`)."""
    return [
        *(("pull_request", action, on_pull_request) for action in PR_ACTIONS),
        ("push", None, on_push),
        ("check_suite", "requested", on_check_suite),
        ("check_suite", "rerequested", on_check_suite),
        ("check_run", "rerequested", on_check_run_rerequested),
    ]


async def give_up(event: Event) -> int:
    """The queue gave up on `event`'s delivery (`event.given_up` says why): each check run its
    evaluation posts `in_progress` is completed saying the evaluation failed, with a conclusion
    per policy (a SHA without a run gets one). Only the evaluation routes run, and a check-run
    button only when it re-evaluates; how many routes ran."""
    if event.given_up is None:
        raise ValueError("give_up needs Event.given_up (the reason)")
    router = Router()
    for name, action, callback in _evaluation_routes():
        router.add(name, action, callback)
    router.add("check_run", "requested_action", _given_up_action)
    return await router.dispatch(event)


async def _given_up_action(event: Event) -> None:
    identifier = str((event.payload.get("requested_action") or {}).get("identifier", ""))
    if identifier in ("recheck", "request-reviews"):  # others evaluate nothing
        await on_check_run_rerequested(event)


async def on_pull_request(event: Event) -> None:
    payload = event.payload
    if event.action == "edited" and "base" not in (payload.get("changes") or {}):
        return  # a title or body edit changes nothing we check
    pr = payload["pull_request"]
    if pr.get("state") == "closed":
        return
    # A synchronize carries a SHA just pushed: no ghapp check run can exist for it yet, so the
    # lookup call is skipped (check_suite.requested for PR heads is left to this handler); but
    # reconciliation's synthetic synchronize re-checks a SHA that may have a run (left stale).
    new = event.action == "synchronize" and not payload.get("ghapp_reconcile")
    await check_pull_request(event, PullRequest.from_payload(pr), check_run_is_new=new)


async def on_push(event: Event) -> None:
    payload = event.payload
    repo = payload.get("repository") or {}
    after = str(payload.get("after") or "")
    if payload.get("deleted") or not after or after == ZERO_SHA:
        return
    if payload.get("ref") != f"refs/heads/{repo.get('default_branch')}":
        return  # other branches are checked through their pull requests
    await check_commit(event, after)


async def on_check_suite(event: Event) -> None:
    suite = event.payload["check_suite"]
    prs = [p for p in suite.get("pull_requests") or [] if isinstance(p, Mapping)]
    if event.action == "requested":
        default = (event.payload.get("repository") or {}).get("default_branch")
        if prs or suite.get("head_branch") == default:
            return  # the pull_request or push delivery for this commit does the work
    await _check_sha_or_prs(event, str(suite["head_sha"]), prs)


async def on_check_run_rerequested(event: Event) -> None:
    run = event.payload["check_run"]
    prs = [p for p in run.get("pull_requests") or [] if isinstance(p, Mapping)]
    await _check_sha_or_prs(event, str(run["head_sha"]), prs)


async def on_requested_action(event: Event) -> None:
    """Dispatch a check-run button by its identifier (`Services.requested_actions`)."""
    identifier = str((event.payload.get("requested_action") or {}).get("identifier", ""))
    callback = _services(event).requested_actions.get(identifier)
    if callback is None:
        log_json(
            logger,
            logging.WARNING,
            "unknown requested action",
            identifier=identifier,
            **delivery_fields(event.delivery),
        )
        return
    await callback(event)


async def on_request_reviews(event: Event) -> None:
    run = event.payload["check_run"]
    for pr in run.get("pull_requests") or []:
        await check_pull_request(
            event, PullRequest.from_payload(pr), force=PublishOptions(request_reviews=True)
        )


async def on_installation(event: Event) -> None:
    """Record which repositories an installation covers; tell the registered hooks."""
    payload = event.payload
    repos = payload.get("repositories") or payload.get("repositories_added") or []
    names = [str(r["full_name"]) for r in repos if isinstance(r, Mapping) and r.get("full_name")]
    installation = event.delivery.installation_id
    log_json(
        logger,
        logging.INFO,
        "installation repositories",
        repositories=names,
        **delivery_fields(event.delivery),
    )
    if installation is None:
        return
    for hook in _services(event).on_repositories:
        await hook(installation, names)


async def _check_sha_or_prs(event: Event, sha: str, prs: Sequence[Mapping[str, Any]]) -> None:
    if not prs:
        await check_commit(event, sha)
    for pr in prs:
        await check_pull_request(event, PullRequest.from_payload(pr))


async def check_pull_request(
    event: Event,
    pr: PullRequest,
    *,
    check_run_is_new: bool = False,
    force: PublishOptions | None = None,
) -> Report | None:
    """Evaluate the PR head against its base and publish the check run, review and extras
    (given up: complete the run saying so, no report)."""
    services = _services(event)
    repo = _repo(event)
    client = await _client(event)
    async with client:
        url = details_url(services.settings, repo, pr.head_sha)
        target = Target(repo, pr.head_sha, pr.number, pr.author, None, check_run_is_new, url)
        publisher = Publisher(client, services.memory, services.clock())
        org = _org_text(services, client, repo)
        record = _record_fields(event, repo, pr.head_sha, KIND_PULL_REQUEST)
        record.update(pr_number=pr.number, base_sha=pr.base_sha)
        if event.given_up is not None:
            await _give_up(event, publisher, target, record, pr.base_sha, client)
            return None
        async with evaluation_run(publisher, target, services.evaluations, org) as progress:
            progress.record = record
            changed, head, base = await asyncio.gather(
                load_changed_files(client, repo, pr.number),
                GitHubSnapshot.load(client, repo, pr.head_sha, services.caches),
                GitHubSnapshot.load(client, repo, pr.base_sha, services.caches),
            )
            progress.policy_snapshot = base
            report, policy = await _evaluate(
                services, client, repo, head, base, changed, pr_number=pr.number
            )
            options = PublishOptions.from_policy(policy)
            if force is not None:
                options = replace(
                    options, request_reviews=options.request_reviews or force.request_reviews
                )
            await save_evaluation(services.evaluations, record_of(report, progress, publisher.now))
            await publisher.publish(replace(target, changed=changed), report, options)
    return report


async def check_commit(event: Event, sha: str, *, check_run_is_new: bool = False) -> Report | None:
    """Evaluate one commit on its own and publish a check run on it (no review comments;
    given up: complete the run saying so, no report)."""
    services = _services(event)
    repo = _repo(event)
    client = await _client(event)
    async with client:
        url = details_url(services.settings, repo, sha)
        target = Target(repo, sha, check_run_is_new=check_run_is_new, details_url=url)
        publisher = Publisher(client, services.memory, services.clock())
        org = _org_text(services, client, repo)
        record = _record_fields(event, repo, sha, KIND_BRANCH)
        if event.given_up is not None:
            await _give_up(event, publisher, target, record, sha, client)
            return None
        async with evaluation_run(publisher, target, services.evaluations, org) as progress:
            progress.record = record
            head = await GitHubSnapshot.load(client, repo, sha, services.caches)
            progress.policy_snapshot = head
            report, _policy = await _evaluate(services, client, repo, head, None, None)
            await save_evaluation(services.evaluations, record_of(report, progress, publisher.now))
            await publisher.publish(target, report, PublishOptions())
    return report


async def _give_up(
    event: Event,
    publisher: Publisher,
    target: Target,
    record: dict[str, Any],
    policy_sha: str,
    client: InstallationClient,
) -> None:
    """`give_up` for one target; the policy comes from `policy_sha` (a PR's base, else the
    commit itself), as in the evaluation."""
    services = _services(event)

    async def policy_snapshot() -> GitHubSnapshot:
        snapshot = await GitHubSnapshot.load(client, target.repo, policy_sha, services.caches)
        await snapshot.prefetch(CONFIG_PATHS)  # read_policy then reads from the cache
        return snapshot

    await give_up_run(
        publisher,
        replace(target, check_run_is_new=False),  # a run may exist: look it up, never post two
        str(event.given_up),
        Progress(record=record),
        policy_snapshot,
        services.evaluations,
        _org_text(services, client, target.repo),
    )


def _org_text(
    services: Services, client: InstallationClient, repo: str
) -> Callable[[], Awaitable[str | None]]:
    """The org default config, fetched (from cache, usually) only on the failure path."""
    return lambda: services.org_configs.get(client, repo.split("/")[0])


def _record_fields(event: Event, repo: str, sha: str, kind: str) -> dict[str, Any]:
    """What the stored evaluation knows from the delivery: where and what was evaluated."""
    payload = event.payload
    repository = payload.get("repository") if isinstance(payload.get("repository"), Mapping) else {}
    default = str((repository or {}).get("default_branch") or "")
    suite = payload.get("check_suite") or (payload.get("check_run") or {}).get("check_suite") or {}
    ref = str(payload.get("ref") or "").removeprefix("refs/heads/") or suite.get("head_branch")
    return {
        "repository": repo,
        "head_sha": sha,
        "kind": kind,
        "installation_id": event.delivery.installation_id,
        "ref": ref,
        "default_branch": bool(kind == KIND_BRANCH and ref and ref == default),
    }


async def _evaluate(
    services: Services,
    client: InstallationClient,
    repo: str,
    head: GitHubSnapshot,
    base: GitHubSnapshot | None,
    changed: ChangedFiles | None,
    *,
    pr_number: int | None = None,
    suggestions: bool = True,
) -> tuple[Report, Policy]:
    org_text, _, _ = await asyncio.gather(
        services.org_configs.get(client, repo.split("/")[0]),
        head.prefetch(),
        base.prefetch() if base is not None else _nothing(),
    )
    today = services.clock().date()
    paths = None
    if changed is not None:
        paths = {*changed.paths, *(f.previous_path for f in changed.files if f.previous_path)}
    directory = None
    if touches_codeowners(paths) and "CODEOWNERS" in {p.rsplit("/", 1)[-1] for p in head.paths()}:
        directory = await reported_owners(client, repo, head.tree.sha)
    waivers: tuple[Waiver, ...] = ()
    if services.audit is not None and pr_number is not None:
        waivers = tuple(services.audit.waivers_for(repo, pr_number, today))
    try:
        report, policy = await services.sandbox.run(
            run_core,
            services.evaluator,
            services.catalog,
            head,
            base,
            paths,
            org_text,
            today,
            waivers,
            directory,
        )
    except (EvaluationFailed, RetryableError):
        raise
    except Exception as exc:  # a bug or an input the core could not take: say so, never hang
        raise EvaluationFailed(f"the evaluation failed: {type(exc).__name__}: {exc}") from exc
    if suggestions:  # extra calls (commit history of unowned files): not for the dashboard
        history = GitHubHistory(client, services.caches)
        report = await with_owner_suggestions(
            history, repo, head.tree.sha, head, report, services.clock()
        )
    for hook in services.report_hooks:
        hook(report)
    notes = tuple(n for n in (head.tree.note, base.tree.note if base else None) if n)
    return (replace(report, notes=report.notes + notes) if notes else report), policy


def run_core(
    evaluator: Evaluator,
    catalog: Catalog,
    head: Snapshot,
    base: Snapshot | None,
    changed: set[str] | None,
    org_text: str | None,
    today: date,
    waivers: tuple[Waiver, ...] = (),
    directory: OwnerDirectory | None = None,
) -> tuple[Report, Policy]:
    """The synchronous part (runs in a worker process or thread): evaluate, and read the publish
    switches. Its arguments and result cross a process boundary, so they must pickle."""
    extra: dict[str, Any] = {"extra_waivers": waivers} if waivers else {}
    if directory is not None:
        extra["directory"] = directory
    report = evaluator(
        head, catalog=catalog, today=today, base=base, changed=changed, org_config=org_text, **extra
    )
    return report, load_policy(base if base is not None else head, org_text, today)


async def _nothing() -> int:
    return 0


def _services(event: Event) -> Services:
    if not isinstance(event.services, Services):
        raise TypeError("handlers need Event.services (built by ghapp.app.processor.Processor)")
    return event.services


def _repo(event: Event) -> str:
    if not event.repo:
        raise ValueError(f"{event.name}.{event.action}: payload has no repository.full_name")
    return event.repo


async def _client(event: Event) -> InstallationClient:
    installation = event.delivery.installation_id
    if installation is None:
        raise ValueError(f"{event.name}.{event.action}: payload has no installation.id")
    return await _services(event).github.installation(installation)

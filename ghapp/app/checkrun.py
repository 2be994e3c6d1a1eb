"""One check run per job, never silence: `in_progress` when the job starts, completed by the
result or, when the evaluation fails for any reason, by a run that says so.

`evaluation_run` wraps a handler's work. A transient error (GitHub 5xx, rate limit) leaves the
run `in_progress` with a note and propagates, so the queue retries; any other error completes
the run with a conclusion per policy (`failure` when the repository's policy is enforced,
`neutral` otherwise; an unreadable policy counts as enforced when a config file exists) and
propagates too, so the processor logs it as before. Finished evaluations are kept
(`EvaluationSink`) for the details page and the organisation dashboard.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ghapp.core.model import Report
from ghapp.core.policy.policy import CONFIG_PATHS, read_policy
from ghapp.core.snapshot import Snapshot
from ghapp.github.errors import RetryableError
from ghapp.github.publish import Publisher, Target
from ghapp.logs import log_json
from ghapp.render.markdown import title_of
from ghapp.settings import Settings

logger = logging.getLogger("ghapp.checkrun")
KIND_PULL_REQUEST = "pull_request"
KIND_BRANCH = "branch"  # a commit on a branch (the default branch: the dashboard's rows)


@dataclass(frozen=True)
class EvaluationRecord:
    """One evaluation as stored: a report (or the error that stopped it) per repository and SHA."""

    repository: str
    head_sha: str
    kind: str  # KIND_PULL_REQUEST or KIND_BRANCH
    evaluated_at: datetime
    conclusion: str
    title: str
    report: dict[str, Any] | None = None  # Report.to_json()
    error: str | None = None
    installation_id: int | None = None
    pr_number: int | None = None
    base_sha: str | None = None
    ref: str | None = None  # the branch evaluated (KIND_BRANCH)
    default_branch: bool = False


class EvaluationSink(Protocol):
    def save(self, record: EvaluationRecord) -> None:
        """Store `record`, replacing an older one of the same repository, SHA and kind."""
        ...


def details_url(settings: Settings, repo: str, head_sha: str) -> str | None:
    """The details page of an evaluation (None without PUBLIC_URL: GitHub needs a full URL)."""
    if not settings.public_url:
        return None
    return f"{settings.public_url}/{repo}/checks/{head_sha}"


@dataclass
class Progress:
    """What a handler learnt so far, for the failure path: the snapshot its policy is read from
    and the org default's text."""

    policy_snapshot: Snapshot | None = None
    org_text: str | None = None
    record: dict[str, Any] = field(default_factory=dict)  # EvaluationRecord fields known early


def failure_conclusion(progress: Progress) -> str:
    """The conclusion of a run whose evaluation failed, per the policy as far as it is known."""
    snapshot = progress.policy_snapshot
    if snapshot is None:
        return "failure" if progress.org_text is not None else "neutral"
    try:
        policy, _ = read_policy(snapshot, org_text=progress.org_text)
    except Exception:  # the policy itself may be what failed: a config file means "enforce"
        has_config = any(snapshot.size(p) is not None for p in CONFIG_PATHS)
        return "failure" if has_config or progress.org_text is not None else "neutral"
    return "failure" if policy.configured and policy.enforce else "neutral"


@asynccontextmanager
async def evaluation_run(
    publisher: Publisher,
    target: Target,
    sink: EvaluationSink | None = None,
    org_text: Callable[[], Awaitable[str | None]] | None = None,
) -> AsyncIterator[Progress]:
    """Post `target`'s run `in_progress`, run the block, and on failure complete it (see above).
    `org_text` fetches the org default config when the failure path needs the policy."""
    await publisher.start_check_run(target)
    progress = Progress()
    try:
        yield progress
    except RetryableError as exc:
        await _quietly(publisher.note_retry(target, _reason(exc)), target)
        raise
    except Exception as exc:
        await report_failure(publisher, target, progress, _reason(exc), sink, org_text)
        raise


async def report_failure(
    publisher: Publisher,
    target: Target,
    progress: Progress,
    reason: str,
    sink: EvaluationSink | None = None,
    org_text: Callable[[], Awaitable[str | None]] | None = None,
) -> str:
    """Complete `target`'s run saying the evaluation failed and why, with a conclusion per
    policy, and store that outcome; the conclusion. Never raises (errors are logged)."""
    if org_text is not None and progress.org_text is None:
        try:
            progress.org_text = await org_text()
        except Exception:
            progress.org_text = None  # the repository's own config still decides
    conclusion = failure_conclusion(progress)
    await _quietly(publisher.fail_check_run(target, reason, conclusion), target)
    if sink is not None and progress.record:
        record = EvaluationRecord(
            **progress.record,
            evaluated_at=publisher.now,
            conclusion=conclusion,
            title="Evaluation failed",
            error=reason,
        )
        await _quietly(asyncio.to_thread(sink.save, record), target)
    return conclusion


async def give_up_run(
    publisher: Publisher,
    target: Target,
    reason: str,
    progress: Progress,
    policy_snapshot: Callable[[], Awaitable[Snapshot]],
    sink: EvaluationSink | None = None,
    org_text: Callable[[], Awaitable[str | None]] | None = None,
) -> bool:
    """The queue gave up on the job evaluating `target` (dead-lettered): complete its run the
    way `evaluation_run` completes a failed one, unless a result or a failure already completed
    it; a SHA without a run gets one that says so. `policy_snapshot` loads the snapshot the
    policy is read from (the base of a PR), for the conclusion; if that fails too, the
    conclusion falls back as when the policy is unreadable. True when the run was completed."""
    if await publisher.run_state(target) == "completed":
        return False
    try:
        progress.policy_snapshot = await policy_snapshot()
    except Exception as exc:  # GitHub may be what kept failing: conclude without the policy
        log_json(
            logger,
            logging.WARNING,
            "policy not read for a given-up evaluation",
            repository=target.repo,
            head_sha=target.head_sha,
            error=repr(exc),
        )
    await report_failure(publisher, target, progress, reason, sink, org_text)
    return True


def record_of(report: Report, progress: Progress, evaluated_at: datetime) -> EvaluationRecord:
    """The stored form of a finished evaluation."""
    return EvaluationRecord(
        **progress.record,
        evaluated_at=evaluated_at,
        conclusion=report.conclusion,
        title=title_of(report),
        report=report.to_json(),
    )


async def save_evaluation(sink: EvaluationSink | None, record: EvaluationRecord) -> None:
    """Store a finished evaluation; a storage failure is logged, never fails the check run."""
    if sink is None:
        return
    try:
        await asyncio.to_thread(sink.save, record)
    except Exception as exc:
        log_json(
            logger,
            logging.ERROR,
            "evaluation not stored",
            repository=record.repository,
            head_sha=record.head_sha,
            error=repr(exc),
        )


async def _quietly(step: Any, target: Target) -> None:
    # The failure path must not hide the original error behind a second one.
    try:
        await step
    except Exception as exc:
        log_json(
            logger,
            logging.ERROR,
            "could not report the failed evaluation",
            repository=target.repo,
            head_sha=target.head_sha,
            error=repr(exc),
        )


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else 'no message'}"

"""Publishing a Report: one `ghapp` check run per head SHA, plus (for PRs) reviews and comments.

The check run is created once per head SHA and updated in place afterwards: its id is kept in
`Memory`, and looked up with `GET .../commits/{sha}/check-runs?check_name=ghapp` only when the
memory does not know it and the SHA may already have one. `start_check_run` posts it
`in_progress` when the job starts; the result (or `fail_check_run`'s explanation) completes the
same run. A completed run is never moved back to `in_progress` (GitHub keeps a completed run
completed): a re-check updates it in place when done. GitHub's limits are honoured here:
summary and text at most 65,535 bytes (cut on a UTF-8 boundary, with a note), 50 annotations per
request (the rest are sent with updates), 3 actions with short labels.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from ghapp.app.memory import Memory
from ghapp.core.model import Finding, Report
from ghapp.github.client import InstallationClient
from ghapp.github.config import PublishOptions
from ghapp.github.errors import Unprocessable
from ghapp.github.review import owners_to_request, post_review
from ghapp.github.snapshot import ChangedFiles
from ghapp.render import render_markdown
from ghapp.render.escape import code
from ghapp.render.markdown import title_of as summary_title

logger = logging.getLogger("ghapp.publish")

CHECK_NAME = "ghapp"
MAX_OUTPUT_BYTES = 65_535
MAX_ANNOTATIONS_PER_REQUEST = 50
MAX_ANNOTATIONS = 1000  # 20 requests; beyond this the summary already says enough
SUMMARY_MARKER = "<!-- ghapp:summary -->"
LEVELS = {"error": "failure", "warning": "warning", "notice": "notice"}
ACTIONS = {
    "recheck": ("Re-check", "Evaluate this commit again"),
    "request-reviews": ("Request reviews", "Ask owners of changed files to review"),
    "claim-unowned": ("Claim unowned", "Open a PR assigning unowned files"),
}
MAX_LABELS = 10


@dataclass(frozen=True)
class Target:
    """Where to publish: a commit, and the pull request it is the head of (if any)."""

    repo: str
    head_sha: str
    pr_number: int | None = None
    pr_author: str | None = None
    changed: ChangedFiles | None = None
    check_run_is_new: bool = False  # the SHA cannot have a ghapp check run yet: skip the lookup
    details_url: str | None = None  # the details page of this evaluation (needs PUBLIC_URL)


def truncate_bytes(text: str, max_bytes: int = MAX_OUTPUT_BYTES) -> str:
    """`text` cut to at most `max_bytes` UTF-8 bytes, on a character boundary, with a note."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    note = f"\n\n… (truncated to fit {max_bytes:,} bytes)"
    room = max(0, max_bytes - len(note.encode("utf-8")))
    return data[:room].decode("utf-8", errors="ignore") + note


def title_of(report: Report) -> str:
    """The check run's one-line title: "2 blocking · 5 new · 31 existing"."""
    return summary_title(report)


def annotations_of(findings: Iterable[Finding]) -> list[dict[str, object]]:
    """Check-run annotations for the new, unwaived findings that have a path."""
    out: list[dict[str, object]] = []
    for f in findings:
        if f.waived or not f.new or not f.path:
            continue
        line = f.line or 1
        message = f.message + (f"\n\nOwners: {' '.join(f.owners)}" if f.owners else "")
        if f.fix:
            message += f"\nFix: {f.fix}"
        out.append(
            {
                "path": f.path,
                "start_line": line,
                "end_line": line,
                "annotation_level": LEVELS[f.severity],
                "title": f.rule,
                "message": truncate_bytes(message, 60_000),
            }
        )
    return out[:MAX_ANNOTATIONS]


def actions_for(target: Target) -> list[dict[str, str]]:
    """The check run's buttons (at most 3; label <= 20, description <= 40, identifier <= 20)."""
    names = (
        ["recheck", "request-reviews", "claim-unowned"]
        if target.pr_number
        else ["recheck", "claim-unowned"]
    )
    return [{"label": ACTIONS[n][0], "description": ACTIONS[n][1], "identifier": n} for n in names]


class Publisher:
    """Posts a report for one target through one installation client."""

    def __init__(self, client: InstallationClient, memory: Memory, now: datetime) -> None:
        self.client = client
        self.memory = memory
        self.now = now

    async def publish(self, target: Target, report: Report, options: PublishOptions) -> None:
        """The check run always; for PRs, what `options` switches on."""
        await self.publish_check_run(target, report)
        if target.pr_number is None or target.changed is None:
            return
        if options.review_comments:
            try:
                await post_review(
                    self.client,
                    self.memory,
                    repo=target.repo,
                    number=target.pr_number,
                    head_sha=target.head_sha,
                    findings=report.findings,
                    files=target.changed.files,
                )
            except Unprocessable as exc:  # the diff moved under us (a newer push): skip, not retry
                logger.warning(json.dumps({"msg": "review rejected", "error": str(exc)}))
        if options.request_reviews:
            await self.request_reviews(target, report)
        if options.labels:
            await self.add_owner_labels(target, report)
        if options.summary_comment:
            await self.upsert_summary_comment(target, report)

    async def start_check_run(self, target: Target) -> int:
        """Post the run `in_progress` unless this SHA already has one (a re-check updates the
        existing run when done); the run's id."""
        run_id = await self.find_check_run(target)
        if run_id is not None:
            return run_id
        body: dict[str, object] = {
            "name": CHECK_NAME,
            "head_sha": target.head_sha,
            "status": "in_progress",
            "started_at": self._timestamp(),
            "output": {
                "title": "Evaluating…",
                "summary": "ghapp is evaluating this commit: owners, service records, "
                "security-scan coverage and deploy safety.",
            },
        }
        if target.details_url:
            body["details_url"] = target.details_url
        created = await self.client.request("POST", f"/repos/{target.repo}/check-runs", json=body)
        run_id = int(created["id"])
        await self.memory.remember(_check_key(target), str(run_id))
        await self.memory.remember(_state_key(target), "in_progress")
        return run_id

    async def fail_check_run(self, target: Target, reason: str, conclusion: str) -> int:
        """Complete the run saying the evaluation failed and why (`conclusion` per policy)."""
        enforced = conclusion == "failure"
        summary = (
            "### ghapp could not evaluate this commit\n\n"
            f"{code(reason[:2000])}\n\n"
            + (
                "This repository's policy is enforced, so a commit ghapp could not check does "
                "not pass. "
                if enforced
                else "This repository's policy does not block (report only, or no policy), so "
                "the check is neutral. "
            )
            + "Push again or use **Re-check** once the cause is fixed."
        )
        body: dict[str, object] = {
            "name": CHECK_NAME,
            "head_sha": target.head_sha,
            "status": "completed",
            "conclusion": conclusion,
            "completed_at": self._timestamp(),
            "output": {"title": "Evaluation failed", "summary": truncate_bytes(summary)},
            "actions": actions_for(target)[:1],
        }
        if target.details_url:
            body["details_url"] = target.details_url
        run_id = await self._create_or_update(target, body)
        await self.memory.remember(_state_key(target), "completed")
        return run_id

    async def note_retry(self, target: Target, reason: str) -> None:
        """Tell an `in_progress` run that a transient error interrupted it and a retry is due."""
        run_id = await self.memory.recall(_check_key(target))
        if run_id is None or await self.memory.recall(_state_key(target)) != "in_progress":
            return
        output = {
            "title": "Evaluating… (retrying)",
            "summary": "A transient error interrupted the evaluation; ghapp retries it "
            f"automatically.\n\n{code(reason[:2000])}",
        }
        await self._update(target.repo, int(run_id), {"output": output})

    async def run_state(self, target: Target) -> str | None:
        """What this app last made of the SHA's run: "in_progress", "completed", or None."""
        return await self.memory.recall(_state_key(target))

    async def _create_or_update(self, target: Target, body: dict[str, object]) -> int:
        run_id = await self.find_check_run(target)
        if run_id is None:
            return await self._create(target, body)
        await self._update(target.repo, run_id, _without_head_sha(body))
        return run_id

    async def _create(self, target: Target, body: dict[str, object]) -> int:
        """POST a new check run and remember its id for this target."""
        created = await self.client.request("POST", f"/repos/{target.repo}/check-runs", json=body)
        run_id = int(created["id"])
        await self.memory.remember(_check_key(target), str(run_id))
        return run_id

    def _timestamp(self) -> str:
        return self.now.strftime("%Y-%m-%dT%H:%M:%SZ")

    async def publish_check_run(self, target: Target, report: Report) -> int:
        """Create or update the `ghapp` check run for the head SHA; its id."""
        notes = tuple(n for n in _target_notes(target) if n and n not in report.notes)
        shown = replace(report, notes=report.notes + notes) if notes else report
        summary = render_markdown(
            shown,
            max_bytes=MAX_OUTPUT_BYTES,
            details_url=target.details_url,
            subject="pull request" if target.pr_number is not None else "push",
        )
        annotations = annotations_of(report.findings)
        output: dict[str, object] = {"title": title_of(report), "summary": truncate_bytes(summary)}
        body: dict[str, object] = {
            "name": CHECK_NAME,
            "head_sha": target.head_sha,
            "status": "completed",
            "conclusion": report.conclusion,
            "completed_at": self._timestamp(),
            "output": {**output, "annotations": annotations[:MAX_ANNOTATIONS_PER_REQUEST]},
            "actions": actions_for(target),
        }
        if target.details_url:
            body["details_url"] = target.details_url
        run_id = await self.find_check_run(target)
        sent: set[str] = set()
        if run_id is None:
            run_id = await self._create(target, body)
        else:
            # GitHub appends the annotations of every update to the run's list: send only the
            # ones this run does not carry yet, so a re-check never shows one twice.
            sent = set(
                json.loads(await self.memory.recall(_annotations_key(target, run_id)) or "[]")
            )
            annotations = [a for a in annotations if _annotation_id(a) not in sent]
            body["output"] = {**output, "annotations": annotations[:MAX_ANNOTATIONS_PER_REQUEST]}
            await self._update(target.repo, run_id, _without_head_sha(body))
        for start in range(
            MAX_ANNOTATIONS_PER_REQUEST, len(annotations), MAX_ANNOTATIONS_PER_REQUEST
        ):
            batch = annotations[start : start + MAX_ANNOTATIONS_PER_REQUEST]
            await self._update(target.repo, run_id, {"output": {**output, "annotations": batch}})
        if annotations:
            sent |= {_annotation_id(a) for a in annotations}
            await self.memory.remember(_annotations_key(target, run_id), json.dumps(sorted(sent)))
        await self.memory.remember(_state_key(target), "completed")
        return run_id

    async def find_check_run(self, target: Target) -> int | None:
        """The id of this SHA's `ghapp` check run: from memory, else from GitHub (None: none yet)."""
        known = await self.memory.recall(_check_key(target))
        if known is not None:
            return int(known)
        if target.check_run_is_new:
            return None
        found = await self.client.request(
            "GET",
            f"/repos/{target.repo}/commits/{target.head_sha}/check-runs",
            params={"check_name": CHECK_NAME, "filter": "latest", "per_page": 1},
        )
        runs = (found or {}).get("check_runs") or []
        if not runs:
            return None
        await self.memory.remember(_check_key(target), str(runs[0]["id"]))
        return int(runs[0]["id"])

    async def _update(self, repo: str, run_id: int, body: dict[str, object]) -> None:
        await self.client.request("PATCH", f"/repos/{repo}/check-runs/{run_id}", json=body)

    async def request_reviews(self, target: Target, report: Report) -> None:
        """Ask the owners of the changed files to review, once per owner per PR."""
        owners = sorted({o for f in report.files for o in f.owners})
        key = f"review-requests:{target.repo}#{target.pr_number}"
        done = set(json.loads(await self.memory.recall(key) or "[]"))
        todo = [o for o in owners if o not in done]
        body = owners_to_request(todo, target.repo.split("/")[0], target.pr_author)
        if not body["reviewers"] and not body["team_reviewers"]:
            return
        try:
            await self.client.request(
                "POST",
                f"/repos/{target.repo}/pulls/{target.pr_number}/requested_reviewers",
                json=body,
            )
        except Unprocessable as exc:  # e.g. an owner who is not a collaborator
            logger.warning(json.dumps({"msg": "review request rejected", "error": str(exc)}))
        await self.memory.remember(key, json.dumps(sorted(done | set(todo))))

    async def add_owner_labels(self, target: Target, report: Report) -> None:
        """Label the PR `owner:<team or user>` for each owner of a changed file."""
        names = sorted(
            {"owner:" + o.lstrip("@").split("/")[-1] for f in report.files for o in f.owners}
        )
        labels = [n[:50] for n in names][:MAX_LABELS]
        key = f"labels:{target.repo}#{target.pr_number}"
        if not labels or await self.memory.recall(key) == json.dumps(labels):
            return
        await self.client.request(
            "POST",
            f"/repos/{target.repo}/issues/{target.pr_number}/labels",
            json={"labels": labels},
        )
        await self.memory.remember(key, json.dumps(labels))

    async def upsert_summary_comment(self, target: Target, report: Report) -> None:
        """One PR comment, found again by its hidden marker and edited in place."""
        summary = render_markdown(report, max_bytes=60_000, details_url=target.details_url)
        body = truncate_bytes(f"{SUMMARY_MARKER}\n{summary}")
        key = f"summary-comment:{target.repo}#{target.pr_number}"
        comment_id = await self.memory.recall(key) or await self._find_summary_comment(target)
        if comment_id is not None:
            await self.client.request(
                "PATCH", f"/repos/{target.repo}/issues/comments/{comment_id}", json={"body": body}
            )
            return
        created = await self.client.request(
            "POST", f"/repos/{target.repo}/issues/{target.pr_number}/comments", json={"body": body}
        )
        await self.memory.remember(key, str(created["id"]))

    async def _find_summary_comment(self, target: Target) -> str | None:
        for page in range(1, 11):
            batch = await self.client.request(
                "GET",
                f"/repos/{target.repo}/issues/{target.pr_number}/comments",
                params={"per_page": 100, "page": page},
            )
            for comment in batch or []:
                if SUMMARY_MARKER in str(comment.get("body") or ""):
                    return str(comment["id"])
            if len(batch or []) < 100:
                return None
        return None


def _annotations_key(target: Target, run_id: int) -> str:
    return f"annotations:{target.repo}:{run_id}"


def _annotation_id(annotation: Mapping[str, object]) -> str:
    text = json.dumps(annotation, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _without_head_sha(body: dict[str, object]) -> dict[str, object]:
    """A creation body as an update body (updating a check run takes no head_sha)."""
    return {k: v for k, v in body.items() if k != "head_sha"}


def _check_key(target: Target) -> str:
    return f"check-run:{target.repo}@{target.head_sha}"


def _state_key(target: Target) -> str:
    return f"check-run-status:{target.repo}@{target.head_sha}"


def _target_notes(target: Target) -> Sequence[str | None]:
    return (target.changed.note if target.changed else None,)

"""Publishing: check-run limits, review comments only on diff lines, nothing posted twice."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
import respx

from ghapp.app.memory import InMemoryMemory
from ghapp.core.model import FileOwners, Finding, Report
from ghapp.github.client import GitHubFactory
from ghapp.github.config import PublishOptions
from ghapp.github.publish import (
    ACTIONS,
    MAX_OUTPUT_BYTES,
    SUMMARY_MARKER,
    Publisher,
    Target,
    actions_for,
    annotations_of,
    truncate_bytes,
)
from ghapp.github.review import (
    commentable_lines,
    fingerprint_hash,
    owners_to_request,
    plan_comments,
)
from ghapp.github.snapshot import ChangedFile, ChangedFiles
from tests.apphelpers import MiniGitHub, make_settings
from tests.test_escape import visible

NOW = datetime(2024, 5, 1, tzinfo=UTC)
PATCH = "@@ -1,3 +1,4 @@\n line1\n-old2\n+new2\n+new3\n line4\n@@ -10,2 +11,2 @@\n ctx11\n+add12"


def finding(path: str = "k8s/app.yaml", line: int | None = 2, **changes: Any) -> Finding:
    values: dict[str, Any] = {
        "rule": "k8s/latest-tag",
        "severity": "error",
        "message": "image uses :latest",
        "path": path,
        "line": line,
        "owners": ("@acme/web",),
        "fix": "Pin the image tag.",
        "subject": f"{path}:{line}",
    }
    values.update(changes)
    return Finding(**values)


def report(findings: tuple[Finding, ...], conclusion: str = "failure") -> Report:
    files = (FileOwners("k8s/app.yaml", ("@acme/web", "@bob"), 1, "*"),)
    return Report(conclusion, findings, files=files, policy_configured=True)  # type: ignore[arg-type]


@pytest.fixture
def github() -> MiniGitHub:
    gh = MiniGitHub()
    with respx.mock(assert_all_called=False) as router:
        gh.install(router)
        yield gh


def publish(
    gh: MiniGitHub,
    rep: Report,
    target: Target,
    memory: InMemoryMemory | None = None,
    options: PublishOptions | None = None,
) -> GitHubFactory:
    factory = GitHubFactory(make_settings())

    async def go() -> None:
        client = await factory.installation(7)
        await Publisher(client, memory or InMemoryMemory(), NOW).publish(
            target, rep, options or PublishOptions()
        )

    asyncio.run(go())
    return factory


PR_TARGET = Target(
    "acme/shop", "h1", 3, "alice", ChangedFiles((ChangedFile("k8s/app.yaml", "modified", PATCH),))
)


@pytest.mark.parametrize(
    ("patch", "lines"),
    [
        (PATCH, {1, 2, 3, 4, 11, 12}),
        (None, set()),
        ("", set()),
        ("@@ -0,0 +1,2 @@\n+a\n+b\n\\ No newline at end of file", {1, 2}),
        ("@@ -5 +5 @@\n-x\n+y", {5}),
        ("@@ -1,2 +1 @@\n-a\n-b\n c", {1}),
    ],
    ids=["two-hunks", "binary", "empty", "new-file", "one-line", "deletions"],
)
def test_commentable_lines_are_head_side_lines_inside_hunks(
    patch: str | None, lines: set[int]
) -> None:
    assert commentable_lines(patch) == lines


def test_comments_are_planned_only_on_lines_in_the_diff() -> None:
    files = PR_TARGET.changed.files  # type: ignore[union-attr]
    findings = [
        finding(line=2),
        finding(line=7, subject="outside"),
        finding(path="other.yaml", line=1),
        finding(line=None, subject="no-line"),
        finding(line=3, subject="old", new=False),
        finding(line=4, subject="waived", waived=True),
    ]
    assert [(c.path, c.line) for c in plan_comments(findings, files)] == [("k8s/app.yaml", 2)]


def test_comment_names_owners_fix_suggestion_and_marker() -> None:
    f = finding(suggestion="image: web:1.2.3")
    [comment] = plan_comments([f], PR_TARGET.changed.files)  # type: ignore[union-attr]
    body = comment.body
    assert "@acme/web" in body and "Pin the image tag." in visible(body)
    assert "```suggestion\nimage: web:1.2.3\n```" in body
    assert body.endswith(f"<!-- ghapp:{fingerprint_hash(f)} -->")
    assert comment.to_json()["side"] == "RIGHT"


def test_check_run_sends_annotations_in_batches_of_50(github: MiniGitHub) -> None:
    findings = tuple(finding(line=i, subject=str(i)) for i in range(1, 121))
    publish(github, report(findings), Target("acme/shop", "h1"))
    [created] = github.calls_to("POST", "/check-runs")
    updates = [b for m, p, b in github.posted if m == "PATCH" and "/check-runs/" in p]
    assert created["name"] == "ghapp" and created["head_sha"] == "h1"
    assert created["conclusion"] == "failure"
    batches = [created["output"]["annotations"]] + [u["output"]["annotations"] for u in updates]
    assert [len(b) for b in batches] == [50, 50, 20]
    assert [a["start_line"] for b in batches for a in b] == list(range(1, 121))


@pytest.mark.parametrize(
    ("severity", "level"), [("error", "failure"), ("warning", "warning"), ("notice", "notice")]
)
def test_annotation_level_follows_severity(severity: str, level: str) -> None:
    [annotation] = annotations_of([finding(severity=severity)])
    assert annotation["annotation_level"] == level


def test_summary_over_the_limit_is_cut_on_a_character_boundary() -> None:
    text = "é€😀" * 20_000  # 9 bytes per round: far over 65,535 bytes
    cut = truncate_bytes(text)
    data = cut.encode("utf-8")
    assert len(data) <= MAX_OUTPUT_BYTES
    assert data.decode("utf-8") == cut and "truncated" in cut
    assert truncate_bytes("short") == "short"


def test_check_run_output_fits_githubs_byte_limit(github: MiniGitHub) -> None:
    long = tuple(finding(line=i, subject=str(i), message="😀" * 500) for i in range(200))
    publish(github, report(long), Target("acme/shop", "h1"))
    [created] = github.calls_to("POST", "/check-runs")
    assert len(created["output"]["summary"].encode()) <= MAX_OUTPUT_BYTES


def test_actions_respect_githubs_limits() -> None:
    for target in (PR_TARGET, Target("acme/shop", "h1")):
        actions = actions_for(target)
        assert 1 <= len(actions) <= 3
        for action in actions:
            assert len(action["label"]) <= 20 and len(action["description"]) <= 40
            assert len(action["identifier"]) <= 20 and action["identifier"] in ACTIONS


def test_review_is_posted_once_across_reruns(github: MiniGitHub) -> None:
    memory = InMemoryMemory()
    rep = report((finding(line=2), finding(line=7, subject="outside")))
    publish(github, rep, PR_TARGET, memory)
    publish(github, rep, PR_TARGET, memory)
    [review] = github.calls_to("POST", "/pulls/3/reviews")
    assert review["event"] == "COMMENT" and review["commit_id"] == "h1"
    assert [(c["path"], c["line"]) for c in review["comments"]] == [("k8s/app.yaml", 2)]
    # The second run updated the check run in place instead of creating another.
    assert len(github.calls_to("POST", "/check-runs")) == 1


def test_fresh_process_recovers_posted_comments_from_their_markers(github: MiniGitHub) -> None:
    f = finding(line=2)
    github.review_comments[3] = [{"body": f"old\n<!-- ghapp:{fingerprint_hash(f)} -->"}]
    publish(github, report((f,)), PR_TARGET, InMemoryMemory())
    assert github.calls_to("POST", "/pulls/3/reviews") == []


def test_unknown_check_run_is_looked_up_before_creating(github: MiniGitHub) -> None:
    factory = publish(github, report(()), Target("acme/shop", "h1"))
    assert any(p.endswith("/commits/h1/check-runs") for *_, p in factory.counter.calls)
    factory = publish(github, report(()), Target("acme/shop", "h2", check_run_is_new=True))
    assert not any("/commits/" in p for *_, p in factory.counter.calls)


def test_summary_comment_is_created_then_edited_in_place(github: MiniGitHub) -> None:
    memory = InMemoryMemory()
    options = PublishOptions(review_comments=False, summary_comment=True)
    publish(github, report(()), PR_TARGET, memory, options)
    publish(github, report(()), PR_TARGET, memory, options)
    [created] = github.calls_to("POST", "/issues/3/comments")
    assert created["body"].startswith(SUMMARY_MARKER)
    assert len([1 for m, p, _ in github.posted if m == "PATCH" and "/issues/comments/" in p]) == 1


def test_review_requests_and_labels_go_to_owners_once(github: MiniGitHub) -> None:
    memory = InMemoryMemory()
    options = PublishOptions(review_comments=False, request_reviews=True, labels=True)
    publish(github, report(()), PR_TARGET, memory, options)
    publish(github, report(()), PR_TARGET, memory, options)
    [request] = github.calls_to("POST", "/pulls/3/requested_reviewers")
    assert request == {"reviewers": ["bob"], "team_reviewers": ["web"]}
    [labels] = github.calls_to("POST", "/issues/3/labels")
    assert labels == {"labels": ["owner:bob", "owner:web"]}


def test_review_requests_skip_the_author_emails_and_other_orgs_teams() -> None:
    body = owners_to_request(
        ["@alice", "@other/team", "dev@acme.com", "@acme/web"], "acme", "alice"
    )
    assert body == {"reviewers": [], "team_reviewers": ["web"]}


def test_neutral_report_publishes_neutral(github: MiniGitHub) -> None:
    publish(github, report((finding(),), conclusion="neutral"), Target("acme/shop", "h1"))
    [created] = github.calls_to("POST", "/check-runs")
    assert created["conclusion"] == "neutral" and created["status"] == "completed"


def test_recheck_of_the_same_sha_never_repeats_an_annotation(github: MiniGitHub) -> None:
    # GitHub appends the annotations of each update; a re-check must send only new ones.
    memory = InMemoryMemory()
    first = report((finding(line=2, subject="a"), finding(line=3, subject="b")))
    publish(github, first, Target("acme/shop", "h1"), memory)
    second = report((*first.findings, finding(line=4, subject="c")))
    publish(github, second, Target("acme/shop", "h1"), memory)
    [created] = github.calls_to("POST", "/check-runs")
    [update] = [b for m, p, b in github.posted if m == "PATCH" and "/check-runs/" in p]
    sent = created["output"]["annotations"] + update["output"]["annotations"]
    assert sorted(a["start_line"] for a in sent) == [2, 3, 4]
    assert update["conclusion"] == "failure"  # the conclusion and summary are still refreshed

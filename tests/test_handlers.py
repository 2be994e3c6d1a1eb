"""Handlers through the Processor against a respx GitHub: what each event costs and posts."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

from ghapp.app.delivery import Delivery
from ghapp.app.memory import MemorySink
from ghapp.app.processor import Processor
from ghapp.app.router import Event
from ghapp.app.sandbox import EvaluationFailed
from ghapp.core.catalog import Catalog
from ghapp.github.client import GitHubFactory
from ghapp.github.errors import RateLimited, RetryableError
from tests.apphelpers import (
    API,
    MiniGitHub,
    blob_sha,
    latest_tag_evaluator,
    make_settings,
    pr_payload,
)

NOW = datetime(2024, 5, 1, tzinfo=UTC)
OWNERS = "* @acme/web\n"
DEPLOY = "kind: Deployment\nspec:\n  image: web:1.0\n"
BASE = {".github/CODEOWNERS": OWNERS, "k8s/app.yaml": DEPLOY, "src/main.py": "print(1)\n"}
H1 = {**BASE, "k8s/app.yaml": DEPLOY + "  sidecar: proxy:latest\n"}
H2 = {**BASE, "k8s/app.yaml": DEPLOY + "  sidecar: proxy:latest\n  init: setup:latest\n"}


def patch_for(lines: int) -> str:
    return f"@@ -1,3 +1,{lines} @@\n" + "".join(f"+line{i}\n" for i in range(lines))


@pytest.fixture
def github() -> Iterator[MiniGitHub]:
    gh = MiniGitHub(commits={"b1": BASE, "h1": H1, "h2": H2})
    gh.pr_files[3] = [{"filename": "k8s/app.yaml", "status": "modified", "patch": patch_for(6)}]
    with respx.mock(assert_all_called=False) as router:
        gh.install(router)
        yield gh


def make_processor() -> Processor:
    factory = GitHubFactory(make_settings(), clock=lambda: NOW)
    return Processor(
        make_settings(),
        factory,
        catalog=Catalog(rules={}),
        clock=lambda: NOW,
        evaluator=latest_tag_evaluator,
    )


def delivery(event: str, payload: dict[str, Any], id: str = "d1") -> Delivery:
    installation = (payload.get("installation") or {}).get("id")
    repo = (payload.get("repository") or {}).get("full_name")
    body = json.dumps(payload).encode()
    return Delivery(id, event, payload.get("action"), installation, repo, body, NOW)


def process(processor: Processor, event: str, payload: dict[str, Any]) -> int:
    """Process one delivery; the number of GitHub API calls it made."""
    before = processor.github.counter.total
    asyncio.run(processor.process(delivery(event, payload)))
    return processor.github.counter.total - before


def test_warm_synchronize_costs_at_most_six_calls(github: MiniGitHub) -> None:
    # Five to evaluate and publish, plus the `in_progress` post when the job starts.
    processor = make_processor()
    cold = process(processor, "pull_request", pr_payload(3, "h1", "b1", action="opened"))
    start = len(processor.github.counter.calls)
    warm = process(processor, "pull_request", pr_payload(3, "h2", "b1"))
    calls = [
        (m, re.sub(r"/check-runs/\d+$", "/check-runs/{id}", p.removeprefix("/repos/acme/shop")))
        for _, m, p in processor.github.counter.calls[start:]
    ]
    assert warm <= 6, calls
    assert calls[0] == ("POST", "/check-runs")  # in_progress before anything is read
    assert sorted(calls) == sorted(
        [
            ("GET", "/pulls/3/files"),
            ("GET", "/git/trees/h2"),
            ("GET", f"/git/blobs/{_blob(H2['k8s/app.yaml'])}"),
            ("POST", "/check-runs"),
            ("PATCH", "/check-runs/{id}"),
            ("POST", "/pulls/3/reviews"),
        ]
    )
    assert cold > warm
    reviews = github.calls_to("POST", "/pulls/3/reviews")
    assert [[c["line"] for c in r["comments"]] for r in reviews] == [[4], [5]]  # never twice


def _blob(text: str) -> str:
    return blob_sha(text.encode())


def test_installation_token_is_minted_once_for_two_events(github: MiniGitHub) -> None:
    processor = make_processor()
    process(processor, "pull_request", pr_payload(3, "h1", "b1", action="opened"))
    process(processor, "pull_request", pr_payload(3, "h2", "b1"))
    assert github.token_calls == 1


def completions(github: MiniGitHub) -> list[Any]:
    """The bodies of check-run updates (the run created `in_progress`, then completed)."""
    return [b for m, p, b in github.posted if m == "PATCH" and p.startswith("/check-runs/")]


def test_check_run_is_in_progress_first_then_completed_with_the_reports_conclusion(
    github: MiniGitHub,
) -> None:
    process(make_processor(), "pull_request", pr_payload(3, "h1", "b1", action="opened"))
    [created] = github.calls_to("POST", "/check-runs")
    assert (created["name"], created["head_sha"], created["status"]) == (
        "ghapp",
        "h1",
        "in_progress",
    )
    [completed] = completions(github)
    assert (completed["status"], completed["conclusion"]) == ("completed", "failure")


def test_rate_limit_becomes_a_retryable_error_with_its_delay() -> None:
    gh = MiniGitHub(commits={"b1": BASE})
    with respx.mock(assert_all_called=False) as router:
        router.get(url__regex=rf"{API}/repos/acme/shop/git/trees/h1").respond(
            403, headers={"retry-after": "90"}, json={"message": "secondary rate limit"}
        )
        gh.install(router)
        with pytest.raises(RateLimited) as caught:
            process(make_processor(), "pull_request", pr_payload(3, "h1", "b1"))
    assert caught.value.delay == 90.0 and isinstance(caught.value, RetryableError)


def test_commit_that_cannot_be_read_gets_a_failed_run_and_is_not_retried() -> None:
    gh = MiniGitHub()  # every tree is a 404
    with respx.mock(assert_all_called=False) as router:
        gh.install(router)
        process(make_processor(), "pull_request", pr_payload(3, "h1", "b1"))  # no raise
    (_, _, started), (method, _, completed) = gh.posted
    assert started["status"] == "in_progress" and method == "PATCH"
    assert (completed["conclusion"], completed["output"]["title"]) == (
        "neutral",  # no policy could be read: an org-wide install never blocks on its own error
        "Evaluation failed",
    )
    assert "NotFound" in completed["output"]["summary"]


def push_payload(ref: str, after: str = "h1", **extra: Any) -> dict[str, Any]:
    return {
        "ref": ref,
        "before": "b1",
        "after": after,
        "repository": {"full_name": "acme/shop", "default_branch": "main"},
        "installation": {"id": 7},
        "sender": {"login": "alice", "type": "User"},
        **extra,
    }


def test_push_to_default_branch_publishes_a_check_run_without_review(github: MiniGitHub) -> None:
    process(make_processor(), "push", push_payload("refs/heads/main"))
    [created] = github.calls_to("POST", "/check-runs")
    assert created["head_sha"] == "h1"
    [completed] = completions(github)
    assert [a["identifier"] for a in completed["actions"]] == ["recheck", "claim-unowned"]
    assert github.calls_to("POST", "/reviews") == []


@pytest.mark.parametrize(
    "payload",
    [
        push_payload("refs/heads/feature"),
        push_payload("refs/heads/main", deleted=True, after="0" * 40),
        push_payload("refs/tags/v1"),
    ],
    ids=["other-branch", "deleted", "tag"],
)
def test_other_pushes_cost_nothing(github: MiniGitHub, payload: dict[str, Any]) -> None:
    assert process(make_processor(), "push", payload) == 0


def test_edited_pull_request_is_rechecked_only_when_its_base_changed(github: MiniGitHub) -> None:
    processor = make_processor()
    title_edit = pr_payload(3, "h1", "b1", action="edited") | {"changes": {"title": {"from": "x"}}}
    assert process(processor, "pull_request", title_edit) == 0
    base_edit = pr_payload(3, "h1", "b1", action="edited") | {"changes": {"base": {"ref": {}}}}
    assert process(processor, "pull_request", base_edit) > 0


def suite_payload(
    action: str, prs: list[dict[str, Any]], branch: str = "feature"
) -> dict[str, Any]:
    return {
        "action": action,
        "check_suite": {"head_sha": "h1", "head_branch": branch, "pull_requests": prs},
        "repository": {"full_name": "acme/shop", "default_branch": "main"},
        "installation": {"id": 7},
        "sender": {"login": "alice", "type": "User"},
    }


PR_REF = {
    "number": 3,
    "head": {"sha": "h1", "ref": "feature"},
    "base": {"sha": "b1", "ref": "main"},
}


@pytest.mark.parametrize(
    ("payload", "work"),
    [
        (suite_payload("requested", [PR_REF]), False),  # the pull_request delivery does it
        (suite_payload("requested", [], branch="main"), False),  # the push delivery does it
        (suite_payload("requested", []), True),
        (suite_payload("rerequested", [PR_REF]), True),
    ],
    ids=["requested-pr", "requested-default", "requested-branch", "rerequested"],
)
def test_check_suite_rechecks_when_no_other_delivery_will(
    github: MiniGitHub, payload: dict[str, Any], work: bool
) -> None:
    process(make_processor(), "check_suite", payload)
    assert bool(github.calls_to("POST", "/check-runs")) is work


def run_payload(action: str, identifier: str | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "action": action,
        "check_run": {"id": 1, "head_sha": "h1", "pull_requests": [PR_REF]},
        "repository": {"full_name": "acme/shop", "default_branch": "main"},
        "installation": {"id": 7},
        "sender": {"login": "alice", "type": "User"},
    }
    if identifier:
        payload["requested_action"] = {"identifier": identifier}
    return payload


def test_recheck_button_updates_the_pull_request_check(github: MiniGitHub) -> None:
    github.pulls[3] = {**PR_REF, "user": {"login": "bob", "type": "User"}}
    process(make_processor(), "check_run", run_payload("requested_action", "recheck"))
    assert github.calls_to("POST", "/check-runs")  # looked up (none found), then created


def test_request_reviews_button_asks_owners(github: MiniGitHub) -> None:
    process(make_processor(), "check_run", run_payload("requested_action", "request-reviews"))
    assert github.calls_to("POST", "/pulls/3/requested_reviewers") == [
        {"reviewers": [], "team_reviewers": ["web"]}
    ]


def test_other_modules_register_buttons_by_identifier(github: MiniGitHub) -> None:
    processor = make_processor()
    seen: list[str] = []

    async def claim(event: Event) -> None:
        seen.append(event.payload["requested_action"]["identifier"])

    processor.requested_actions["claim-unowned"] = claim
    process(processor, "check_run", run_payload("requested_action", "claim-unowned"))
    process(processor, "check_run", run_payload("requested_action", "no-such-button"))
    assert seen == ["claim-unowned"]


def test_installation_hooks_receive_the_repositories(github: MiniGitHub) -> None:
    processor = make_processor()
    seen: list[tuple[int, list[str]]] = []

    async def hook(installation: int, repos: Any) -> None:
        seen.append((installation, list(repos)))

    processor.services.on_repositories.append(hook)
    payload = {
        "action": "added",
        "installation": {"id": 7},
        "repositories_added": [{"full_name": "acme/shop"}, {"full_name": "acme/api"}],
        "sender": {"login": "alice", "type": "User"},
    }
    assert process(processor, "installation_repositories", payload) == 0
    assert seen == [(7, ["acme/shop", "acme/api"])]


def test_issue_comment_route_is_open_for_commands_and_skips_bots(github: MiniGitHub) -> None:
    processor = make_processor()
    seen: list[str] = []

    async def command(event: Event) -> None:
        seen.append(event.sender["login"])

    processor.router.add("issue_comment", "created", command, skip_bots=True)
    for login, kind in (("alice", "User"), ("ghapp[bot]", "Bot")):
        payload = {"action": "created", "sender": {"login": login, "type": kind}}
        process(processor, "issue_comment", payload)
    assert seen == ["alice"]


def test_memory_sink_dedupes_and_retries_with_backoff() -> None:
    attempts: list[str] = []

    async def flaky(d: Delivery) -> None:
        attempts.append(d.id)
        if len(attempts) == 1:
            raise RetryableError("try again", delay=0.01)

    async def go() -> tuple[bool, bool, list[tuple[str, str]]]:
        sink = MemorySink(flaky, workers=2)
        first = await sink.accept(delivery("push", {}, id="a"))
        again = await sink.accept(delivery("push", {}, id="a"))
        await sink.join()
        await sink.close()
        return first, again, sink.failed

    first, again, failed = asyncio.run(go())
    assert (first, again, failed) == (True, False, [])
    assert attempts == ["a", "a"]


def test_memory_sink_gives_up_after_its_attempts() -> None:
    async def broken(d: Delivery) -> None:
        raise httpx.ConnectError("down")

    async def go() -> list[tuple[str, str]]:
        sink = MemorySink(broken, max_attempts=3, base_delay=0.001)
        await sink.accept(delivery("push", {}, id="z"))
        await sink.join()
        await sink.close()
        return sink.failed

    assert [d for d, _ in asyncio.run(go())] == ["z"]


def crashing_evaluator(*args: Any, **kwargs: Any) -> Any:
    raise RecursionError("maximum recursion depth exceeded while parsing `if:`")


def processor_with(evaluator: Any) -> Processor:
    factory = GitHubFactory(make_settings(), clock=lambda: NOW)
    settings = make_settings()
    return Processor(
        settings, factory, catalog=Catalog(rules={}), clock=lambda: NOW, evaluator=evaluator
    )


@pytest.mark.parametrize(
    ("config", "conclusion"),
    [("version: 1\n", "failure"), ("version: 1\nenforce: false\n", "neutral"), (None, "neutral")],
)
def test_an_evaluation_that_crashes_still_completes_its_run_per_policy(
    config: str | None, conclusion: str
) -> None:
    base = {**BASE, ".github/ghapp.yml": config} if config else BASE
    gh = MiniGitHub(
        commits={"b1": base, "h1": {**H1, **({".github/ghapp.yml": config} if config else {})}}
    )
    gh.pr_files[3] = [{"filename": "k8s/app.yaml", "status": "modified", "patch": patch_for(6)}]
    with respx.mock(assert_all_called=False) as router:
        gh.install(router)
        with pytest.raises(EvaluationFailed):  # still raised: the queue dead-letters it
            process(processor_with(crashing_evaluator), "pull_request", pr_payload(3, "h1", "b1"))
    [completed] = completions(gh)
    assert (completed["status"], completed["conclusion"]) == ("completed", conclusion)
    assert completed["output"]["title"] == "Evaluation failed"
    assert "RecursionError" in completed["output"]["summary"]


def test_a_transient_error_leaves_the_run_in_progress_saying_it_will_retry() -> None:
    gh = MiniGitHub(commits={"b1": BASE, "h1": H1})
    with respx.mock(assert_all_called=False) as router:
        router.get(url__regex=rf"{API}/repos/acme/shop/pulls/3/files").respond(502)
        gh.install(router)
        with pytest.raises(RetryableError):
            process(make_processor(), "pull_request", pr_payload(3, "h1", "b1"))
    [update] = completions(gh)
    assert "status" not in update and update["output"]["title"] == "Evaluating… (retrying)"


def given_up(processor: Processor, event: str, payload: dict[str, Any], reason: str) -> None:
    """What a queue does when it dead-letters the delivery: tell the processor."""
    asyncio.run(processor.give_up(delivery(event, payload), reason))


@pytest.mark.parametrize(("config", "conclusion"), [("version: 1\n", "failure"), (None, "neutral")])
def test_a_run_left_in_progress_by_retries_is_completed_when_the_queue_gives_up(
    config: str | None, conclusion: str
) -> None:
    base = {**BASE, ".github/ghapp.yml": config} if config else BASE
    gh = MiniGitHub(commits={"b1": base, "h1": H1})
    processor = make_processor()  # one memory: the retried job and the give-up share it
    with respx.mock(assert_all_called=False) as router:
        router.get(url__regex=rf"{API}/repos/acme/shop/pulls/3/files").respond(502)
        gh.install(router)
        with pytest.raises(RetryableError):  # the last attempt: the queue dead-letters it
            process(processor, "pull_request", pr_payload(3, "h1", "b1"))
        given_up(processor, "pull_request", pr_payload(3, "h1", "b1"), "gave up after 8 attempts")
    assert len(gh.calls_to("POST", "/check-runs")) == 1  # the in_progress run, completed in place
    *_, completed = completions(gh)
    assert (completed["status"], completed["conclusion"]) == ("completed", conclusion)
    assert completed["output"]["title"] == "Evaluation failed"
    assert "gave up after 8 attempts" in completed["output"]["summary"]


def test_a_given_up_delivery_whose_run_is_completed_already_posts_nothing(
    github: MiniGitHub,
) -> None:
    processor = processor_with(crashing_evaluator)
    with pytest.raises(EvaluationFailed):  # completes the run "Evaluation failed" itself
        process(processor, "pull_request", pr_payload(3, "h1", "b1"))
    posted = len(github.posted)
    given_up(processor, "pull_request", pr_payload(3, "h1", "b1"), "EvaluationFailed: ...")
    assert len(github.posted) == posted


def test_a_given_up_push_without_any_run_gets_one_that_says_the_evaluation_failed(
    github: MiniGitHub,
) -> None:
    given_up(make_processor(), "push", push_payload("refs/heads/main"), "its worker died")
    [created] = github.calls_to("POST", "/check-runs")
    assert (created["head_sha"], created["status"], created["conclusion"]) == (
        "h1",
        "completed",
        "neutral",
    )
    assert created["output"]["title"] == "Evaluation failed"


def test_giving_up_on_a_delivery_that_evaluates_nothing_posts_nothing(github: MiniGitHub) -> None:
    comment = {
        "action": "created",
        "issue": {"number": 3, "pull_request": {}},
        "comment": {"body": "/owners", "user": {"login": "alice"}},
        "repository": {"full_name": "acme/shop", "default_branch": "main"},
        "installation": {"id": 7},
    }
    given_up(make_processor(), "issue_comment", comment, "gave up")
    given_up(make_processor(), "pull_request", {"pull_request": []}, "a payload of no shape")
    assert github.posted == []

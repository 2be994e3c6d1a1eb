"""The dashboard's refresh job through the Processor against a respx GitHub: it evaluates the
default branch's head and stores it, posts nothing, waits when the quota is at the reserve, and
skips a commit a push evaluated after the job was queued."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import respx

from ghapp.app.checkrun import KIND_BRANCH, EvaluationRecord
from ghapp.app.processor import Processor
from ghapp.app.refresh import refresh_delivery
from ghapp.core.catalog import Catalog
from ghapp.github.client import GitHubFactory
from ghapp.github.errors import RetryableError
from ghapp.store.evaluations import StoredEvaluation
from tests.apphelpers import API, MiniGitHub, latest_tag_evaluator, make_settings

NOW = datetime(2024, 5, 1, tzinfo=UTC)
HEAD = {".github/CODEOWNERS": "* @acme/web\n", "k8s/app.yaml": "image: web:latest\n", "a.py": ""}


@dataclass
class Stored:
    """An evaluation store: what was saved, and what `latest` answers."""

    saved: list[EvaluationRecord] = field(default_factory=list)
    known: dict[tuple[str, str], Any] = field(default_factory=dict)

    def save(self, record: EvaluationRecord) -> None:
        self.saved.append(record)

    def latest(self, repository: str, head_sha: str) -> Any:
        return self.known.get((repository, head_sha))


@pytest.fixture
def github() -> Iterator[MiniGitHub]:
    gh = MiniGitHub(commits={"h1": HEAD})
    with respx.mock(assert_all_called=False) as router:
        gh.install(router)
        router.get(f"{API}/repos/acme/shop/git/ref/heads/main").respond(
            json={"ref": "refs/heads/main", "object": {"sha": "h1", "type": "commit"}}
        )
        yield gh


def make_processor(stored: Stored) -> Processor:
    processor = Processor(
        make_settings(),
        GitHubFactory(make_settings(), clock=lambda: NOW),
        catalog=Catalog(rules={}),
        clock=lambda: NOW,
        evaluator=latest_tag_evaluator,
    )
    processor.services.evaluations = stored
    return processor


def refresh(processor: Processor) -> list[str]:
    """Process one refresh job for acme/shop; the paths of the calls it made."""
    job = refresh_delivery(77, {"full_name": "acme/shop", "default_branch": "main"}, "2024-05-01")
    before = processor.github.counter.total
    asyncio.run(processor.process(job))
    return [p for _, _, p in processor.github.counter.calls[before:]]


def test_a_refresh_stores_the_default_branch_evaluation_and_posts_nothing(
    github: MiniGitHub,
) -> None:
    stored = Stored()
    calls = refresh(make_processor(stored))
    (record,) = stored.saved
    assert (record.repository, record.head_sha, record.kind) == ("acme/shop", "h1", KIND_BRANCH)
    assert record.default_branch and record.ref == "main" and record.installation_id == 77
    assert record.report is not None and record.report["findings"][0]["path"] == "k8s/app.yaml"
    assert github.posted == []  # no check run: the dashboard pass must not flood the API
    repo_calls = [p for p in calls if p.startswith("/repos/acme/shop/")]
    assert repo_calls[:2] == [
        "/repos/acme/shop/git/ref/heads/main",
        "/repos/acme/shop/git/trees/h1",
    ]
    assert not [p for p in calls if "/commits" in p]  # no history for owner suggestions
    assert not [p for p in calls if p.endswith("a.py")]


def test_a_refresh_waits_for_the_reset_when_the_quota_is_at_the_reserve(
    github: MiniGitHub,
) -> None:
    processor = make_processor(Stored())
    reset = int(time.time()) + 600
    quota = {"x-ratelimit-remaining": "400", "x-ratelimit-limit": "5000"}
    processor.github.budget.observe(77, {**quota, "x-ratelimit-reset": str(reset)})
    with pytest.raises(RetryableError) as raised:
        refresh(processor)
    assert raised.value.delay is not None and 590 <= raised.value.delay <= 600
    assert processor.github.counter.total == 0


def test_a_commit_evaluated_since_the_job_was_queued_is_not_evaluated_again(
    github: MiniGitHub,
) -> None:
    later = datetime.now(UTC) + timedelta(seconds=5)
    record = EvaluationRecord(
        "acme/shop", "h1", KIND_BRANCH, later, "success", "t", ref="main", default_branch=True
    )
    stored = Stored(known={("acme/shop", "h1"): StoredEvaluation(record)})
    calls = refresh(make_processor(stored))
    assert stored.saved == [] and not [p for p in calls if "/git/trees/" in p]

"""Routing on X-GitHub-Event + action over raw JSON, and every real payload handled without a crash."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import respx

from ghapp.app.delivery import Delivery, PermanentFailure
from ghapp.app.processor import Processor
from ghapp.app.router import Event, Router
from ghapp.app.webhooks import parse_delivery
from ghapp.core.catalog import Catalog
from ghapp.github.client import GitHubFactory
from tests.apphelpers import MiniGitHub, latest_tag_evaluator, make_settings

NOW = datetime(2024, 5, 1, tzinfo=UTC)
# (event, action) pairs the app itself acts on; everything else is ignored.
HANDLED = {
    ("pull_request", "opened"),
    ("pull_request", "synchronize"),
    ("pull_request", "reopened"),
    ("pull_request", "ready_for_review"),
    ("pull_request", "edited"),
    ("push", None),
    ("check_suite", "requested"),
    ("check_suite", "rerequested"),
    ("check_run", "rerequested"),
    ("check_run", "requested_action"),
    ("installation", "created"),
    ("installation_repositories", "added"),
}


def event(name: str, action: str | None, sender: dict[str, Any] | None = None) -> Event:
    payload = {"action": action, "sender": sender or {"login": "a", "type": "User"}}
    delivery = Delivery("d", name, action, None, None, json.dumps(payload).encode(), NOW)
    return Event(delivery, payload)


def test_routes_run_in_registration_order_and_none_matches_any_action() -> None:
    router = Router()
    order: list[str] = []

    def record(tag: str) -> Any:
        async def callback(event: Event) -> None:
            order.append(tag)

        return callback

    router.add("pull_request", None, record("any"))
    router.add("pull_request", "opened", record("opened"))
    router.add("pull_request", "closed", record("closed"))
    router.add("push", None, record("push"))
    assert asyncio.run(router.dispatch(event("pull_request", "opened"))) == 2
    assert order == ["any", "opened"]
    assert router.match(event("issues", "opened")) == []


@pytest.mark.parametrize(
    ("sender", "runs"),
    [
        ({"login": "alice", "type": "User"}, True),
        ({"login": "dependabot[bot]", "type": "Bot"}, False),
        ({"login": "ghapp[bot]"}, False),
    ],
)
def test_skip_bots_ignores_bot_senders(sender: dict[str, Any], runs: bool) -> None:
    router = Router()

    async def callback(event: Event) -> None:
        return None

    router.add("issue_comment", "created", callback, skip_bots=True)
    assert bool(router.match(event("issue_comment", "created", sender))) is runs


def fixture_entries() -> list[dict[str, Any]]:
    index = Path(__file__).resolve().parents[2] / "shared/fixtures/webhooks/index.json"
    if not index.is_file():
        return []
    return list(json.loads(index.read_text())["files"])


@pytest.mark.parametrize("entry", fixture_entries(), ids=lambda e: e["file"])
def test_every_real_payload_routes_without_crashing(
    shared_fixtures: Path, entry: dict[str, Any]
) -> None:
    body = (shared_fixtures / "webhooks" / entry["file"]).read_bytes()
    headers = {"X-GitHub-Event": entry["event"], "X-GitHub-Delivery": "fixture"}
    delivery = parse_delivery(headers, body, NOW)
    factory = GitHubFactory(make_settings(), clock=lambda: NOW)
    processor = Processor(
        make_settings(),
        factory,
        catalog=Catalog(rules={}),
        clock=lambda: NOW,
        evaluator=latest_tag_evaluator,
    )
    routed = processor.router.match(Event(delivery, json.loads(body), processor.services))
    assert bool(routed) is ((entry["event"], entry["action"]) in HANDLED)
    with respx.mock(assert_all_called=False) as router:
        MiniGitHub().install(router)  # no commits: every tree is a 404 (the repository is gone)
        try:  # a repository that is gone is logged and done; nothing is retried
            asyncio.run(processor.process(delivery))
        except PermanentFailure as exc:  # a payload lacking what its handler needs
            assert "payload" in str(exc)


def test_fixture_index_is_present_when_shared_fixtures_are(shared_fixtures: Path) -> None:
    assert len(fixture_entries()) > 50

"""`ghapp serve`'s durable sink and the store's operator commands, end to end on SQLite."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from ghapp.app.delivery import Delivery
from ghapp.cli import main
from ghapp.commands.audit import AuditEntry
from ghapp.store.service import Store, durable_sink
from tests.store.conftest import make_delivery


def test_serve_sink_commits_and_its_in_process_workers_run_the_job(tmp_path: Path) -> None:
    seen: list[str] = []

    class Recorder:
        async def process(self, delivery: Delivery) -> None:
            seen.append(delivery.id)

    store = Store.open(f"sqlite:///{tmp_path / 'ghapp.db'}")
    settings = SimpleNamespace(database_url=None, workers=2)
    sink = durable_sink(settings, Recorder(), store=store)
    try:
        assert asyncio.run(sink.accept(make_delivery("d-1"))) is True
        deadline = time.monotonic() + 10
        while not seen and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        sink.stop_workers()
    assert seen == ["d-1"]
    assert [r.status for r in store.queue.list()] == ["done"]


@pytest.fixture
def dead_letter(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'ghapp.db'}"
    store = Store.open(url, max_attempts=1)
    store.queue.enqueue(make_delivery("d-dead", event="issue_comment", action="created"))
    job = store.queue.claim("w")
    assert job is not None
    store.queue.fail(job, "GitHubError: 502 Bad Gateway")
    return url


def test_deliveries_lists_dead_letters_and_retry_requeues(
    dead_letter: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["deliveries", "--database-url", dead_letter, "list", "--format", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["delivery_id"], row["status"], row["last_error"]) == (
        "d-dead",
        "dead",
        "GitHubError: 502 Bad Gateway",
    )
    assert main(["deliveries", "retry", "d-dead", "--database-url", dead_letter]) == 0
    assert "requeued d-dead" in capsys.readouterr().out
    assert main(["deliveries", "--database-url", dead_letter, "retry", "d-dead"]) == 2
    assert "no dead-lettered delivery" in capsys.readouterr().err


def test_audit_prints_entries_newest_first(
    dead_letter: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import UTC, datetime

    log = Store.open(dead_letter).audit
    log.record(AuditEntry("alice", datetime(2024, 5, 1, tzinfo=UTC), "octo/repo", 7, "owners"))
    log.record(
        AuditEntry(
            "bob",
            datetime(2024, 5, 2, tzinfo=UTC),
            "octo/repo",
            7,
            "waive",
            ("k8s/latest-tag",),
            outcome="refused",
            detail="not a maintainer",
        )
    )
    assert main(["audit", "--database-url", dead_letter, "--repo", "octo/repo"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        "2024-05-02T00:00:00Z  bob  octo/repo#7  /waive k8s/latest-tag  -> refused: not a maintainer",
        "2024-05-01T00:00:00Z  alice  octo/repo#7  /owners  -> accepted",
    ]


def test_an_unreachable_database_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql://postgres@127.0.0.1:1/none"
    assert main(["deliveries", "--database-url", url, "list"]) == 2
    assert capsys.readouterr().err.startswith("ghapp: error: cannot open the database")

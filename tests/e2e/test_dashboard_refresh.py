"""The dashboard's first full pass end to end: `ghapp serve` lists the installation's
repositories, queues a refresh of each one with no stored evaluation, and evaluates each default
branch reading its tree once and only the blobs checks read, posting nothing. A restart does not
start over, and a quota down to the reserve kept for webhooks queues nothing."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ghapp.github.snapshot import wanted_paths
from ghapp.store.db import make_engine
from ghapp.store.evaluations import EvaluationStore
from tests.e2e.conftest import ROOT
from tests.fakegithub import FakeGitHub
from tests.fakegithub.harness import INSTALLATION_ID, AppProcess, wait_for, wait_quiet
from tests.fakegithub.state import Call
from tests.orgrepos import ORG_REPOS, generated_repo

if TYPE_CHECKING:
    from conftest import RunningApp

pytestmark = pytest.mark.e2e


@pytest.fixture
def ghapp_env() -> dict[str, str]:
    # The first pass runs at start; the next full one would come after five minutes.
    return {"RECONCILE_INTERVAL": "300"}


def seed(fake: FakeGitHub) -> dict[str, dict[str, str]]:
    layouts = {**ORG_REPOS, "svc-00002": generated_repo(2)}
    for name, files in layouts.items():
        fake.add_repo("acme", name, INSTALLATION_ID)
        fake.add_commit("acme", name, dict(files), branch="main", message="initial")
    return layouts


def stored(tmp_path: Path) -> dict[str, float]:
    engine = make_engine(f"sqlite:///{tmp_path}/ghapp.db")
    try:
        return EvaluationStore(engine).default_branch_times()
    finally:
        engine.dispose()


def passes(app: AppProcess) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in app.log().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("msg") == "dashboard refresh pass"]


def calls_for(fake: FakeGitHub, repo: str) -> list[Call]:
    return [c for c in fake.calls if c.path.startswith(f"/repos/acme/{repo}/")]


def restart(ghapp: RunningApp, tmp_path: Path) -> AppProcess:
    """Another `ghapp serve` on the same database (the fixture's is stopped first)."""
    ghapp.process.stop()
    log = tmp_path / f"ghapp-{uuid.uuid4().hex[:6]}.log"
    return AppProcess(ROOT, ghapp.process.env, log).start()


def test_the_first_pass_reads_each_tree_once_and_a_restart_does_not_start_over(
    ghapp: RunningApp, tmp_path: Path
) -> None:
    fake = ghapp.fake
    ghapp.process.stop()  # seeded while it is stopped: the first pass sees every repository
    layouts = seed(fake)
    first = restart(ghapp, tmp_path)
    try:
        wait_for(lambda: len(stored(tmp_path)) == len(layouts), 60, 0.2, "every repository")
        wait_quiet(fake)
    finally:
        first.stop()
    for name, files in layouts.items():
        calls = calls_for(fake, name)
        trees = [c for c in calls if "/git/trees/" in c.path]
        refs = [c for c in calls if "/git/ref/" in c.path]
        assert len(trees) == 1 and len(refs) == 1, name
        assert all(c.method == "GET" for c in calls), name  # no check run, nothing posted
        blobs = {c.path.rsplit("/", 1)[1] for c in calls if "/git/blobs/" in c.path}
        readable = set(wanted_paths(files))
        commit = fake.commits[fake.repos[f"acme/{name}"].branches["main"]]
        assert blobs <= {commit.files[p] for p in readable}, name  # only what checks read
    engine = make_engine(f"sqlite:///{tmp_path}/ghapp.db")
    entries = EvaluationStore(engine).compliance.entries("acme")
    engine.dispose()
    assert {e.repository for e in entries} == {f"acme/{n}" for n in layouts}
    assert not fake.check_runs and fake.schema_violations == []

    before = len(fake.calls)
    app = restart(ghapp, tmp_path)
    try:
        wait_for(lambda: passes(app), 30, 0.2, "the refresh pass after the restart")
        wait_quiet(fake)
        assert passes(app)[0]["stale"] == 0 and passes(app)[0]["queued"] == 0
        assert not [c for c in fake.calls[before:] if "/git/" in c.path]
    finally:
        app.stop()


def test_a_quota_at_the_reserve_queues_nothing(ghapp: RunningApp, tmp_path: Path) -> None:
    fake = ghapp.fake
    ghapp.process.stop()  # seeded while it is stopped: the first pass is the throttled one
    seed(fake)
    with fake.lock:  # the installation spent 4,200 of its 5,000 calls this hour already
        fake.calls.extend(Call("GET", "/spent", "", 200, INSTALLATION_ID) for _ in range(4200))
    app = restart(ghapp, tmp_path)
    try:
        wait_for(lambda: passes(app), 30, 0.2, "the refresh pass")
        wait_quiet(fake)
        report = passes(app)[0]
        assert report["stale"] == 4 and report["queued"] == 0 and report["throttled"] is True
        assert not [c for c in fake.calls if "/git/" in c.path]
        assert stored(tmp_path) == {}
    finally:
        app.stop()

"""Hostile input through a real `ghapp serve` against the fake GitHub (issue 11, items 1-6, 9,
10): the server keeps answering, the attacked pull request gets its one completed check run with
the findings its hostile files carry (or, when its evaluation cannot finish, a dead letter and a
completed run saying the evaluation failed), and nothing else is lost meanwhile.

Each test runs its own `ghapp serve` (sometimes with options, or twice on one database) against
a fake GitHub that can hold chosen requests back (tests/fakegithub/delays.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ghapp.store.db import make_engine
from ghapp.store.queue import Queue
from tests.e2e.conftest import ROOT, seed_scenario
from tests.fakegithub import FakeGitHub, PullRequest, create_fake_app
from tests.fakegithub.delays import Delays, with_delays
from tests.fakegithub.harness import (
    APP_ID,
    INSTALLATION_ID,
    LOOPBACK,
    WEBHOOK_SECRET,
    AppProcess,
    ServerThread,
    completed_check_run,
    free_port,
    pull_request_event,
    send_webhook,
    wait_for,
)
from tests.hostile import (
    DEEP_IF_WORKFLOW,
    PRIVILEGED_DEPLOYMENT,
    alias_bomb_component,
    pull_adding,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
HEALTHZ_BOUND = 2.0  # seconds; a frozen loop answered after the whole evaluation (9 s and more)
ACK_BOUND = 3.0


@dataclass
class Served:
    """The fake GitHub (with delays) and how to start `ghapp serve` against it."""

    fake: FakeGitHub
    delays: Delays
    fake_url: str
    tmp: Path
    key_path: Path
    database_url: str

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "APP_ID": str(APP_ID),
            "PRIVATE_KEY_PATH": str(self.key_path),
            "WEBHOOK_SECRET": WEBHOOK_SECRET,
            "GITHUB_API_URL": self.fake_url,
            "HOST": LOOPBACK,
            "PORT": str(free_port()),
            "APP_SLUG": "ghapp",
            "RECONCILE_INTERVAL": "0",
            "DATABASE_URL": self.database_url,
            "LOG_LEVEL": "INFO",
            **extra,
        }

    def start(self, *args: str, env: dict[str, str] | None = None) -> AppProcess:
        log = self.tmp / f"ghapp-{uuid.uuid4().hex[:6]}.log"
        return AppProcess(ROOT, env or self.env(), log, args).start(timeout=30)

    def pull(self, app: AppProcess, pr: PullRequest, delivery_id: str | None = None) -> Any:
        payload = pull_request_event(self.fake, self.fake_url, pr, "opened")
        return self.send(app, "pull_request", payload, delivery_id)

    def send(
        self, app: AppProcess, event: str, payload: Any, delivery_id: str | None = None
    ) -> httpx.Response:
        return send_webhook(f"{app.url}/webhooks", WEBHOOK_SECRET, event, payload, delivery_id)

    def delivery(self, app: AppProcess, delivery_id: str) -> dict[str, Any] | None:
        """The delivery's row as `ghapp deliveries list` shows it, read from the app's database."""
        return next((r for r in self.rows(app) if r["delivery_id"] == delivery_id), None)

    def rows(self, app: AppProcess) -> list[dict[str, Any]]:
        """Every delivery row of the app's database, as `ghapp deliveries list` shows them."""
        engine = make_engine(app.env["DATABASE_URL"])
        try:
            return [vars(r) for r in Queue(engine).list(limit=1000)]
        finally:
            engine.dispose()

    def finished(self, app: AppProcess, delivery_id: str, timeout: float = 60) -> dict[str, Any]:
        """The delivery's row once its job is over (done or dead)."""
        return wait_for(
            lambda: (
                (d := self.delivery(app, delivery_id)) and d["status"] in ("done", "dead") and d
            ),
            timeout,
            0.2,
            f"delivery {delivery_id} to finish",
        )

    def only_run(self, pr: PullRequest, timeout: float = 60) -> dict[str, Any]:
        """The PR head's ghapp check run, once completed; there must be exactly one."""
        run = wait_for(
            lambda: completed_check_run(self.fake, pr.head_sha), timeout, 0.2, "a completed run"
        )
        assert len(self.fake.check_runs_for(pr.head_sha, "ghapp")) == 1
        return dict(run)


@pytest.fixture
def served(fake: FakeGitHub, app_key: tuple[str, str], tmp_path: Path) -> Iterator[Served]:
    delays = Delays()
    with ServerThread(with_delays(create_fake_app(fake), delays)) as server:
        key_path = tmp_path / "app.pem"
        key_path.write_text(app_key[0])
        yield Served(fake, delays, server.url, tmp_path, key_path, f"sqlite:///{tmp_path}/g.db")


BACKTRACKING = {
    ".github/workflows/x.yml": (
        "on:\n  pull_request:\n    paths: ['" + "*a" * 8 + "*b']\n"
        "jobs:\n  sast:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: github/codeql-action/analyze@v3\n"
    ),
    "a" * 50: "x",
}


def healthz_latencies(app: AppProcess, seconds: float) -> list[float]:
    latencies = []
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        started = time.monotonic()
        try:
            httpx.get(f"{app.url}/healthz", timeout=30)
        except httpx.TransportError:
            latencies.append(30.0)
        else:
            latencies.append(time.monotonic() - started)
        time.sleep(0.1)
    return latencies


def findings(run: dict[str, Any]) -> set[tuple[str, str]]:
    """(path, rule) of each annotation on a check run."""
    return {(str(a["path"]), str(a["title"])) for a in run["annotations"]}


def paths_with_findings(run: dict[str, Any]) -> set[str]:
    return {path for path, _ in findings(run)}


def evaluated(served: Served, app: AppProcess, pr: PullRequest, delivery_id: str) -> Any:
    """The PR's one completed run, from a job that finished at its first attempt (no dead letter,
    no retry): the evaluation itself coped with the hostile input."""
    record = served.finished(app, delivery_id, timeout=90)
    assert (record["status"], record["attempts"]) == ("done", 1), record
    run = served.only_run(pr)
    assert run["output"]["title"] != "Evaluation failed", run["output"]
    return run


def test_the_server_answers_while_a_hostile_pull_request_is_evaluated(served: Served) -> None:
    hostile = pull_adding(served.fake, "hostile", BACKTRACKING)
    normal = seed_scenario(served.fake).pr
    app = served.start()
    try:
        assert served.pull(app, hostile, "hostile-1").status_code == 202
        time.sleep(0.5)  # its evaluation is under way
        acked: list[float] = []
        sender = threading.Thread(
            target=lambda: acked.append(_timed(lambda: served.pull(app, normal, "normal-1")))
        )
        sender.start()
        latencies = healthz_latencies(app, 4.0)
        sender.join()
        assert max(latencies) < HEALTHZ_BOUND, latencies
        assert acked and acked[0] < ACK_BOUND
        wait_for(lambda: completed_check_run(served.fake, normal.head_sha), 60, what="normal run")
        run = evaluated(served, app, hostile, "hostile-1")
        # the workflow whose filter backtracks was read and checked like any other
        assert ".github/workflows/x.yml" in paths_with_findings(run)
        assert run["conclusion"] == "success"  # warnings only: nothing in it blocks
    finally:
        app.stop()


def _timed(call: Any) -> float:
    started = time.monotonic()
    call()
    return time.monotonic() - started


def test_an_evaluation_over_its_budget_is_dead_lettered_and_its_run_says_it_failed(
    served: Served,
) -> None:
    normal = seed_scenario(served.fake).pr  # acme/shop's policy is configured: it enforces
    # No evaluation fits in a millisecond: this one must be stopped, whatever its input.
    app = served.start("--evaluation-timeout", "0.001")
    try:
        assert served.pull(app, normal, "over-budget").status_code == 202
        record = served.finished(app, "over-budget")
        assert (record["status"], record["attempts"]) == ("dead", 1)
        assert "longer than its 0.001 s budget" in record["last_error"]
        run = served.only_run(normal)
        assert (run["conclusion"], run["output"]["title"]) == ("failure", "Evaluation failed")
        assert "longer than its 0.001 s budget" in run["output"]["summary"]
        assert httpx.get(f"{app.url}/healthz", timeout=5).status_code == 200
        assert "Traceback" not in app.log()
    finally:
        app.stop()


def test_a_body_nested_too_deeply_is_a_400_and_the_next_delivery_is_processed(
    served: Served,
) -> None:
    normal = seed_scenario(served.fake).pr
    app = served.start()
    try:
        depth = 100_000
        body = b'{"action": "opened", "x": ' + b"[" * depth + b"]" * depth + b"}"
        answer = served.send(app, "pull_request", body)
        assert answer.status_code == 400
        assert answer.json() == {"error": "body is nested too deeply to decode"}
        assert served.pull(app, normal).status_code == 202
        wait_for(lambda: completed_check_run(served.fake, normal.head_sha), 60, what="check run")
        assert "Traceback" not in app.log()
    finally:
        app.stop()


def test_a_payload_of_the_wrong_shape_is_dead_lettered_once(served: Served) -> None:
    normal = seed_scenario(served.fake).pr
    app = served.start()
    try:
        shape = {
            "action": "opened",
            "pull_request": [],
            "repository": {"full_name": "acme/shop"},
            "installation": {"id": INSTALLATION_ID},
        }
        assert served.send(app, "pull_request", shape, "shape-1").status_code == 202
        assert served.pull(app, normal).status_code == 202
        wait_for(lambda: completed_check_run(served.fake, normal.head_sha), 60, what="check run")
        record = wait_for(
            lambda: (d := served.delivery(app, "shape-1")) and d["status"] == "dead" and d,
            timeout=30,
            interval=0.5,
            what="the dead letter",
        )
        assert record["attempts"] == 1
        assert "expected shape" in record["last_error"]
    finally:
        app.stop()


def test_a_job_killed_with_the_server_completes_within_15_s_of_the_restart(
    served: Served,
) -> None:
    pr = seed_scenario(served.fake).pr
    env = served.env()
    first = served.start(env=env)
    served.delays.hold_next("GET", r"/git/trees/", 600.0)  # the job waits on GitHub
    assert served.pull(first, pr, "crash-1").status_code == 202
    wait_for(served.delays.held.is_set, 30, what="the job to reach GitHub")
    first.kill()
    restarted = time.monotonic()
    second = served.start(env=env)
    try:
        wait_for(lambda: completed_check_run(served.fake, pr.head_sha), 30, 0.1, "check run")
        assert time.monotonic() - restarted < 15
        time.sleep(1.0)  # a second run, if one were coming
        assert len(served.fake.check_runs_for(pr.head_sha, "ghapp")) == 1
        record = served.delivery(second, "crash-1")
        assert record is not None and (record["status"], record["attempts"]) == ("done", 2)
    finally:
        second.stop()


POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def pg_database_url() -> Iterator[str]:
    psycopg = pytest.importorskip("psycopg")
    schema = f"ghapp_e2e_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(POSTGRES, autocommit=True, connect_timeout=2) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.Error:
        pytest.skip("PostgreSQL not reachable at 127.0.0.1:5432 (database test, trust auth)")
    try:
        yield f"{POSTGRES}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.mark.postgres
def test_deliveries_postgresql_cannot_hold_are_stored_safely_or_refused_never_503(
    served: Served, pg_database_url: str
) -> None:
    normal = seed_scenario(served.fake).pr
    app = served.start(env=served.env(DATABASE_URL=pg_database_url))
    cases = {
        "x" * 300: {"repository": {"full_name": "acme/shop"}},
        "nul-repository": {"repository": {"full_name": "acme/sh\u0000op"}},
        "huge-installation": {"installation": {"id": 2**70}},
        "nul-action": {"action": "op\u0000ened", "repository": {"full_name": "acme/shop"}},
    }
    answers: dict[str, list[int]] = {}
    try:
        for delivery_id, payload in cases.items():
            body = json.dumps({"action": "created", **payload}).encode()
            # GitHub's redelivery: a duplicate of what was stored, or the same refusal
            answers[delivery_id] = [
                served.send(app, "issues", body, delivery_id).status_code for _ in range(2)
            ]
        assert served.pull(app, normal, "normal-1").status_code == 202
        evaluated(served, app, normal, "normal-1")
        stored = [r for r in served.rows(app) if r["event"] == "issues"]
    finally:
        app.stop()
    for delivery_id, codes in answers.items():
        refused = 400 <= codes[0] < 500 and codes[1] == codes[0]
        assert codes == [202, 200] or refused, (delivery_id[:20], codes)
    assert len(stored) == sum(codes == [202, 200] for codes in answers.values())
    assert "Traceback" not in app.log()


def test_one_bad_yaml_value_never_drops_the_pull_request(served: Served) -> None:
    files: dict[str, str | bytes | None] = {
        # an invalid date, unquoted
        "k8s/bad.yaml": PRIVILEGED_DEPLOYMENT.format(name="2026-02-30"),
        "k8s/deploy.yaml": PRIVILEGED_DEPLOYMENT.format(name="api"),
    }
    pr = pull_adding(served.fake, "baddate", files)
    app = served.start()
    try:
        assert served.pull(app, pr, "baddate-1").status_code == 202
        run = evaluated(served, app, pr, "baddate-1")
        assert run["conclusion"] == "failure"
        assert ("k8s/deploy.yaml", "k8s/privileged") in findings(run)  # the other file: checked
        assert "k8s/bad.yaml" in paths_with_findings(run)  # the bad value: a finding on its file
        assert httpx.get(f"{app.url}/healthz", timeout=5).status_code == 200
        assert "Traceback" not in app.log()
    finally:
        app.stop()


def test_an_alias_bomb_is_bounded_and_the_server_keeps_answering(served: Served) -> None:
    pr = pull_adding(served.fake, "bomb", {"svc/catalog-info.yaml": alias_bomb_component()})
    app = served.start("--evaluation-timeout", "10", "--evaluation-memory", "1024")
    try:
        assert served.pull(app, pr, "bomb-1").status_code == 202
        assert max(healthz_latencies(app, 3.0)) < HEALTHZ_BOUND
        run = evaluated(served, app, pr, "bomb-1")  # within the 10 s and 1 GiB budgets
        assert "svc/catalog-info.yaml" in paths_with_findings(run)
        assert httpx.get(f"{app.url}/healthz", timeout=5).status_code == 200
    finally:
        app.stop()


def test_a_dangerous_workflow_padded_past_the_prefetch_limit_blocks(served: Served) -> None:
    dangerous = (
        "on: pull_request_target\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n        with:\n"
        "          ref: ${{ github.event.pull_request.head.sha }}\n"
        "      - run: make\n"
    )
    padded = "# padding\n" * 350_000 + dangerous  # 3.5 MB: over the prefetch limit
    pr = pull_adding(served.fake, "padded", {".github/workflows/ci.yml": padded})
    app = served.start()
    try:
        assert served.pull(app, pr, "padded-1").status_code == 202
        run = evaluated(served, app, pr, "padded-1")
        assert run["conclusion"] == "failure"
        # fetched by the evaluation process, then over the YAML budget: a blocking finding where
        # its content would have been checked, never a pass (item 2)
        assert findings(run) == {(".github/workflows/ci.yml", "workflow/unreadable")}
        assert "Traceback" not in app.log()
    finally:
        app.stop()


def test_a_manifest_owner_never_becomes_a_live_mention_in_review_comments(
    served: Served,
) -> None:
    from tests.test_escape import assert_inert

    served.fake.add_repo("acme", "mention", INSTALLATION_ID)
    base = served.fake.add_commit(
        "acme",
        "mention",
        {
            ".github/CODEOWNERS": "* @acme/platform\n",
            ".github/ghapp.yml": "version: 1\npublish:\n  review_comments: true\n",
        },
        branch="main",
    )
    manifest = (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: x\n"
        'spec:\n  owner: "@victim-user"\n'
    )
    served.fake.add_commit(
        "acme",
        "mention",
        {
            "svc/catalog-info.yaml": manifest,
            "svc/k8s/deploy.yaml": PRIVILEGED_DEPLOYMENT.format(name="x@victim`<img src=x>"),
        },
        parent=base,
        branch="evil",
    )
    pr = served.fake.open_pull("acme", "mention", "evil", title="hostile")
    app = served.start()
    try:
        assert served.pull(app, pr, "mention-1").status_code == 202
        run = evaluated(served, app, pr, "mention-1")
        assert "svc/k8s/deploy.yaml" in paths_with_findings(run)
        assert_inert(run["output"]["summary"])
        wait_for(lambda: served.fake.review_comments, 30, what="review comments")
        for comment in served.fake.review_comments:
            assert_inert(comment["body"])
    finally:
        app.stop()


def test_an_if_nested_400_deep_is_read_and_the_pull_request_gets_its_findings(
    served: Served,
) -> None:
    pr = pull_adding(served.fake, "deepif", {".github/workflows/x.yml": DEEP_IF_WORKFLOW})
    app = served.start()
    try:
        assert served.pull(app, pr, "deepif-1").status_code == 202
        run = evaluated(served, app, pr, "deepif-1")  # no RecursionError, no retries
        assert run["conclusion"] == "failure"
        assert (".github/workflows/x.yml", "workflow/untrusted-checkout") in findings(run)
        assert "Traceback" not in app.log()
    finally:
        app.stop()


def test_a_pull_request_github_keeps_failing_for_gets_a_run_saying_so_after_the_last_retry(
    served: Served,
) -> None:
    pr = pull_adding(
        served.fake, "flaky", {"k8s/deploy.yaml": PRIVILEGED_DEPLOYMENT.format(name="api")}
    )
    # Every attempt (8) is refused with a short Retry-After: the queue gives up on the job.
    served.fake.fail_next(
        "GET", r"/repos/acme/flaky/pulls/\d+/files", 429, times=8, headers={"Retry-After": "1"}
    )
    app = served.start()
    try:
        assert served.pull(app, pr, "flaky-1").status_code == 202
        record = served.finished(app, "flaky-1", timeout=90)
        assert (record["status"], record["attempts"]) == ("dead", 8)
        run = served.only_run(pr, timeout=30)  # the in_progress run, completed in place
        assert (run["conclusion"], run["output"]["title"]) == ("failure", "Evaluation failed")
        assert "gave up after 8 attempts" in run["output"]["summary"]
    finally:
        app.stop()


def test_a_run_a_dead_job_left_in_progress_is_completed_after_ghapp_reconcile(
    served: Served,
) -> None:
    pr = pull_adding(
        served.fake, "stale", {"k8s/deploy.yaml": PRIVILEGED_DEPLOYMENT.format(name="api")}
    )
    with served.fake.lock:  # what a job that died unheard left behind an hour ago
        served.fake.check_runs.append(
            {
                "id": served.fake.next_id(),
                "repo": "acme/stale",
                "name": "ghapp",
                "head_sha": pr.head_sha,
                "status": "in_progress",
                "conclusion": None,
                "started_at": "2026-01-01T00:00:00Z",
                "completed_at": None,
                "details_url": None,
                "external_id": "",
                "output": {"title": "Evaluating…"},
                "annotations": [],
                "actions": [],
                "updates": 0,
            }
        )
    app = served.start()
    try:
        command = [sys.executable, "-m", "ghapp", "reconcile", "--no-redeliver"]
        done = subprocess.run(command, env=app.env, cwd=ROOT, capture_output=True, text=True)
        delivery_id = f"reconcile-stale:acme/stale#{pr.number}@{pr.head_sha}"
        assert json.loads(done.stdout)["queued"] == [delivery_id], done.stderr
        run = evaluated(served, app, pr, delivery_id)  # the same run, completed in place
        assert run["conclusion"] == "failure"
        assert ("k8s/deploy.yaml", "k8s/privileged") in findings(run)
    finally:
        app.stop()

"""Hostile input against a real `ghapp serve`: what it costs the server, measured per attack.

The fake GitHub (tests.fakegithub) runs in this process on loopback; `ghapp serve` runs as a
subprocess from `--app-root` (default: this checkout). Give `--app-root` more than once (e.g. an
export of an older commit: `git archive 205eb7e | tar -x -C /tmp/old`) to run every scenario
against each checkout in turn, in the same run conditions, printed one line per checkout.
Scenarios:

  freeze    a PR whose workflow `paths:` filter backtracks (`*a` x STARS then `*b`) against a
            changed file named `a` x LENGTH: /healthz latency while it is evaluated, the
            acknowledgement time of a normal delivery sent meanwhile, and when that normal PR
            gets its check run
  hangups   500 clients that send half a body and hang up: log bytes and lines they cost
  slowloris one client sending its declared body a byte at a time: when the server answers
  nested    a signed body nested 100,000 deep: the status code and log lines
  shape     a signed pull_request delivery whose `pull_request` is a list: attempts and status
  postgres  signed deliveries with an over-long id, a NUL byte, an installation id over 2**63,
            on PostgreSQL (127.0.0.1:5432, database `test`): status codes
  kill9     kill -9 of `ghapp serve` while a job waits on GitHub, then a restart on the same
            database: seconds from the restart to the completed check run, and how many runs
  baddate   a PR adding a manifest whose name is an invalid date and a privileged Deployment:
            the job's end (status/attempts, seconds), the PR's check runs and their findings
  bomb      a PR adding a 0.6 KB catalog-info.yaml alias bomb: the same
  deepif    a PR adding a dangerous workflow with an `if:` nested 400 parentheses deep: the same
  budget    a normal PR under `--evaluation-timeout 0.001`: the same (a checkout without the
            option says so)
  flaky     a PR whose changed-files request GitHub refuses 8 times (429, Retry-After: 1):
            the same, after the queue's last attempt

Usage: .venv/bin/python benchmarks/hostile_serve.py [SCENARIO ...] [--app-root DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.e2e.conftest import seed_scenario  # noqa: E402
from tests.fakegithub import FakeGitHub, PullRequest, SchemaBook, create_fake_app  # noqa: E402
from tests.fakegithub.delays import Delays, with_delays  # noqa: E402
from tests.fakegithub.harness import (  # noqa: E402
    APP_ID,
    INSTALLATION_ID,
    LOOPBACK,
    WEBHOOK_SECRET,
    AppProcess,
    ServerThread,
    completed_check_run,
    free_port,
    generate_app_key,
    pull_request_event,
    send_webhook,
    wait_for,
)
from tests.hostile import (  # noqa: E402
    DEEP_IF_WORKFLOW,
    PRIVILEGED_DEPLOYMENT,
    alias_bomb_component,
    pull_adding,
)

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
SCENARIOS = (
    "freeze",
    "hangups",
    "slowloris",
    "nested",
    "shape",
    "postgres",
    "kill9",
    "baddate",
    "bomb",
    "deepif",
    "budget",
    "flaky",
)


class Bench:
    """One fake GitHub and the means to run `ghapp serve` against it."""

    def __init__(self, app_root: Path, workdir: Path) -> None:
        self.app_root, self.workdir = app_root, workdir
        self.fake = FakeGitHub(SchemaBook.empty(), app_id=APP_ID)
        self.key = generate_app_key()
        self.fake.register_app(self.key[1])
        self.fake.add_installation(INSTALLATION_ID, "acme")
        self.delays = Delays()
        self.server = ServerThread(with_delays(create_fake_app(self.fake), self.delays)).start()
        (workdir / "app.pem").write_text(self.key[0])

    def env(self, database_url: str | None = None, port: int | None = None) -> dict[str, str]:
        return {
            "APP_ID": str(APP_ID),
            "PRIVATE_KEY_PATH": str(self.workdir / "app.pem"),
            "WEBHOOK_SECRET": WEBHOOK_SECRET,
            "GITHUB_API_URL": self.server.url,
            "HOST": LOOPBACK,
            "PORT": str(port or free_port()),
            "APP_SLUG": "ghapp",
            "RECONCILE_INTERVAL": "0",
            "DATABASE_URL": database_url or f"sqlite:///{self.workdir}/{uuid.uuid4().hex}.db",
            "LOG_LEVEL": "INFO",
        }

    @contextlib.contextmanager
    def serve(self, env: dict[str, str] | None = None, *args: str) -> Iterator[AppProcess]:
        log = self.workdir / f"serve-{uuid.uuid4().hex[:6]}.log"
        process = AppProcess(self.app_root, env or self.env(), log, args).start(timeout=30)
        try:
            yield process
        finally:
            process.stop()

    def pull(
        self,
        app: AppProcess,
        pr: PullRequest,
        action: str = "opened",
        delivery_id: str | None = None,
    ) -> httpx.Response:
        payload = pull_request_event(self.fake, self.server.url, pr, action)
        url = f"{app.url}/webhooks"
        return send_webhook(url, WEBHOOK_SECRET, "pull_request", payload, delivery_id)


def hostile_pull(fake: FakeGitHub, stars: int, length: int) -> PullRequest:
    """acme/hostile: a PR adding a backtracking `paths:` filter and a file it cannot match."""
    fake.add_repo("acme", "hostile", INSTALLATION_ID)
    base = fake.add_commit("acme", "hostile", {"README.md": "hi\n"}, branch="main")
    workflow = (
        "on:\n  pull_request:\n    paths: ['" + "*a" * stars + "*b']\n"
        "jobs:\n  sast:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: github/codeql-action/analyze@v3\n"
    )
    files: dict[str, str | bytes | None] = {".github/workflows/x.yml": workflow, "a" * length: "x"}
    fake.add_commit("acme", "hostile", files, parent=base, branch="evil")
    return fake.open_pull("acme", "hostile", "evil", title="hostile")


def timed_get(url: str, timeout: float) -> float:
    started = time.perf_counter()
    try:
        httpx.get(url, timeout=timeout)
    except httpx.TransportError:
        return timeout
    return time.perf_counter() - started


def freeze(bench: Bench, args: argparse.Namespace) -> dict[str, Any]:
    hostile = hostile_pull(bench.fake, args.stars, args.length)
    normal = seed_scenario(bench.fake).pr
    with bench.serve() as app:
        latencies: list[float] = []
        started = time.perf_counter()
        bench.pull(app, hostile)
        time.sleep(0.5)  # the hostile evaluation is under way
        ack: list[Any] = []

        def send_normal() -> None:
            began = time.perf_counter()
            try:
                bench.pull(app, normal)
            except httpx.TransportError as exc:
                ack.append(f"failed after {time.perf_counter() - began:.1f}s: {exc!r}")
                return
            ack.append(round(time.perf_counter() - began, 3))

        sender = threading.Thread(target=send_normal)
        sender.start()
        normal_after: Any = None
        while time.perf_counter() - started < args.watch:
            latencies.append(timed_get(f"{app.url}/healthz", 10.0))
            if normal_after is None and completed_check_run(bench.fake, normal.head_sha):
                normal_after = round(time.perf_counter() - started, 1)
            time.sleep(0.1)
        sender.join()
        with contextlib.suppress(TimeoutError):
            wait_for(
                lambda: (
                    completed_check_run(bench.fake, normal.head_sha)
                    and completed_check_run(bench.fake, hostile.head_sha)
                ),
                timeout=120,
                what="both check runs",
            )
        if normal_after is None and completed_check_run(bench.fake, normal.head_sha):
            normal_after = f"after the hostile one ({time.perf_counter() - started:.1f})"
        hostile_runs = bench.fake.check_runs_for(hostile.head_sha, "ghapp")
        return {
            "healthz_p50_s": round(statistics.median(latencies), 3),
            "healthz_max_s": round(max(latencies), 3),
            "healthz_samples": len(latencies),
            "normal_ack_s": ack[0],
            "normal_check_run_after_s": normal_after or "none within 120 s",
            "hostile_check_runs": [(r["status"], r.get("conclusion")) for r in hostile_runs],
        }


def raw_post(port: int, body_length: int, headers: dict[str, str] | None = None) -> socket.socket:
    sock = socket.create_connection((LOOPBACK, port), timeout=5)
    lines = [
        "POST /webhooks HTTP/1.1",
        f"Host: {LOOPBACK}:{port}",
        "Content-Type: application/json",
        f"Content-Length: {body_length}",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return sock


def log_size(app: AppProcess) -> tuple[int, int]:
    text = app.log()
    return len(text.encode()), text.count("\n")


def hangups(bench: Bench, args: argparse.Namespace) -> dict[str, Any]:
    with bench.serve() as app:
        time.sleep(0.5)
        size0, lines0 = log_size(app)
        for _ in range(args.hangups):
            sock = raw_post(app.port, 5000, {"X-GitHub-Event": "push", "X-GitHub-Delivery": "x"})
            sock.sendall(b'{"half": "a body')
            sock.close()
        time.sleep(2.0)
        size1, lines1 = log_size(app)
        alive = timed_get(f"{app.url}/healthz", 5.0) < 5.0
    return {
        "hangups": args.hangups,
        "log_bytes": size1 - size0,
        "log_lines": lines1 - lines0,
        "alive": alive,
    }


def slowloris(bench: Bench, args: argparse.Namespace) -> dict[str, Any]:
    with bench.serve() as app:
        sock = raw_post(app.port, 1000)
        started = time.perf_counter()
        sock.settimeout(1.0)
        answer = b""
        while time.perf_counter() - started < args.loris_cap:
            try:
                sock.sendall(b" ")
                chunk = sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break
            answer += chunk
            break  # the server answered: it let go of the body
        held = time.perf_counter() - started
        sock.close()
    status = (
        answer.split(b"\r\n", 1)[0].decode(errors="replace") if answer else "(closed, no answer)"
    )
    return {"held_s": round(held, 1), "cap_s": args.loris_cap, "answer": status}


def nested(bench: Bench, args: argparse.Namespace) -> dict[str, Any]:
    depth = 100_000
    body = b'{"action": "opened", "x": ' + b"[" * depth + b"]" * depth + b"}"
    with bench.serve() as app:
        _, lines0 = log_size(app)
        answer = send_webhook(f"{app.url}/webhooks", WEBHOOK_SECRET, "pull_request", body)
        time.sleep(1.0)
        _, lines1 = log_size(app)
    return {"status": answer.status_code, "body": answer.text[:120], "log_lines": lines1 - lines0}


def deliveries(env: dict[str, str]) -> list[dict[str, Any]]:
    command = [sys.executable, "-m", "ghapp", "deliveries", "list", "--status", "all"]
    out = subprocess.run(
        [*command, "--format", "json"],
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return list(json.loads(out.stdout))


def shape(bench: Bench, args: argparse.Namespace) -> dict[str, Any]:
    bench.fake.add_repo("acme", "shape", INSTALLATION_ID)
    env = bench.env()
    payload = {
        "action": "opened",
        "pull_request": [],
        "repository": {"full_name": "acme/shape"},
        "installation": {"id": INSTALLATION_ID},
    }
    with bench.serve(env) as app:
        answer = send_webhook(
            f"{app.url}/webhooks", WEBHOOK_SECRET, "pull_request", payload, "shape-1"
        )
        time.sleep(args.shape_watch)
        rows = [r for r in deliveries(env) if r["delivery_id"] == "shape-1"]
    row = rows[0] if rows else {}
    return {
        "ack": answer.status_code,
        "after_s": args.shape_watch,
        "status": row.get("status"),
        "attempts": row.get("attempts"),
        "last_error": (row.get("last_error") or "")[:100],
    }


def postgres(bench: Bench, args: argparse.Namespace) -> dict[str, Any]:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    try:
        import psycopg

        with psycopg.connect(
            POSTGRES.replace("postgresql://", "postgresql://"), autocommit=True
        ) as c:
            c.execute(f"CREATE SCHEMA {schema}")
    except Exception as exc:
        return {"skipped": f"PostgreSQL unreachable: {exc}"}
    url = f"{POSTGRES}?options=-csearch_path%3D{schema}"
    cases = {
        "long_id": ("x" * 300, {"repository": {"full_name": "acme/shop"}}),
        "nul_repo": (str(uuid.uuid4()), {"repository": {"full_name": "acme/sh\u0000op"}}),
        "huge_installation": (str(uuid.uuid4()), {"installation": {"id": 2**70}}),
    }
    out: dict[str, Any] = {}
    try:
        with bench.serve(bench.env(url)) as app:
            for name, (delivery_id, extra) in cases.items():
                body = json.dumps({"action": "created", **extra}).encode()
                codes = []
                for _ in range(2):  # GitHub's redelivery sends it again: the same answer?
                    answer = send_webhook(
                        f"{app.url}/webhooks", WEBHOOK_SECRET, "ping2", body, delivery_id
                    )
                    codes.append(answer.status_code)
                out[name] = codes
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as c:
            c.execute(f"DROP SCHEMA {schema} CASCADE")
    return out


def kill9(bench: Bench, args: argparse.Namespace) -> dict[str, Any]:
    pr = seed_scenario(bench.fake).pr
    env = bench.env()
    log = bench.workdir / "kill9.log"
    first = AppProcess(bench.app_root, env, log).start(timeout=30)
    bench.delays.hold_next("GET", r"/git/trees/", 120.0)
    bench.pull(first, pr)
    wait_for(bench.delays.held.is_set, timeout=30, what="the job to reach GitHub")
    time.sleep(0.5)
    process = first._process
    if process is not None:
        process.send_signal(signal.SIGKILL)
        process.wait()
    second = AppProcess(bench.app_root, env, bench.workdir / "kill9-2.log")
    restarted = time.perf_counter()
    second.start(timeout=30)
    try:
        wait_for(
            lambda: completed_check_run(bench.fake, pr.head_sha),
            timeout=args.kill_cap,
            interval=0.1,
            what="the check run after the restart",
        )
        recovered: Any = round(time.perf_counter() - restarted, 1)
    except TimeoutError:
        recovered = f">{args.kill_cap}"
    finally:
        second.stop()
    return {
        "recovered_after_restart_s": recovered,
        "check_runs": len(bench.fake.check_runs_for(pr.head_sha, "ghapp")),
    }


def job_row(env: dict[str, str], delivery_id: str) -> dict[str, Any] | None:
    """The delivery's row, read straight from the SQLite file (any schema version)."""
    path = env["DATABASE_URL"].removeprefix("sqlite:///")
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute(
            "SELECT status, attempts, last_error FROM ghapp_deliveries WHERE delivery_id = ?",
            (delivery_id,),
        ).fetchone()
    return dict(row) if row else None


def pr_outcome(
    bench: Bench, pr: PullRequest, env: dict[str, str], *args: str, cap: float = 90.0
) -> dict[str, Any]:
    """Serve, send the PR's `opened`, wait (up to `cap` s) for its job to end: how it ended,
    when, and what the PR's check runs say."""
    try:
        with bench.serve(env, *args) as app:
            started = time.perf_counter()
            ack = bench.pull(app, pr, delivery_id="pr-1").status_code

            def ended() -> bool:
                row = job_row(env, "pr-1")
                return bool(row and row["status"] in ("done", "dead"))

            try:
                wait_for(ended, cap, 0.2, "the job to end")
                after: Any = round(time.perf_counter() - started, 1)
            except TimeoutError:
                after = f">{cap:g}"
            time.sleep(1.5)  # what the app posts once the job has ended
            row = job_row(env, "pr-1") or {}
    except RuntimeError as exc:  # e.g. an option this checkout does not have
        return {"serve": str(exc).splitlines()[0][:100]}
    runs = bench.fake.check_runs_for(pr.head_sha, "ghapp")
    return {
        "ack": ack,
        "job": f"{row.get('status')}/{row.get('attempts')}",
        "ended_after_s": after,
        "runs": [(r["status"], r.get("conclusion"), r["output"].get("title")) for r in runs],
        "findings": sum(len(r["annotations"]) for r in runs),
        "blocking": sorted(
            {
                f"{a['path']}:{a['title']}"
                for r in runs
                for a in r["annotations"]
                if a.get("annotation_level") == "failure"
            }
        ),
    }


def baddate(bench: Bench, args: argparse.Namespace) -> dict[str, Any]:
    files: dict[str, str | bytes | None] = {
        "k8s/bad.yaml": PRIVILEGED_DEPLOYMENT.format(name="2026-02-30"),
        "k8s/deploy.yaml": PRIVILEGED_DEPLOYMENT.format(name="api"),
    }
    return pr_outcome(bench, pull_adding(bench.fake, "baddate", files), bench.env())


def bomb(bench: Bench, args: argparse.Namespace) -> dict[str, Any]:
    pr = pull_adding(bench.fake, "bomb", {"svc/catalog-info.yaml": alias_bomb_component()})
    return pr_outcome(bench, pr, bench.env(), cap=args.bomb_cap)


def deepif(bench: Bench, args: argparse.Namespace) -> dict[str, Any]:
    pr = pull_adding(bench.fake, "deepif", {".github/workflows/x.yml": DEEP_IF_WORKFLOW})
    return pr_outcome(bench, pr, bench.env())


def budget(bench: Bench, args: argparse.Namespace) -> dict[str, Any]:
    pr = seed_scenario(bench.fake).pr
    return pr_outcome(bench, pr, bench.env(), "--evaluation-timeout", "0.001")


def flaky(bench: Bench, args: argparse.Namespace) -> dict[str, Any]:
    pr = pull_adding(
        bench.fake, "flaky", {"k8s/deploy.yaml": PRIVILEGED_DEPLOYMENT.format(name="api")}
    )
    bench.fake.fail_next(
        "GET", r"/repos/acme/flaky/pulls/\d+/files", 429, times=8, headers={"Retry-After": "1"}
    )
    return pr_outcome(bench, pr, bench.env(), cap=args.flaky_cap)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO", help=", ".join(SCENARIOS))
    parser.add_argument(
        "--app-root",
        type=Path,
        action="append",
        help="checkout whose ghapp serves (default: this one); repeat to compare checkouts",
    )
    parser.add_argument("--stars", type=int, default=8)
    parser.add_argument("--length", type=int, default=50)
    parser.add_argument("--watch", type=float, default=15.0, help="seconds /healthz is polled")
    parser.add_argument("--hangups", type=int, default=500)
    parser.add_argument("--loris-cap", type=float, default=45.0)
    parser.add_argument("--shape-watch", type=float, default=20.0)
    parser.add_argument("--kill-cap", type=float, default=90.0)
    parser.add_argument("--bomb-cap", type=float, default=90.0)
    parser.add_argument("--flaky-cap", type=float, default=120.0)
    args = parser.parse_args()
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(sorted(unknown))}")
    args.scenarios = args.scenarios or list(SCENARIOS)
    roots = [root.resolve() for root in args.app_root or [ROOT]]
    for label, root in enumerate(roots, 1):
        print(f"[{label}] ghapp serve from {root}")
    for name in args.scenarios:
        for label, root in enumerate(roots, 1):
            with tempfile.TemporaryDirectory() as tmp:
                bench = Bench(root, Path(tmp))
                try:
                    result = globals()[name](bench, args)
                finally:
                    bench.server.stop()
            print(f"{name:<10} [{label}] {json.dumps(result)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

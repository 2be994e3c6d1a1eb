"""Pytest-independent helpers: run uvicorn servers on free loopback ports, sign and send webhooks,
build webhook payloads that match the fake's state, and wait for conditions with a bound.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from . import shapes
from .state import FakeGitHub, PullRequest

T = TypeVar("T")
LOOPBACK = "127.0.0.1"
APP_ID = 4242  # the app id and installation the e2e suites configure ghapp with
INSTALLATION_ID = 77
WEBHOOK_SECRET = "e2e-webhook-secret"


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def wait_for(
    predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.05, what: str = ""
) -> T:
    """Poll until `predicate()` is truthy and return it; TimeoutError naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout:.1f}s waiting for {what or predicate}")
        time.sleep(interval)


def wait_quiet(fake: FakeGitHub, quiet: float = 0.6, timeout: float = 10.0) -> int:
    """Wait until the fake has seen no request for `quiet` seconds; the number of calls then."""
    deadline = time.monotonic() + timeout
    seen, since = len(fake.calls), time.monotonic()
    while time.monotonic() - since < quiet:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the fake was still receiving calls after {timeout:.1f}s")
        time.sleep(0.05)
        if len(fake.calls) != seen:
            seen, since = len(fake.calls), time.monotonic()
    return seen


def completed_check_run(fake: FakeGitHub, head_sha: str, name: str = "ghapp") -> Any:
    """The completed check run called `name` on `head_sha`, if there is one."""
    with fake.lock:
        done = [r for r in fake.check_runs_for(head_sha, name) if r["status"] == "completed"]
    return done[-1] if done else None


class ServerThread:
    """An ASGI app under uvicorn on a free loopback port, in a daemon thread of this process."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        config = uvicorn.Config(
            app, host=LOOPBACK, port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def start(self, timeout: float = 5.0) -> ServerThread:
        self._thread.start()
        wait_for(lambda: self._server.started, timeout, 0.01, f"uvicorn on {self.url}")
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def ghapp_command(repo_root: Path) -> list[str]:
    """How to run `ghapp serve` from a checkout (PYTHONPATH points at `repo_root`)."""
    return [sys.executable, "-m", "ghapp", "serve"]


class AppProcess:
    """`ghapp serve` as a subprocess on loopback, its output captured in a log file."""

    def __init__(
        self,
        repo_root: Path,
        env: dict[str, str],
        log_path: Path,
        args: tuple[str, ...] = (),
        cwd: Path | None = None,
    ) -> None:
        self.port = int(env["PORT"])
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.log_path = log_path
        self._command = [*ghapp_command(repo_root), *args]  # args: `ghapp serve` options
        self._env = {**os.environ, "PYTHONPATH": str(repo_root), **env}
        self._cwd = cwd or repo_root  # where `ghapp serve` looks for a .env
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        """The environment `ghapp serve` runs with (so a test can run other commands alike)."""
        return dict(self._env)

    def start(self, timeout: float = 15.0) -> AppProcess:
        """Start and wait for GET /healthz to answer 200; RuntimeError with the log otherwise."""
        log = self.log_path.open("wb")
        self._process = subprocess.Popen(
            self._command, cwd=self._cwd, env=self._env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            wait_for(self._healthy, timeout, 0.1, f"ghapp serve on {self.url}/healthz")
        except (TimeoutError, RuntimeError) as exc:
            self.stop()
            raise RuntimeError(f"ghapp serve did not become healthy: {exc}\n{self.log()}") from exc
        return self

    def _healthy(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            raise RuntimeError(f"ghapp serve exited with {self._process.returncode}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def log(self) -> str:
        """What the server printed so far (for failure messages)."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """`kill -9`: no shutdown at all, leases and half-done work stay as they are."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=10)

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=5)


def generate_app_key() -> tuple[str, str]:
    """A fresh RSA key pair for the app: (private PEM, public PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def sign(secret: str, body: bytes) -> str:
    """The X-Hub-Signature-256 header GitHub sends for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def send_webhook(
    url: str,
    secret: str,
    event: str,
    payload: dict[str, Any] | bytes,
    delivery_id: str | None = None,
    signature: str | None = None,
) -> httpx.Response:
    """POST a webhook as GitHub does (signature computed unless one is given)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/fake",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "1",
        "X-Hub-Signature-256": signature or sign(secret, body),
    }
    return httpx.post(url, content=body, headers=headers, timeout=10)


def pull_request_event(
    fake: FakeGitHub,
    fake_url: str,
    pr: PullRequest,
    action: str,
    template: dict[str, Any] | None = None,
    before: str | None = None,
) -> dict[str, Any]:
    """A pull_request webhook payload for `pr` as it stands in the fake.

    `template` (a real payload, e.g. octokit's opened.payload.json) keeps GitHub's full shape;
    every field that names the repository, the pull request, its commits or the installation is
    replaced with the fake's values.
    """
    repo = fake.repos[pr.repo]
    payload = copy.deepcopy(template) if template else {}
    live = shapes.pull(fake_url, fake, pr, full=True)
    pull = {**payload.get("pull_request", {}), **live}
    payload.update(
        action=action,
        number=pr.number,
        pull_request=pull,
        repository={**payload.get("repository", {}), **live["base"]["repo"]},
        installation={"id": repo.installation_id, "node_id": shapes.node_id("Inst", repo.id)},
        sender=shapes.user(fake_url, pr.user),
    )
    if action == "synchronize":
        payload.update(before=before or pr.base_sha, after=pr.head_sha)
    return payload

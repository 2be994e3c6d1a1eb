"""The first hour, end to end: `ghapp setup` registers the App through a real browser against the
fake GitHub, and `ghapp serve` started from the `.env` it wrote handles a signed pull request."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from dotenv import dotenv_values

from tests.browser import screenshot
from tests.fakegithub import FakeGitHub
from tests.fakegithub.harness import (
    INSTALLATION_ID,
    LOOPBACK,
    AppProcess,
    ServerThread,
    completed_check_run,
    free_port,
    pull_request_event,
    send_webhook,
    wait_for,
)
from tests.fakegithub.manifests import manifests_of

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
# Variables `ghapp serve` must take from .env, not from the test's environment.
FROM_ENV_FILE = ("APP_ID", "PRIVATE_KEY", "PRIVATE_KEY_PATH", "WEBHOOK_SECRET", "GITHUB_API_URL")


class SetupProcess:
    """`ghapp setup` as a person runs it: in a directory, its local page on loopback."""

    def __init__(self, workdir: Path, fake_url: str, public_url: str) -> None:
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.log = workdir.parent / f"setup-{uuid.uuid4().hex[:6]}.log"
        env = {k: v for k, v in os.environ.items() if k not in FROM_ENV_FILE}
        env.update(
            PYTHONPATH=str(ROOT),
            GHE_HOST=fake_url.removeprefix("http://"),  # the fake plays github.com's web too
            GHE_PROTOCOL="http",
            GITHUB_API_URL=fake_url,  # the fake serves the API at its root, not /api/v3
        )
        command = [sys.executable, "-m", "ghapp", "setup", "--org", "acme", "--no-open"]
        command += ["--port", str(self.port), "--public-url", public_url]
        self.process = subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        wait_for(self._answers, 15, 0.1, f"ghapp setup on {self.url}\n{self.output()}")

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"ghapp setup exited with {self.process.returncode}")
        try:
            return httpx.get(self.url, timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=5)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "ghapp-home"
    path.mkdir()
    return path


@pytest.fixture
def setup_process(fake_server: ServerThread, workdir: Path) -> Iterator[tuple[SetupProcess, int]]:
    serve_port = free_port()
    process = SetupProcess(workdir, fake_server.url, f"http://{LOOPBACK}:{serve_port}")
    try:
        yield process, serve_port
    finally:
        process.stop()


def test_setup_registers_the_app_in_a_browser_and_serve_runs_from_the_env_it_wrote(
    browser_page: Any,
    setup_process: tuple[SetupProcess, int],
    fake: FakeGitHub,
    fake_server: ServerThread,
    workdir: Path,
) -> None:
    setup, serve_port = setup_process
    page = browser_page

    # The page: one button, the manifest described, in a real browser.
    page.goto(f"{setup.url}/")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Register ghapp on")
    shot = screenshot(page, "setup-page")
    assert shot.stat().st_size > 10_000
    page.get_by_role("button", name=re.compile("Create the GitHub App")).click()

    # The fake answers the manifest form by redirecting back with a code; setup trades it.
    page.wait_for_url(re.compile(r"/callback\?code=\w+&state="), timeout=15_000)
    page.get_by_text("Registered:").wait_for(timeout=15_000)
    screenshot(page, "setup-done")
    assert "both readable only by you (mode 0600)" in page.inner_text("main")
    assert setup.process.wait(timeout=15) == 0, setup.output()
    assert "Next steps" in setup.output() and "/apps/ghapp/installations/new" in setup.output()

    flow = manifests_of(fake)
    assert len(flow.conversions) == 1
    (registered,) = flow.by_code.values()
    assert registered.owner == "acme" and registered.converted
    hook = registered.manifest["hook_attributes"]["url"]
    assert hook == f"http://{LOOPBACK}:{serve_port}/api/github/webhooks"
    posted = [c for c in fake.calls if c.path == "/organizations/acme/settings/apps/new"]
    assert [c.method for c in posted] == ["POST"]

    # The .env: Probot's names, the fake's answer, readable only by the owner.
    env_file = workdir / ".env"
    env = dotenv_values(env_file)
    key_file = Path(str(env["PRIVATE_KEY_PATH"]))
    assert env["APP_ID"] == str(registered.app_id) and env["APP_SLUG"] == "ghapp"
    assert env["WEBHOOK_SECRET"] == registered.webhook_secret
    assert (env["GITHUB_CLIENT_ID"], env["GITHUB_CLIENT_SECRET"]) == (
        registered.client_id,
        registered.client_secret,
    )
    assert env["GITHUB_API_URL"] == fake_server.url
    assert key_file.read_text() == registered.private_pem
    for path in (env_file, key_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    # `ghapp serve` from that directory: everything but the address comes from .env.
    serve = AppProcess(
        ROOT,
        {
            "HOST": LOOPBACK,
            "PORT": str(serve_port),
            "DATABASE_URL": f"sqlite:///{workdir}/ghapp.db",
            "RECONCILE_INTERVAL": "0",
        },
        workdir.parent / "serve.log",
        cwd=workdir,
    )
    for name in FROM_ENV_FILE:
        serve._env.pop(name, None)
    serve.start()
    try:
        assert httpx.get(f"{serve.url}/readyz", timeout=5).json() == {"ready": True}
        fake.add_repo("acme", "shop", INSTALLATION_ID)
        base = fake.add_commit("acme", "shop", {"README.md": "shop\n"}, branch="main")
        fake.add_commit("acme", "shop", {"app.py": "print(1)\n"}, parent=base, branch="feature")
        pr = fake.open_pull("acme", "shop", "feature")
        payload = pull_request_event(fake, fake_server.url, pr, "opened")
        url = f"{serve.url}/api/github/webhooks"
        forged = send_webhook(url, "not-the-secret", "pull_request", payload)
        assert forged.status_code == 401
        answer = send_webhook(url, str(env["WEBHOOK_SECRET"]), "pull_request", payload)
        assert answer.status_code == 202, answer.text
        run = wait_for(
            lambda: completed_check_run(fake, pr.head_sha),
            timeout=30,
            what=f"a check run posted by the new App\n{serve.log()[-3000:]}",
        )
        assert run["name"] == "ghapp"
    finally:
        serve.stop()

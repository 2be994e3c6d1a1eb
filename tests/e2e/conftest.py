"""End-to-end fixtures: the fake GitHub under uvicorn, an app key it trusts, `ghapp serve`.

Everything listens on 127.0.0.1 only. The fake runs in a thread of the test process so tests
seed and inspect its state directly; ghapp runs as a subprocess, exactly as deployed.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fakegithub import FakeGitHub, SchemaBook, create_fake_app, create_fake_web_app
from tests.fakegithub.harness import (
    APP_ID,
    INSTALLATION_ID,
    WEBHOOK_SECRET,
    AppProcess,
    ServerThread,
    free_port,
    generate_app_key,
    pull_request_event,
    send_webhook,
)
from tests.fakegithub.state import PullRequest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "fixtures"


@pytest.fixture(scope="session")
def schemas() -> SchemaBook:
    """GitHub's request schemas from ../shared; without them the fake validates only limits."""
    openapi = SHARED / "openapi"
    return SchemaBook.load(openapi) if (openapi / "index.json").exists() else SchemaBook.empty()


@pytest.fixture(scope="session")
def app_key() -> tuple[str, str]:
    """(private PEM, public PEM) of the app under test."""
    return generate_app_key()


@pytest.fixture
def fake(schemas: SchemaBook, app_key: tuple[str, str]) -> FakeGitHub:
    """A fake GitHub that trusts the app key, with one org installation (acme)."""
    github = FakeGitHub(schemas, app_id=APP_ID)
    github.register_app(app_key[1])
    github.add_installation(INSTALLATION_ID, "acme")
    return github


@pytest.fixture
def fake_server(fake: FakeGitHub) -> Iterator[ServerThread]:
    with ServerThread(create_fake_app(fake)) as server:
        yield server


@dataclass
class RunningApp:
    """ghapp serve plus what a test needs to talk to it."""

    process: AppProcess
    fake: FakeGitHub
    fake_url: str

    @property
    def webhook_url(self) -> str:
        return f"{self.process.url}/webhooks"

    def send(
        self,
        event: str,
        payload: dict[str, Any] | bytes,
        delivery_id: str | None = None,
        signature: str | None = None,
    ) -> Any:
        return send_webhook(
            self.webhook_url, WEBHOOK_SECRET, event, payload, delivery_id, signature
        )

    def pull_request(self, pr: PullRequest, action: str, before: str | None = None) -> Any:
        return pull_request_event(self.fake, self.fake_url, pr, action, _template(), before)


def _template() -> dict[str, Any] | None:
    path = SHARED / "webhooks" / "pull_request" / "opened.payload.json"
    return json.loads(path.read_text()) if path.exists() else None


@pytest.fixture
def ghapp_env() -> dict[str, str]:
    """More environment for `ghapp serve` (a test module overrides this fixture)."""
    return {}


@pytest.fixture
def fake_web(fake: FakeGitHub) -> Iterator[ServerThread]:
    """The fake's web host (sign-in pages), separate from its API host as on github.com."""
    with ServerThread(create_fake_web_app(fake)) as server:
        yield server


@pytest.fixture
def sign_in_env(fake: FakeGitHub, fake_web: ServerThread) -> dict[str, str]:
    """The environment for a `ghapp serve` whose pages sign in through the fake's OAuth
    (a module that opens pages returns it from its `ghapp_env`)."""
    port = free_port()
    return {
        "PORT": str(port),
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "GHE_HOST": fake_web.url.removeprefix("http://"),
        "GHE_PROTOCOL": "http",
        "GITHUB_CLIENT_ID": fake.oauth.client_id,
        "GITHUB_CLIENT_SECRET": fake.oauth.client_secret,
    }


@pytest.fixture
def ghapp(
    fake: FakeGitHub,
    fake_server: ServerThread,
    app_key: tuple[str, str],
    tmp_path: Path,
    ghapp_env: dict[str, str],
) -> Iterator[RunningApp]:
    """`ghapp serve` on loopback, configured Probot-style against the fake."""
    key_path = tmp_path / "app.pem"
    key_path.write_text(app_key[0])
    env = {
        "APP_ID": str(APP_ID),
        "PRIVATE_KEY_PATH": str(key_path),
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "GITHUB_API_URL": fake_server.url,
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        "APP_SLUG": "ghapp",
        "RECONCILE_INTERVAL": "0",  # no background reconciliation calls in call-count tests
        "DATABASE_URL": f"sqlite:///{tmp_path}/ghapp.db",
        "LOG_LEVEL": "INFO",
        **ghapp_env,
    }
    process = AppProcess(ROOT, env, tmp_path / f"ghapp-{uuid.uuid4().hex[:6]}.log")
    process.start()
    try:
        yield RunningApp(process, fake, fake_server.url)
    finally:
        process.stop()


# ---- the acme-shop scenario ------------------------------------------------------------------
EXAMPLE = ROOT / "examples" / "acme-shop"
DEPLOY_PATH = ".github/workflows/deploy.yml"
UNPINNED = "      - uses: acme-actions/deploy-to-k8s@v1\n"
DEPLOY_WORKFLOW = (
    "name: deploy\n"
    "on:\n"
    "  push:\n"
    "    branches: [main]\n"
    "permissions:\n"
    "  contents: read\n"
    "jobs:\n"
    "  deploy:\n"
    "    runs-on: ubuntu-latest\n"
    "    steps:\n"
    "      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2\n" + UNPINNED
)
PAYMENTS_DEPLOYMENT = "services/payments/k8s/deployment.yaml"
PRIVILEGED = "            privileged: true\n"
UNOWNED = "services/billing/main.py"
TEAMS = ("platform", "sre", "docs", "payments", "checkout-api", "checkout", "inventory")
# Without examples/acme-shop (the lead's), a small repository with the same shape.
FALLBACK_BASE = {
    ".github/CODEOWNERS": "/.github/ @acme/platform\n/services/payments/ @acme/payments\n",
    ".github/ghapp.yml": "version: 1\npublish:\n  review_comments: true\n",
    PAYMENTS_DEPLOYMENT: (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: payments\nspec:\n"
        "  template:\n    spec:\n      containers:\n        - name: api\n"
        "          image: ghcr.io/acme/payments:1.0.0\n"
        "          securityContext:\n            allowPrivilegeEscalation: false\n"
    ),
}


def line_of(text: str, needle: str) -> int:
    """1-based number of the first line containing `needle`."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle.strip() in line)


@dataclass
class Scenario:
    """acme/shop seeded in the fake with a PR that introduces three problems."""

    pr: PullRequest
    base_files: dict[str, str | bytes | None]
    head_files: dict[str, str | bytes | None]

    deploy_path = DEPLOY_PATH
    deployment_path = PAYMENTS_DEPLOYMENT
    unowned_path = UNOWNED

    def head_text(self, path: str) -> str:
        data = self.head_files[path]
        return data.decode() if isinstance(data, bytes) else str(data)

    @property
    def unpinned_line(self) -> int:
        return line_of(self.head_text(DEPLOY_PATH), UNPINNED)

    @property
    def privileged_line(self) -> int:
        return line_of(self.head_text(PAYMENTS_DEPLOYMENT), PRIVILEGED)


def base_files() -> dict[str, str | bytes | None]:
    if not EXAMPLE.is_dir():
        return dict(FALLBACK_BASE)
    return {
        str(p.relative_to(EXAMPLE)): p.read_bytes()
        for p in sorted(EXAMPLE.rglob("*"))
        if p.is_file()
    }


def privileged(deployment: str) -> str:
    """The deployment with its first container's securityContext made privileged."""
    anchor = "            allowPrivilegeEscalation: false\n"
    return deployment.replace(anchor, anchor + PRIVILEGED, 1)


@pytest.fixture
def scenario(fake: FakeGitHub) -> Scenario:
    """Base: the bundled example. Head: an unpinned action, a privileged container, an unowned
    file. Teams and collaborators exist so review requests are valid."""
    return seed_scenario(fake)


def seed_scenario(fake: FakeGitHub) -> Scenario:
    """The `scenario` fixture's state, for callers outside pytest (benchmarks/bench_pipeline.py)."""
    fake.add_repo("acme", "shop", INSTALLATION_ID)
    for slug in TEAMS:
        fake.add_team("acme", slug, {f"{slug}-lead": "maintainer"})
    fake.add_collaborator("acme", "shop", "octocat", "write")
    base = base_files()
    deployment = base[PAYMENTS_DEPLOYMENT]
    text = deployment.decode() if isinstance(deployment, bytes) else str(deployment)
    changes: dict[str, str | bytes | None] = {
        DEPLOY_PATH: DEPLOY_WORKFLOW,
        PAYMENTS_DEPLOYMENT: privileged(text),
        UNOWNED: "print('billing')\n",
    }
    base_sha = fake.add_commit("acme", "shop", base, branch="main", message="base")
    fake.add_commit("acme", "shop", changes, parent=base_sha, branch="risky", message="risky")
    pr = fake.open_pull("acme", "shop", "risky", title="Deploy billing", user="octocat")
    return Scenario(pr, base, {**base, **changes})

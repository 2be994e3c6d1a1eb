"""`ghapp setup`: the manifest (one source, least privilege), the page, the callback, the files."""

from __future__ import annotations

import html
import json
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
import yaml
from dotenv import dotenv_values

from ghapp.cli import main
from ghapp.cli.setup import env_value, save_credentials, write_private
from ghapp.github.registration import Registration
from ghapp.manifest import (
    EVENTS,
    EXAMPLE_PUBLIC_URL,
    EXAMPLE_REDIRECT_URL,
    app_manifest,
    permissions,
    render_app_yml,
)
from ghapp.web.setup import Saved, SetupFlow, create_setup_app
from tests.apphelpers import TestClient, make_settings, private_key_pem

ROOT = Path(__file__).resolve().parents[1]
API = "https://ghe.example.com/api/v3"
WEB = "https://ghe.example.com"
CONVERSION = {
    "id": 321,
    "slug": "ghapp-acme",
    "name": "ghapp-acme",
    "html_url": f"{WEB}/apps/ghapp-acme",
    "owner": {"login": "acme", "type": "Organization"},
    "pem": "-----BEGIN RSA PRIVATE KEY-----\nMII...\n-----END RSA PRIVATE KEY-----\n",
    "webhook_secret": "whsec-123",
    "client_id": "Iv1.abc",
    "client_secret": "client-secret-456",
}


# ---- the manifest ----------------------------------------------------------------------------
def test_app_yml_is_generated_from_the_package_manifest() -> None:
    text = (ROOT / "app.yml").read_text()
    assert text == render_app_yml(), "regenerate: python -m ghapp.manifest > app.yml"
    assert yaml.safe_load(text) == app_manifest(EXAMPLE_PUBLIC_URL, EXAMPLE_REDIRECT_URL)


def test_every_subscribed_event_has_a_handler_and_every_handled_event_is_subscribed() -> None:
    from ghapp.app.cli import build_processor
    from ghapp.app.refresh import REFRESH_EVENT

    router = build_processor(make_settings()).router
    # `installation` is always sent; the dashboard's refresh jobs are queued by the app itself.
    handled = {route.event for route in router.routes} - {"installation", REFRESH_EVENT}
    assert {e.name for e in EVENTS} == handled
    assert "pull_request_review_comment" not in {e.name for e in EVENTS}


def test_the_manifest_sends_webhooks_to_probots_path_and_sign_in_to_the_callback() -> None:
    manifest = app_manifest("https://ghapp.example.com/", "http://127.0.0.1:3000/callback")
    assert manifest["hook_attributes"] == {
        "url": "https://ghapp.example.com/api/github/webhooks",
        "active": True,
    }
    assert manifest["callback_urls"] == ["https://ghapp.example.com/login/callback"]
    assert manifest["redirect_url"] == "http://127.0.0.1:3000/callback"
    assert manifest["public"] is False


def test_read_only_profile_drops_contents_write_and_nothing_else() -> None:
    full, read_only = permissions(), permissions(read_only=True)
    assert full["contents"] == "write" and read_only["contents"] == "read"
    assert {k: v for k, v in full.items() if k != "contents"} == {
        k: v for k, v in read_only.items() if k != "contents"
    }
    assert "write" not in {read_only["metadata"], read_only["members"], read_only["issues"]}


# ---- the page and the callback ---------------------------------------------------------------
@pytest.fixture
def github() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=API, assert_all_called=False) as router:
        yield router


def make_flow(tmp_path: Path, org: str | None = "acme") -> SetupFlow:
    env_file = tmp_path / ".env"
    return SetupFlow(
        web_url=WEB,
        api_url=API,
        manifest=app_manifest("https://ghapp.example.com", "http://127.0.0.1:3000/callback"),
        org=org,
        on_registered=lambda r: save_credentials(r, env_file, "https://ghapp.example.com"),
    )


def form_of(page: str) -> tuple[str, dict[str, Any]]:
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', page)[1])  # type: ignore[index]
    manifest = html.unescape(re.search(r'name="manifest" value="([^"]+)"', page)[1])  # type: ignore[index]
    return action, json.loads(manifest)


@pytest.mark.parametrize(
    ("org", "path"),
    [("acme", "/organizations/acme/settings/apps/new"), (None, "/settings/apps/new")],
)
def test_the_page_posts_the_manifest_as_a_form_to_githubs_new_app_page(
    tmp_path: Path, org: str | None, path: str
) -> None:
    flow = make_flow(tmp_path, org)
    with TestClient(create_setup_app(flow)) as client:
        page = client.get("/").text
    action, manifest = form_of(page)
    assert action == f"{WEB}{path}?state={flow.state}"
    assert manifest == flow.manifest
    assert "pull_requests" in page and "Create the GitHub App on ghe.example.com" in page


def test_the_callback_trades_the_code_and_writes_env_and_key_readable_only_by_the_owner(
    tmp_path: Path, github: respx.MockRouter
) -> None:
    conversion = github.post("/app-manifests/code-1/conversions").respond(201, json=CONVERSION)
    flow = make_flow(tmp_path)
    finished: list[bool] = []
    flow.on_finished = lambda: finished.append(True)
    with TestClient(create_setup_app(flow)) as client:
        page = client.get(f"/callback?code=code-1&state={flow.state}")
        again = client.get(f"/callback?code=code-1&state={flow.state}")
    assert page.status_code == 200 and again.status_code == 200
    assert conversion.call_count == 1 and finished == [True]
    assert f"{WEB}/apps/ghapp-acme/installations/new" in page.text and "acme/.github" in page.text
    env = dotenv_values(tmp_path / ".env")
    key_file = tmp_path / "ghapp-acme.private-key.pem"
    assert env == {
        "APP_ID": "321",
        "APP_SLUG": "ghapp-acme",
        "PRIVATE_KEY_PATH": str(key_file),
        "WEBHOOK_SECRET": "whsec-123",
        "GITHUB_CLIENT_ID": "Iv1.abc",
        "GITHUB_CLIENT_SECRET": "client-secret-456",
        "PUBLIC_URL": "https://ghapp.example.com",
    }
    assert key_file.read_text() == CONVERSION["pem"]
    for path in (tmp_path / ".env", key_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_callback_with_another_state_is_refused_and_spends_no_code(
    tmp_path: Path, github: respx.MockRouter
) -> None:
    conversion = github.post("/app-manifests/code-1/conversions").respond(201, json=CONVERSION)
    with TestClient(create_setup_app(make_flow(tmp_path))) as client:
        response = client.get("/callback?code=code-1&state=forged")
    assert response.status_code == 400 and conversion.call_count == 0
    assert not (tmp_path / ".env").exists()


def test_a_code_github_refuses_is_explained_and_nothing_is_written(
    tmp_path: Path, github: respx.MockRouter
) -> None:
    github.post("/app-manifests/old/conversions").respond(404, json={"message": "Not Found"})
    flow = make_flow(tmp_path)
    with TestClient(create_setup_app(flow)) as client:
        response = client.get(f"/callback?code=old&state={flow.state}")
    assert response.status_code == 502
    assert "single-use and expire after an hour" in response.text
    assert not (tmp_path / ".env").exists()


def test_credentials_that_cannot_be_saved_are_kept_until_a_reload_saves_them(
    tmp_path: Path, github: respx.MockRouter
) -> None:
    conversion = github.post("/app-manifests/code-1/conversions").respond(201, json=CONVERSION)
    (tmp_path / ".env").write_text("APP_ID=1\n")  # appeared while the person was on GitHub
    flow = make_flow(tmp_path)
    with TestClient(create_setup_app(flow)) as client:
        blocked = client.get(f"/callback?code=code-1&state={flow.state}")
        (tmp_path / ".env").unlink()
        saved = client.get(f"/callback?code=code-1&state={flow.state}")
    assert blocked.status_code == 500 and "--force" in blocked.text
    assert saved.status_code == 200 and conversion.call_count == 1
    assert dotenv_values(tmp_path / ".env")["APP_ID"] == "321"


# ---- the files and the command ---------------------------------------------------------------
@pytest.mark.parametrize(
    "value", ["plain-value", "/path with spaces/key.pem", 'quote " and \\ backslash', "#hash"]
)
def test_env_values_read_back_unchanged(tmp_path: Path, value: str) -> None:
    path = tmp_path / ".env"
    path.write_text(f"VALUE={env_value(value)}\n")
    assert dotenv_values(path)["VALUE"] == value


def test_an_existing_file_is_never_replaced_without_force_and_keeps_mode_0600(
    tmp_path: Path,
) -> None:
    path = tmp_path / ".env"
    path.write_text("old\n")
    path.chmod(0o644)
    with pytest.raises(FileExistsError, match="--force"):
        write_private(path, "new\n", force=False)
    assert path.read_text() == "old\n"
    write_private(path, "new\n", force=True)
    assert path.read_text() == "new\n" and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_setup_variables_for_github_enterprise_are_kept_in_env(tmp_path: Path) -> None:
    registration = Registration(1, "g", "g", "", "acme", private_key_pem(), "w", "c", "s")
    saved = save_credentials(
        registration,
        tmp_path / ".env",
        "https://ghapp.example.com",
        (("GHE_HOST", "ghe.example.com"),),
    )
    assert isinstance(saved, Saved)
    assert dotenv_values(saved.env_file)["GHE_HOST"] == "ghe.example.com"


def test_setup_refuses_to_overwrite_env_without_force(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("APP_ID=1\n")
    assert main(["setup", "--public-url", "https://ghapp.example.com", "--no-open"]) == 2
    assert ".env exists: pass --force" in capsys.readouterr().err


def test_setup_asks_for_the_address_github_sends_webhooks_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PUBLIC_URL", raising=False)
    assert main(["setup", "--no-open"]) == 2
    assert "--public-url" in capsys.readouterr().err


def test_conversion_answer_without_credentials_is_an_error() -> None:
    import asyncio

    from ghapp.github.errors import GitHubError
    from ghapp.github.registration import convert_manifest

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201, json={"id": 1, "slug": "x"})

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    with pytest.raises(GitHubError, match="pem, webhook_secret, client_id, client_secret"):
        asyncio.run(convert_manifest(API, "c", client=client))


def test_key_in_env_puts_the_base64_key_in_env_for_containers(tmp_path: Path) -> None:
    from ghapp.settings import Settings

    registration = Registration(7, "g", "g", "", "acme", private_key_pem(), "w", "c", "s")
    saved = save_credentials(
        registration, tmp_path / ".env", "https://ghapp.example.com", key_in_env=True
    )
    assert saved.key_file is None and list(tmp_path.iterdir()) == [tmp_path / ".env"]
    env = dotenv_values(saved.env_file)
    assert "PRIVATE_KEY_PATH" not in env and "\n" not in str(env["PRIVATE_KEY"])
    settings = Settings.from_env({k: str(v) for k, v in env.items()})
    assert settings.private_key.strip() == private_key_pem().strip() and settings.app_id == 7


def test_a_forwarding_channel_can_receive_the_webhooks_instead_of_the_public_url() -> None:
    manifest = app_manifest(
        "http://localhost:3000",
        "http://127.0.0.1:3000/callback",
        webhook_url="https://forward.example.com/channel-42",
    )
    assert manifest["hook_attributes"]["url"] == "https://forward.example.com/channel-42"
    assert manifest["url"] == "http://localhost:3000"

"""Settings from the environment: Probot names, defaults, and every problem reported at once."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from ghapp.settings import (
    DEFAULT_MAX_BODY_BYTES,
    Settings,
    SettingsError,
    database_url_from_env,
    github_target_from_env,
    load_env_file,
    log_options_from_env,
)
from tests.apphelpers import private_key_pem


def base_env(**changes: str) -> dict[str, str]:
    env = {"APP_ID": "123", "PRIVATE_KEY": private_key_pem(), "WEBHOOK_SECRET": "s"}
    env.update(changes)
    return env


def test_defaults_follow_probot_conventions() -> None:
    settings = Settings.from_env(base_env())
    assert settings.app_id == 123
    assert settings.github_api_url == "https://api.github.com"
    assert (settings.webhook_path, settings.host, settings.port) == (
        "/api/github/webhooks",
        "0.0.0.0",
        3000,
    )
    assert (settings.log_level, settings.log_format) == ("info", "json")
    assert settings.database_url == "sqlite:///ghapp.db"
    assert settings.max_body_bytes == DEFAULT_MAX_BODY_BYTES == 25 * 1024 * 1024


@pytest.mark.parametrize(
    "form",
    [
        pytest.param(lambda pem: pem, id="pem"),
        pytest.param(lambda pem: pem.replace("\n", "\\n"), id="pem-with-literal-backslash-n"),
        pytest.param(lambda pem: base64.b64encode(pem.encode()).decode(), id="base64"),
        pytest.param(lambda pem: base64.encodebytes(pem.encode()).decode(), id="base64-wrapped"),
    ],
)
def test_private_key_is_accepted_in_each_of_probots_forms(form: Callable[[str], str]) -> None:
    settings = Settings.from_env(base_env(PRIVATE_KEY=form(private_key_pem())))
    assert settings.private_key.strip() == private_key_pem().strip()


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (
            "-----BEGIN RSA PRIVATE KEY-----\nZ2FyYmxlZA==\n-----END RSA PRIVATE KEY-----\n",
            "cannot be loaded",
        ),
        (base64.b64encode(b"not a pem at all").decode(), "expected a PEM private key"),
    ],
)
def test_a_garbled_private_key_fails_settings_in_one_line(key: str, reason: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(base_env(PRIVATE_KEY=key))
    message = str(caught.value)
    assert reason in message and "\n" not in message
    assert message.startswith("invalid configuration: PRIVATE_KEY")


def test_a_key_that_is_not_rsa_cannot_sign_for_github() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    with pytest.raises(SettingsError, match="GitHub App keys are RSA"):
        Settings.from_env(base_env(PRIVATE_KEY=pem))


@pytest.mark.parametrize(
    "level", ["trace", "debug", "info", "warn", "error", "fatal", "silent", "WARN"]
)
def test_every_probot_log_level_is_accepted(level: str) -> None:
    assert Settings.from_env(base_env(LOG_LEVEL=level)).log_level == level.lower()


@pytest.mark.parametrize("log_format", ["json", "pretty", "PRETTY"])
def test_log_format_is_json_or_pretty(log_format: str) -> None:
    assert Settings.from_env(base_env(LOG_FORMAT=log_format)).log_format == log_format.lower()


def test_webhook_path_follows_the_environment() -> None:
    assert Settings.from_env(base_env(WEBHOOK_PATH="/hooks")).webhook_path == "/hooks"


def test_operator_commands_need_only_database_url() -> None:
    assert database_url_from_env({}) == "sqlite:///ghapp.db"
    url = "postgresql://ops:pw@db/ghapp"
    assert database_url_from_env({"DATABASE_URL": url}) == url
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        database_url_from_env({"DATABASE_URL": "ghapp.db"})
    assert log_options_from_env({}) == ("info", None)
    assert log_options_from_env({"LOG_FORMAT": "pretty"}) == ("info", "pretty")


def test_setup_reads_where_github_is_and_keeps_the_variables_that_said_so() -> None:
    target = github_target_from_env(
        {"GHE_HOST": "ghe.example.com", "PUBLIC_URL": "https://ghapp.example.com/"}
    )
    assert (target.web_url, target.api_url) == (
        "https://ghe.example.com",
        "https://ghe.example.com/api/v3",
    )
    assert target.public_url == "https://ghapp.example.com"
    assert target.variables == (("GHE_HOST", "ghe.example.com"),)


def test_env_file_fills_in_but_never_overrides_the_real_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text('GHAPP_T_FROM_FILE=file\nGHAPP_T_BOTH="from file"\n')
    monkeypatch.setenv("GHAPP_T_BOTH", "real")
    monkeypatch.delenv("GHAPP_T_FROM_FILE", raising=False)
    try:
        assert load_env_file(env_file)
        assert os.environ["GHAPP_T_FROM_FILE"] == "file"
        assert os.environ["GHAPP_T_BOTH"] == "real"
    finally:
        os.environ.pop("GHAPP_T_FROM_FILE", None)
    assert not load_env_file(tmp_path / "absent.env")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DATABASE_URL", "postgresql//u:pw@db/ghapp"),
        ("GITHUB_API_URL", "ftp://x-access-token:pw@ghe.example.com/api/v3"),
        ("GITHUB_API_URL", "https://pw@ghe.example.com:notaport/api/v3"),
        ("PUBLIC_URL", "ghapp.example.com?token=pw"),
    ],
)
def test_malformed_urls_are_named_without_their_credentials(name: str, value: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(base_env(**{name: value}))
    assert name in str(caught.value) and "pw" not in str(caught.value)


def test_settings_list_the_secrets_logs_must_hide() -> None:
    settings = Settings.from_env(
        base_env(
            WEBHOOK_SECRET="hook-secret",
            GITHUB_CLIENT_SECRET="client-secret",
            DATABASE_URL="postgresql://u:db-password@db/ghapp",
            GITHUB_API_URL="https://ghp_token123@ghe.example.com/api/v3",
        )
    )
    assert {"hook-secret", "client-secret", "db-password", "ghp_token123"} <= set(settings.secrets)
    assert "ghp_token123" not in repr(settings)


def test_private_key_can_come_from_a_file(tmp_path: Path) -> None:
    key_file = tmp_path / "key.pem"
    key_file.write_text(private_key_pem())
    env = base_env(PRIVATE_KEY="", PRIVATE_KEY_PATH=str(key_file))
    assert Settings.from_env(env).private_key == private_key_pem()


def test_ghes_api_url_loses_its_trailing_slash() -> None:
    env = base_env(GITHUB_API_URL="https://ghe.example.com/api/v3/")
    assert Settings.from_env(env).github_api_url == "https://ghe.example.com/api/v3"


def test_every_missing_variable_is_listed() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({})
    message = str(caught.value)
    for name in ("APP_ID", "PRIVATE_KEY", "WEBHOOK_SECRET"):
        assert f"{name} is missing" in message
    assert len(caught.value.problems) == 3


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("APP_ID", "abc"),
        ("APP_ID", "-1"),
        ("PORT", "70000"),
        ("PORT", "http"),
        ("GITHUB_API_URL", "api.github.com"),
        ("WEBHOOK_PATH", "webhooks"),
        ("LOG_LEVEL", "loud"),
        ("DATABASE_URL", "ghapp.db"),
        ("MAX_BODY_BYTES", "0"),
        ("WORKERS", "many"),
        ("PRIVATE_KEY", "not a pem"),
    ],
)
def test_malformed_variable_is_named_with_what_was_expected(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=rf"{name}\S* is malformed"):
        Settings.from_env(base_env(**{name: value}))


def test_several_malformed_variables_are_reported_together() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(base_env(PORT="x", LOG_LEVEL="loud", APP_ID="y"))
    assert len(caught.value.problems) == 3


def test_unreadable_key_file_is_reported() -> None:
    env = base_env(PRIVATE_KEY="", PRIVATE_KEY_PATH="/nonexistent/key.pem")
    with pytest.raises(
        SettingsError, match=r"PRIVATE_KEY_PATH=/nonexistent/key\.pem cannot be read"
    ):
        Settings.from_env(env)


def test_secrets_never_appear_in_repr_or_errors() -> None:
    settings = Settings.from_env(base_env(WEBHOOK_SECRET="hunter2"))
    assert "hunter2" not in repr(settings)
    assert "PRIVATE KEY" not in repr(settings)
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(base_env(PRIVATE_KEY="secret-but-not-pem"))
    assert "secret-but-not-pem" not in str(caught.value)

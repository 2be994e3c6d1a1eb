"""Settings from the environment: Probot names, defaults, and every problem reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from ghapp.settings import DEFAULT_MAX_BODY_BYTES, Settings, SettingsError
from tests.apphelpers import private_key_pem


def base_env(**changes: str) -> dict[str, str]:
    env = {"APP_ID": "123", "PRIVATE_KEY": private_key_pem(), "WEBHOOK_SECRET": "s"}
    env.update(changes)
    return env


def test_defaults_follow_probot_conventions() -> None:
    settings = Settings.from_env(base_env())
    assert settings.app_id == 123
    assert settings.github_api_url == "https://api.github.com"
    assert (settings.webhook_path, settings.host, settings.port) == ("/webhooks", "0.0.0.0", 3000)
    assert settings.database_url == "sqlite:///ghapp.db"
    assert settings.max_body_bytes == DEFAULT_MAX_BODY_BYTES == 25 * 1024 * 1024


def test_private_key_with_literal_backslash_n_is_unescaped() -> None:
    one_line = private_key_pem().replace("\n", "\\n")
    assert Settings.from_env(base_env(PRIVATE_KEY=one_line)).private_key == private_key_pem()


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


# Deployment files: Docker is not available in CI, so the Dockerfile is checked as text.
ROOT = Path(__file__).resolve().parents[1]


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "")
        for line in lines
        if line and not line.startswith("#")
    ]


def test_dockerfile_runs_our_serve_command_as_a_non_root_user() -> None:
    import argparse
    import json
    import tomllib

    from ghapp.app.cli import add_commands

    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    cmd = json.loads(dict(instructions)["CMD"])
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert cmd[0] in scripts
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers())
    assert hasattr(parser.parse_args(cmd[1:]), "run")
    users = [arg for op, arg in instructions if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    names = [op for op, _ in instructions]
    assert names.index("USER") < names.index("CMD")
    assert ("EXPOSE", "3000") in instructions


def test_dockerfile_healthcheck_probes_healthz_with_python() -> None:
    healthcheck = dict(dockerfile_instructions())["HEALTHCHECK"]
    assert "python" in healthcheck and "/healthz" in healthcheck and "curl" not in healthcheck


def test_app_manifest_asks_for_the_permissions_and_events_the_handlers_use() -> None:
    import yaml

    manifest = yaml.safe_load((ROOT / "app.yml").read_text())
    assert manifest["hook_attributes"]["url"].endswith("/webhooks")
    permissions = manifest["default_permissions"]
    assert permissions["checks"] == "write" and permissions["pull_requests"] == "write"
    assert permissions["metadata"] == "read"
    events = set(manifest["default_events"])
    assert {"pull_request", "push", "check_suite", "check_run", "issue_comment"} <= events
    assert "installation_repositories" in events

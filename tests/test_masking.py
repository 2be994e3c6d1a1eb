"""Secrets never printed: URL credentials, password parameters and known values are masked."""

from __future__ import annotations

from pathlib import Path

import pytest

from ghapp.cli import main
from ghapp.masking import mask, url_secrets
from ghapp.store.service import Store
from tests.store.conftest import make_delivery


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql://u:pw@db:5432/ghapp", "postgresql://u:***@db:5432/ghapp"),
        (
            "cannot open 'postgresql+psycopg://u:pw@db/x'",
            "cannot open 'postgresql+psycopg://u:***@db/x'",
        ),
        (
            "https://x-access-token:ghs_abc@ghe.example.com/api/v3",
            "https://x-access-token:***@ghe.example.com/api/v3",
        ),
        (
            "GITHUB_API_URL=https://ghp_abc@ghe.example.com/api/v3",
            "GITHUB_API_URL=https://***@ghe.example.com/api/v3",
        ),
        ("postgresql://u:p@ss@db/x", "postgresql://u:***@db/x"),
        ("postgresql://postgres@db/x", "postgresql://postgres@db/x"),
        (
            "postgresql://db/x?sslmode=require&password=pw",
            "postgresql://db/x?sslmode=require&password=***",
        ),
        ("host=db user=u password=pw dbname=x", "host=db user=u password=*** dbname=x"),
        (
            "no secrets here: https://github.com/acme/shop",
            "no secrets here: https://github.com/acme/shop",
        ),
    ],
)
def test_credentials_in_urls_and_parameters_are_masked(text: str, shown: str) -> None:
    assert mask(text) == shown


def test_known_secret_values_are_masked_anywhere() -> None:
    assert (
        mask("signature made with hunter22 failed", ["hunter22"])
        == "signature made with *** failed"
    )


def test_very_short_known_values_are_left_alone_rather_than_mangling_every_line() -> None:
    assert mask("a pw b", ["pw"]) == "a pw b"


def test_a_url_reports_the_secret_it_carries_raw_and_decoded() -> None:
    assert set(url_secrets("postgresql://u:p%40ss@db/x")) == {"p%40ss", "p@ss"}
    assert url_secrets("https://ghp_token@ghe.example.com") == ("ghp_token",)
    assert url_secrets("postgresql://postgres@db/x") == ()
    assert url_secrets("sqlite:///ghapp.db") == ()


@pytest.mark.parametrize("output", ["text", "json"])
def test_ghapp_deliveries_masks_credentials_quoted_in_stored_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], output: str
) -> None:
    url = f"sqlite:///{tmp_path / 'ghapp.db'}"
    queue = Store.open(url, max_attempts=1).queue
    queue.enqueue(make_delivery("d-1"))
    job = queue.claim("worker-1")
    assert job is not None
    queue.fail(job, "GET https://x-access-token:ghs_SECRET@ghe.example.com/api/v3/app: 401")
    args = ["deliveries", "list", "--status", "all", "--format", output, "--database-url", url]
    assert main(args) == 0
    shown = capsys.readouterr().out
    assert "d-1" in shown and "ghs_SECRET" not in shown and "x-access-token:***@" in shown

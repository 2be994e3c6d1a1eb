"""Secrets never printed: URL credentials, password parameters and known values are masked."""

from __future__ import annotations

import pytest

from ghapp.masking import mask, url_secrets


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

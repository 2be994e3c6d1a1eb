"""Readiness: the database answers and is migrated, and the private key can sign."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ghapp.app.health import readiness
from ghapp.store.db import make_engine
from ghapp.store.health import database_problem
from ghapp.store.migrations import migrate
from tests.apphelpers import private_key_pem


def test_ready_when_migrated_and_the_key_signs(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ghapp.db'}")
    migrate(engine)
    assert asyncio.run(readiness(engine, private_key_pem())()) is None


def test_a_database_never_migrated_is_not_ready(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ghapp.db'}")
    problem = database_problem(engine)
    assert problem is not None and problem.startswith(
        "migrations not applied: the database is at no revision"
    )


def test_an_unreachable_database_is_named_in_one_line(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'ghapp.db'}")
    problem = database_problem(engine)
    assert problem is not None and problem.startswith("database unreachable: ")
    assert "\n" not in problem


def test_a_key_that_cannot_sign_is_the_reason(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ghapp.db'}")
    migrate(engine)
    garbled = "-----BEGIN RSA PRIVATE KEY-----\nZ2FyYmxlZA==\n-----END RSA PRIVATE KEY-----\n"
    assert asyncio.run(readiness(engine, garbled)()) == (
        "private key: the key cannot be loaded (Could not deserialize key data)"
    )

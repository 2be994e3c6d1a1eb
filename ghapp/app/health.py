"""Readiness of `ghapp serve`: the database is reachable and migrated, and the key can sign."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlalchemy import Engine

from ghapp.github.auth import signing_problem
from ghapp.store.health import database_problem

CHECK_TIMEOUT = 10.0  # seconds; a probe that hangs is a database that does not answer


def readiness(engine: Engine, private_key: str) -> Callable[[], Awaitable[str | None]]:
    """The `ready` callback of ghapp.app.server.create_app: None, or why the app is not ready."""

    async def ready() -> str | None:
        try:
            # In a thread: a database that does not answer must not stall the event loop.
            problem = await asyncio.wait_for(
                asyncio.to_thread(database_problem, engine), CHECK_TIMEOUT
            )
        except TimeoutError:
            problem = f"database unreachable: no answer within {CHECK_TIMEOUT:.0f}s"
        if problem:
            return problem
        key = signing_problem(private_key)
        return f"private key: {key}" if key else None

    return ready

"""Installation tokens, minted with the App's JWT and cached per installation.

githubkit signs the JWT (pyjwt, RS256, `iat` one minute in the past against clock drift, `exp`
ten minutes after `iat`). Tokens live an hour; we reuse one until five minutes before it expires
so a long evaluation never runs with a token that dies half-way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives.serialization import load_pem_private_key

REFRESH_MARGIN = timedelta(minutes=5)
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class InstallationToken:
    token: str
    expires_at: datetime


class InstallationTokens:
    """A per-installation token cache; concurrent callers for one installation mint once."""

    def __init__(self, mint: Callable[[int], Awaitable[InstallationToken]], clock: Clock) -> None:
        self._mint = mint
        self._clock = clock
        self._tokens: dict[int, InstallationToken] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    async def get(self, installation_id: int) -> str:
        """A token valid for at least five more minutes (minting one when needed)."""
        lock = self._locks.setdefault(installation_id, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(installation_id)
            if cached is None or cached.expires_at - REFRESH_MARGIN <= self._clock():
                cached = await self._mint(installation_id)
                self._tokens[installation_id] = cached
            return cached.token

    def forget(self, installation_id: int) -> None:
        """Drop a token GitHub refused (401), so the next call mints a fresh one."""
        self._tokens.pop(installation_id, None)


def signing_problem(pem: str) -> str | None:
    """Why `pem` cannot sign the App's JWTs (one line, never the key), or None when it can."""
    import jwt
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        key = load_private_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        reason = str(exc).split(". ")[0].strip().rstrip(".") or type(exc).__name__
        return f"the key cannot be loaded ({reason})"
    if not isinstance(key, rsa.RSAPrivateKey):
        return f"GitHub App keys are RSA, this one is {type(key).__name__.lstrip('_')}"
    try:
        jwt.encode({"iss": "readiness"}, key, algorithm="RS256")
    except Exception as exc:  # any failure to sign is the answer, not a crash
        return f"the key cannot sign ({type(exc).__name__})"
    return None


@lru_cache(maxsize=4)
def load_private_key(pem: str) -> Any:
    """The parsed RSA key. Parsing validates the key, which takes a noticeable fraction of a
    second, so it is done once per process instead of once per JWT."""
    return load_pem_private_key(pem.encode(), password=None)


def parse_expiry(value: str) -> datetime:
    """GitHub's `expires_at` ("2024-01-01T00:00:00Z") as an aware datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))

"""The REST rate-limit budget per installation, as GitHub last reported it.

Every response carries `x-ratelimit-remaining`, `x-ratelimit-limit` and `x-ratelimit-reset`
(epoch seconds) for the token that made the call. Background work (the dashboard's refresh of
default-branch evaluations) asks `spare` how many calls it may spend and `wait` how long to
back off, so it never eats the budget that webhooks (pull requests people are waiting on) need:
it keeps `reserve` of the limit untouched until the window resets.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

RESERVE_FRACTION = 0.2  # of the hourly limit, kept for webhook-driven work
MIN_RESERVE = 500


@dataclass(frozen=True)
class Quota:
    remaining: int
    limit: int
    reset: float  # epoch seconds when `remaining` goes back to `limit`

    @property
    def reserve(self) -> int:
        return max(MIN_RESERVE, int(self.limit * RESERVE_FRACTION))


class RateBudget:
    """The last quota seen per installation (None: the App's JWT), shared across threads."""

    def __init__(self) -> None:
        self._quotas: dict[int | None, Quota] = {}
        self._lock = threading.Lock()

    def observe(self, installation: int | None, headers: Mapping[str, str]) -> None:
        """Record the quota a response reported (responses without the headers are ignored)."""
        try:
            quota = Quota(
                remaining=int(headers["x-ratelimit-remaining"]),
                limit=int(headers["x-ratelimit-limit"]),
                reset=float(headers["x-ratelimit-reset"]),
            )
        except (KeyError, ValueError):
            return
        if headers.get("x-ratelimit-resource", "core") != "core":
            return  # search and GraphQL have budgets of their own
        with self._lock:
            self._quotas[installation] = quota

    def quota(self, installation: int | None) -> Quota | None:
        with self._lock:
            return self._quotas.get(installation)

    def spare(self, installation: int | None, now: float) -> int | None:
        """Calls background work may still make before the reset (None: not known yet)."""
        quota = self.quota(installation)
        if quota is None:
            return None
        if now >= quota.reset:
            return quota.limit - quota.reserve  # a new window has begun
        return max(0, quota.remaining - quota.reserve)

    def wait(self, installation: int | None, now: float) -> float | None:
        """Seconds background work should wait (until the reset), or None to go ahead."""
        quota = self.quota(installation)
        if quota is None or now >= quota.reset or quota.remaining > quota.reserve:
            return None
        return max(1.0, quota.reset - now)

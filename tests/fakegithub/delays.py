"""Slow GitHub on demand: hold chosen requests back before the fake answers them.

`with_delays(create_fake_app(fake), delays)` wraps the fake's ASGI app; `delays.hold_next(...)`
makes the next matching requests wait (the fake's event loop keeps serving everything else), so a
test can keep a job of `ghapp serve` busy for as long as it needs, for example to kill the server
in the middle of it. `delays.held` is set as soon as a held request has arrived.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

App = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


@dataclass
class _Hold:
    method: str
    path_regex: re.Pattern[str]
    seconds: float
    times: int


class Delays:
    """Which requests to hold back, and for how long (thread-safe: tests set, the fake reads)."""

    def __init__(self) -> None:
        self._holds: list[_Hold] = []
        self._lock = threading.Lock()
        self.held = threading.Event()  # a held request has arrived

    def hold_next(self, method: str, path_regex: str, seconds: float, times: int = 1) -> None:
        """Delay the next `times` requests matching `method` and `path_regex` by `seconds`."""
        with self._lock:
            self._holds.append(_Hold(method.upper(), re.compile(path_regex), seconds, times))

    def take(self, method: str, path: str) -> float:
        """Seconds to hold this request (0: answer at once); consumes one use of a rule."""
        with self._lock:
            for hold in self._holds:
                if hold.method == method and hold.path_regex.search(path):
                    hold.times -= 1
                    if hold.times <= 0:
                        self._holds.remove(hold)
                    self.held.set()
                    return hold.seconds
        return 0.0


def with_delays(app: App, delays: Delays) -> App:
    """`app` with the requests `delays` names answered late."""

    async def delayed(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            wait = delays.take(str(scope["method"]), str(scope["path"]))
            if wait > 0:
                await asyncio.sleep(wait)
        await app(scope, receive, send)

    return delayed

"""Routing deliveries to callbacks by event name and action, over the raw JSON payload.

githubkit's strict webhook models reject many real payloads, so nothing here parses them into
models: callbacks read the dict. Routes are an ordered list of (event, action or None for any,
callback); every matching route runs, in the order added.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ghapp.app.delivery import Delivery


@dataclass(frozen=True)
class Event:
    """A delivery with its decoded payload, and the services handlers use (see handlers.Services)."""

    delivery: Delivery
    payload: Mapping[str, Any]
    services: Any = None
    # Set when the queue gave up on this delivery (dead-lettered): why. Evaluation handlers then
    # complete their check run saying so instead of evaluating (ghapp.app.handlers.give_up).
    given_up: str | None = None

    @property
    def name(self) -> str:
        return self.delivery.event

    @property
    def action(self) -> str | None:
        return self.delivery.action

    @property
    def repo(self) -> str | None:
        return self.delivery.repository

    @property
    def sender(self) -> Mapping[str, Any]:
        sender = self.payload.get("sender")
        return sender if isinstance(sender, Mapping) else {}

    @property
    def sender_is_bot(self) -> bool:
        return self.sender.get("type") == "Bot" or str(self.sender.get("login", "")).endswith(
            "[bot]"
        )


Callback = Callable[[Event], Awaitable[None]]


@dataclass(frozen=True)
class Route:
    event: str
    action: str | None
    callback: Callback
    skip_bots: bool = False

    def matches(self, event: Event) -> bool:
        return (
            self.event == event.name
            and (self.action is None or self.action == event.action)
            and not (self.skip_bots and event.sender_is_bot)
        )


class Router:
    """An ordered list of routes; `add` is the registration point for other modules."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(
        self, event: str, action: str | None, callback: Callback, *, skip_bots: bool = False
    ) -> None:
        """Run `callback` for `event` (and `action`; None: any action). `skip_bots` ignores
        deliveries whose sender is a bot (the app itself included), e.g. for comment commands."""
        self.routes.append(Route(event, action, callback, skip_bots))

    def match(self, event: Event) -> list[Callback]:
        """The callbacks for this event, in registration order."""
        return [route.callback for route in self.routes if route.matches(event)]

    async def dispatch(self, event: Event) -> int:
        """Run every matching callback in order; how many ran."""
        callbacks = self.match(event)
        for callback in callbacks:
            await callback(event)
        return len(callbacks)

"""The boundary between webhook intake and the work it triggers.

Intake verifies the signature, builds a `Delivery` and hands it to a `DeliverySink`; the sink
decides when and where the work runs. The in-memory sink (ghapp.app.memory) runs jobs on an
asyncio task in the same process; the durable sink (ghapp.store) writes the delivery to the
database first and lets workers claim it. `accept` must not return before the delivery is as
safe as the sink promises (durable sinks: committed), and raises to make intake answer 5xx.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class Delivery:
    """One webhook delivery as GitHub sent it (payload kept raw: routing reads the JSON itself)."""

    id: str  # X-GitHub-Delivery; a redelivery keeps the same id
    event: str  # X-GitHub-Event
    action: str | None
    installation_id: int | None
    repository: str | None  # "owner/name"
    payload: bytes
    received_at: datetime
    # (coalescing key, head sha, GitHub's time of the PR state), read from the payload by intake
    # (ghapp.app.webhooks.coalescing_of) so the durable sink need not parse the JSON again;
    # None when not computed (the queue then reads the payload itself). Not part of identity.
    coalescing: tuple[str | None, str | None, float | None] | None = field(
        default=None, compare=False, repr=False
    )


class PermanentFailure(Exception):
    """Processing failed in a way no retry can fix (the payload's shape, an evaluation over its
    budget): queues dead-letter the delivery at once, with this message as the reason."""

    permanent = True  # what the queues look for (duck-typed, like RetryableError's `delay`)


class DeliverySink(Protocol):
    async def accept(self, delivery: Delivery) -> bool:
        """Take ownership of the delivery. False when this delivery id was seen before."""
        ...

"""The processor: one delivery in, handlers run, errors sorted into "retry later" and "give up".

Both sinks call `Processor.process`: the in-memory one (ghapp.app.memory) and the durable queue
(ghapp.store). A `RetryableError` (GitHub 5xx, rate limit with its delay, network) propagates so
the queue retries; permanent failures (the repository is gone, GitHub refused the content, the
payload lacks what the handler needs) are logged and swallowed, since retrying cannot help.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ghapp.app.delivery import Delivery
from ghapp.app.handlers import Evaluator, Services, register
from ghapp.app.logs import delivery_fields, log_json
from ghapp.app.memory import InMemoryMemory, Memory
from ghapp.app.router import Event, Router
from ghapp.commands.audit import AuditLog
from ghapp.core.catalog import Catalog
from ghapp.github.client import GitHubFactory
from ghapp.github.config import OrgConfigs
from ghapp.github.errors import GitHubError, RetryableError
from ghapp.github.snapshot import Caches
from ghapp.settings import Settings

__all__ = ["Processor", "RetryableError"]
logger = logging.getLogger("ghapp.processor")
PERMANENT = (GitHubError, ValueError, KeyError, TypeError)


def _default_evaluator() -> Evaluator:
    from ghapp.core.evaluate import evaluate

    return evaluate


class Processor:
    """Routes each delivery to the handlers registered on `self.router`."""

    def __init__(
        self,
        settings: Settings,
        github: GitHubFactory,
        *,
        catalog: Catalog,
        clock: Callable[[], datetime],
        memory: Memory | None = None,
        caches: Caches | None = None,
        evaluator: Evaluator | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self.settings = settings
        self.github = github
        self.router = Router()
        self.services = Services(
            settings=settings,
            github=github,
            catalog=catalog,
            clock=clock,
            memory=memory or InMemoryMemory(),
            evaluator=evaluator or _default_evaluator(),
            org_configs=OrgConfigs(clock),
            caches=caches or Caches(),
            audit=audit,
        )
        register(self.router, self.services)

    @property
    def requested_actions(self) -> dict[str, Any]:
        """Check-run button handlers by identifier; others add e.g. "claim-unowned" here."""
        return self.services.requested_actions

    async def process(self, delivery: Delivery) -> None:
        """Run the handlers for one delivery; raise RetryableError when it should be retried."""
        fields = delivery_fields(delivery)
        try:
            payload = json.loads(delivery.payload)
        except ValueError as exc:
            log_json(
                logger, logging.ERROR, "payload is not JSON, dropped", error=str(exc), **fields
            )
            return
        if not isinstance(payload, dict):
            log_json(logger, logging.ERROR, "payload is not an object, dropped", **fields)
            return
        event = Event(delivery, payload, self.services)
        before = self.github.counter.total
        try:
            ran = await self.router.dispatch(event)
        except RetryableError as exc:
            log_json(
                logger,
                logging.WARNING,
                "transient failure, will retry",
                error=str(exc),
                delay=exc.delay,
                api_calls=self.github.counter.total - before,
                **fields,
            )
            raise
        except PERMANENT as exc:
            log_json(
                logger,
                logging.ERROR,
                "permanent failure, dropped",
                error=repr(exc),
                api_calls=self.github.counter.total - before,
                **fields,
            )
            return
        log_json(
            logger,
            logging.INFO,
            "processed",
            handlers=ran,
            api_calls=self.github.counter.total - before,
            **fields,
        )

"""The processor: one delivery in, handlers run, errors sorted into "retry later" and "give up".

Both sinks call `Processor.process`: the in-memory one (ghapp.app.memory) and the durable queue
(ghapp.store). A `RetryableError` (GitHub 5xx, rate limit with its delay, network) propagates so
the queue retries. What retrying cannot fix is never retried: when GitHub refuses for good (the
repository is gone, the content was rejected) the delivery is logged and done; when the payload
does not have the shape the handler needs, or an evaluation could not finish, `PermanentFailure`
propagates and the queue dead-letters the delivery at once, with the reason. Any other error
(a bug, the database away) is retried by the queue as before.

When a queue gives up on a delivery (dead-lettered: a permanent failure, its last attempt
failed, or its worker died on every attempt), it calls `Processor.give_up`: an evaluation's check
run that was left `in_progress` (a transient error on the last attempt, say) is completed saying
the evaluation failed, with a conclusion per policy, so the app never stays silent on a commit.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ghapp.app.delivery import Delivery, PermanentFailure
from ghapp.app.handlers import Evaluator, Services, give_up, register
from ghapp.app.memory import InMemoryMemory, Memory
from ghapp.app.refresh import register as register_refresh
from ghapp.app.router import Event, Router
from ghapp.app.sandbox import Sandbox, ThreadSandbox
from ghapp.commands.audit import AuditLog
from ghapp.core.catalog import Catalog
from ghapp.github.client import GitHubFactory
from ghapp.github.config import OrgConfigs
from ghapp.github.errors import GitHubError, RetryableError
from ghapp.github.snapshot import Caches
from ghapp.logs import delivery_fields, log_json
from ghapp.settings import Settings

__all__ = ["PermanentFailure", "Processor", "RetryableError"]
logger = logging.getLogger("ghapp.processor")
# What a payload of an unexpected shape raises in a handler (`payload["x"]` on a list, int("?"),
# a missing key, ...): the same payload fails the same way every time.
SHAPE_ERRORS = (ValueError, LookupError, TypeError, AttributeError, RecursionError)


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
        sandbox: Sandbox | None = None,
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
            sandbox=sandbox or ThreadSandbox(),
        )
        register(self.router, self.services)
        register_refresh(self.router)

    @property
    def requested_actions(self) -> dict[str, Any]:
        """Check-run button handlers by identifier; others add e.g. "claim-unowned" here."""
        return self.services.requested_actions

    async def process(self, delivery: Delivery) -> None:
        """Run the handlers for one delivery; raise RetryableError when it should be retried,
        PermanentFailure when it never can succeed."""
        fields = delivery_fields(delivery)
        try:
            payload = json.loads(delivery.payload)
        except (ValueError, RecursionError) as exc:
            raise self._permanent(f"the payload is not JSON: {exc}", fields) from None
        if not isinstance(payload, dict):
            raise self._permanent("the payload is not a JSON object", fields)
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
        except GitHubError as exc:
            log_json(
                logger,
                logging.ERROR,
                "GitHub refused for good, dropped",
                error=repr(exc),
                api_calls=self.github.counter.total - before,
                **fields,
            )
            return
        except PermanentFailure as exc:  # e.g. EvaluationFailed: keep its type for the caller
            self._permanent(str(exc), fields, self.github.counter.total - before)
            raise
        except SHAPE_ERRORS as exc:
            reason = f"the payload does not have the expected shape: {type(exc).__name__}: {exc}"
            raise self._permanent(reason, fields, self.github.counter.total - before) from exc
        log_json(
            logger,
            logging.INFO,
            "processed",
            handlers=ran,
            api_calls=self.github.counter.total - before,
            **fields,
        )

    async def give_up(self, delivery: Delivery, reason: str) -> None:
        """The queue gave up on `delivery` for `reason`: complete the check run its evaluation
        started (ghapp.app.handlers.give_up). Never raises: what cannot be reported is logged,
        and the reconciliation pass re-checks a run left `in_progress`."""
        fields = delivery_fields(delivery)
        try:
            payload = json.loads(delivery.payload)
        except (ValueError, RecursionError):
            return
        if not isinstance(payload, dict):
            return
        event = Event(delivery, payload, self.services, given_up=reason)
        try:
            ran = await give_up(event)
        except Exception as exc:
            log_json(
                logger,
                logging.ERROR,
                "could not report the given-up evaluation",
                error=repr(exc),
                **fields,
            )
            return
        if ran:  # its run now says so, unless a result or a failure had completed it already
            log_json(logger, logging.WARNING, "evaluation given up", error=reason, **fields)

    @staticmethod
    def _permanent(
        reason: str, fields: dict[str, Any], api_calls: int | None = None
    ) -> PermanentFailure:
        log_json(
            logger,
            logging.ERROR,
            "permanent failure, not retried",
            error=reason,
            api_calls=api_calls,
            **fields,
        )
        return PermanentFailure(reason)

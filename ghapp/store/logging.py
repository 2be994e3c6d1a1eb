"""Structured JSON logs that carry the delivery being worked on, on every line.

`bind(...)` sets context variables (delivery id, event, installation, repository, PR); the
`JsonFormatter` adds them to each record, including lines logged deep inside the processor or the
GitHub client, and across `asyncio.to_thread` (which copies the context).
A message that is already a JSON object (ghapp.app.logs.log_json) is merged, not nested.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from ghapp.app.delivery import Delivery

_context: ContextVar[dict[str, Any] | None] = ContextVar("ghapp_log_context", default=None)


@contextlib.contextmanager
def bind(**fields: Any) -> Iterator[None]:
    """Add `fields` to every log line inside the block (None values are left out)."""
    merged = {**(_context.get() or {}), **{k: v for k, v in fields.items() if v is not None}}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


def bind_delivery(delivery: Delivery, pull_request: str | None = None) -> Any:
    """`bind` the fields that identify a delivery: id, event, action, installation, repo, PR."""
    return bind(
        delivery=delivery.id,
        event=delivery.event,
        action=delivery.action,
        installation=delivery.installation_id,
        repository=delivery.repository,
        pr=pull_request,
    )


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, bound context, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        entry.update(getattr(record, "ghapp_context", None) or _context.get() or {})
        message = record.getMessage()
        parsed = _json_object(message)
        if parsed is None:
            entry["msg"] = message
        else:
            entry.update(parsed)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def _json_object(message: str) -> dict[str, Any] | None:
    if not message.startswith("{"):
        return None
    try:
        value = json.loads(message)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def capture_context() -> None:
    """Stamp the bound context on each record when it is created (idempotent), so handlers
    that format later or elsewhere (queues, test capture) still see it."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "ghapp_context", False):
        return

    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        record.ghapp_context = _context.get()
        return record

    make_record.ghapp_context = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make_record)


def configure_json_logging(level: str | int = "INFO") -> None:
    """Send every logger's records to stderr as JSON lines at `level`."""
    capture_context()
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level if isinstance(level, int) else level.upper())

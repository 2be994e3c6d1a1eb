"""The one logging system of every ghapp process (serve, worker, setup, operator commands).

Each line carries time, level, logger and message, plus the delivery being worked on
(`bind`/`bind_delivery` set it in a context variable that follows `asyncio.to_thread`) and the
fields given to `log_json`. LOG_FORMAT picks JSON lines (the default, for log pipelines) or
`pretty` lines for people; LOG_LEVEL uses Probot's names (trace … fatal, silent). Every line is
masked (ghapp.masking) before it is written, so no error can print a password.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any, TextIO

from ghapp.app.delivery import Delivery
from ghapp.masking import mask

TRACE = 5
SILENT = logging.CRITICAL + 10
logging.addLevelName(TRACE, "TRACE")
LEVELS = {
    "trace": TRACE,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.CRITICAL,
    "critical": logging.CRITICAL,
    "silent": SILENT,
}
FORMATS = ("json", "pretty")
# Libraries that narrate every request or migration step at INFO: kept to warnings unless the
# operator asks for debug or trace.
CHATTY = ("alembic", "httpx", "httpcore", "hishel", "uvicorn.access", "multipart")
_NAMES = {TRACE: "trace", logging.WARNING: "warn", logging.CRITICAL: "fatal"}

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
    return bind(**delivery_fields(delivery), pr=pull_request)


def delivery_fields(delivery: Delivery) -> dict[str, Any]:
    """The fields every log line about a delivery carries."""
    return {
        "delivery": delivery.id,
        "event": delivery.event,
        "action": delivery.action,
        "installation": delivery.installation_id,
        "repository": delivery.repository,
    }


def log_json(logger: logging.Logger, level: int, message: str, **fields: Any) -> None:
    """Log `message` with `fields` as separate keys of the line (None fields are dropped)."""
    if logger.isEnabledFor(level):
        kept = {k: v for k, v in fields.items() if v is not None}
        logger.log(level, message, extra={"ghapp_fields": kept})


def level_number(name: str) -> int:
    """The logging level for a LOG_LEVEL name (Probot's names and Python's)."""
    return LEVELS.get(name.lower(), logging.INFO)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, msg, bound context, fields, exception."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return mask(json.dumps(self.entry(record), default=str), self.secrets)

    def entry(self, record: logging.LogRecord) -> dict[str, Any]:
        """The line's fields, in the order they are written."""
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": _NAMES.get(record.levelno, record.levelname.lower()),
            "logger": record.name,
        }
        entry.update(getattr(record, "ghapp_context", None) or _context.get() or {})
        message = record.getMessage()
        parsed = _json_object(message)  # older call sites log a JSON object as the message
        if parsed is None:
            entry["msg"] = message
        else:
            entry.update(parsed)
        entry.update(getattr(record, "ghapp_fields", None) or {})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return entry


class PrettyFormatter(JsonFormatter):
    """`12:00:01.250 INFO  ghapp.server: delivery accepted  delivery=… repository=…`."""

    def format(self, record: logging.LogRecord) -> str:
        entry = self.entry(record)
        stamp = str(entry.pop("time"))[11:23]
        level = str(entry.pop("level")).upper()
        logger, message = entry.pop("logger"), entry.pop("msg", "")
        exception = entry.pop("exception", None)
        fields = "  ".join(f"{k}={_pretty_value(v)}" for k, v in entry.items())
        line = f"{stamp} {level:<5} {logger}: {message}" + (f"  {fields}" if fields else "")
        if exception:
            line += "\n" + str(exception)
        return mask(line, self.secrets)


def _pretty_value(value: Any) -> str:
    if not isinstance(value, str):
        return json.dumps(value, default=str, separators=(",", ":"), ensure_ascii=False)
    return json.dumps(value) if not value or any(c.isspace() for c in value) else value


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


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is at each line (a replaced stderr, e.g. under test
    capture, is followed instead of a closed one being written to)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass  # always sys.stderr


def configure_logging(
    level: str = "info",
    log_format: str = "json",
    *,
    secrets: Iterable[str] = (),
    stream: TextIO | None = None,
) -> None:
    """Send every logger's records to stderr (or `stream`) as JSON or pretty lines at `level`,
    masking `secrets` (and URL credentials) in each line."""
    capture_context()
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    formatter = PrettyFormatter if log_format == "pretty" else JsonFormatter
    handler.setFormatter(formatter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    number = level_number(level)
    root.setLevel(number)
    chatty = max(number, logging.WARNING) if number >= logging.INFO else max(number, logging.INFO)
    if number <= TRACE:
        chatty = number
    for name in CHATTY:
        logging.getLogger(name).setLevel(chatty)

"""Structured logs: one JSON object per line, so deliveries can be traced by id across processes."""

from __future__ import annotations

import json
import logging
from typing import Any

from ghapp.app.delivery import Delivery


def log_json(logger: logging.Logger, level: int, message: str, **fields: Any) -> None:
    """Log `message` plus fields as one JSON line (None fields are dropped)."""
    if logger.isEnabledFor(level):
        record = {"msg": message, **{k: v for k, v in fields.items() if v is not None}}
        logger.log(level, json.dumps(record, default=str, sort_keys=False))


def delivery_fields(delivery: Delivery) -> dict[str, Any]:
    """The fields every log line about a delivery carries."""
    return {
        "delivery": delivery.id,
        "event": delivery.event,
        "action": delivery.action,
        "installation": delivery.installation_id,
        "repository": delivery.repository,
    }


def configure_logging(level: str) -> None:
    """Plain message output (the messages are already JSON) at the configured level."""
    numeric = {"trace": logging.DEBUG, "warn": logging.WARNING, "fatal": logging.CRITICAL}.get(
        level, getattr(logging, level.upper(), logging.INFO)
    )
    logging.basicConfig(level=numeric, format="%(message)s")

"""Kept so existing imports work: the logging system is `ghapp.logs`."""

from ghapp.logs import configure_logging, delivery_fields, log_json

__all__ = ["configure_logging", "delivery_fields", "log_json"]

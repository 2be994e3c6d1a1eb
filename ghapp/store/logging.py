"""Kept so existing imports work: the logging system is `ghapp.logs`."""

from ghapp.logs import JsonFormatter, bind, bind_delivery, capture_context

__all__ = ["JsonFormatter", "bind", "bind_delivery", "capture_context"]

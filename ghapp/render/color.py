"""ANSI colour for the terminal report: severities and the conclusion, nothing else."""

from __future__ import annotations

_CODES = {
    "error": "31",  # red
    "failure": "1;31",
    "warning": "33",  # yellow
    "neutral": "33",
    "notice": "36",  # cyan
    "success": "1;32",  # bold green
}


def paint(text: str, key: str, enabled: bool) -> str:
    """`text` wrapped in the colour for a severity or conclusion `key` (as is when disabled)."""
    code = _CODES.get(key)
    return f"\x1b[{code}m{text}\x1b[0m" if enabled and code else text

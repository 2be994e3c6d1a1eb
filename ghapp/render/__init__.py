"""One renderer for every surface: terminal text, JSON, SARIF and markdown (check-run summary).

Each takes a `Report` and returns a string; nothing here knows about GitHub's API.
"""

from __future__ import annotations

import json

from ghapp.core.model import Report
from ghapp.render.common import ICONS, UNOWNED, owners_by_team
from ghapp.render.markdown import SUMMARY_LIMIT, render_markdown
from ghapp.render.sarif import render_sarif
from ghapp.render.text import render_text

__all__ = [
    "ICONS",
    "SUMMARY_LIMIT",
    "UNOWNED",
    "owners_by_team",
    "render_json",
    "render_markdown",
    "render_sarif",
    "render_text",
]


def render_json(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2, ensure_ascii=False)

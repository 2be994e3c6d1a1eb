"""The one Jinja2 environment every page renders with (autoescaped HTML, templates in the package)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse


@lru_cache(maxsize=1)
def environment() -> Environment:
    """Templates from `ghapp/web/templates`; undefined variables are errors, not blanks."""
    return Environment(
        loader=PackageLoader("ghapp.web", "templates"),
        autoescape=select_autoescape(("html", "xml", "svg")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_page(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """An HTML response from `template` with `context`."""
    html = environment().get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code)

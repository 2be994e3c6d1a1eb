"""The one Jinja2 environment every page renders with (autoescaped HTML, templates in the package)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from starlette.responses import HTMLResponse

_CODE_SPAN = re.compile(r"`([^`\n]+)`")


@lru_cache(maxsize=1)
def environment() -> Environment:
    """Templates from `ghapp/web/templates`; undefined variables are errors, not blanks."""
    env = Environment(
        loader=PackageLoader("ghapp.web", "templates"),
        autoescape=select_autoescape(("html", "xml", "svg")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["codespans"] = codespans
    return env


def codespans(value: object) -> Markup:
    """Text escaped for HTML, with its `backtick spans` shown as <code>."""
    out, last, text = [], 0, str(value)
    for match in _CODE_SPAN.finditer(text):
        out += [escape(text[last : match.start()]), Markup("<code>%s</code>") % match.group(1)]
        last = match.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


def render_page(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """An HTML response from `template` with `context`."""
    html = environment().get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code)

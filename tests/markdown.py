"""Markdown as GitHub renders it, for tests: cmark-gfm (GitHub's own engine, with its table,
autolink and strikethrough extensions). Raw HTML is let through (CMARK_OPT_UNSAFE), which is
stricter than GitHub's sanitiser: any HTML a PR author smuggles in shows up as a tag."""

from __future__ import annotations

import pytest


def github_html(markdown: str) -> str:
    """`markdown` rendered to HTML the way github.com does (before sanitising)."""
    cmarkgfm = pytest.importorskip("cmarkgfm")
    from cmarkgfm.cmark import Options

    html: str = cmarkgfm.github_flavored_markdown_to_html(
        markdown, options=Options.CMARK_OPT_UNSAFE
    )
    return html

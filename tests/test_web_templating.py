"""The page layout every server-rendered page extends: escaped, accessible, readable in a browser."""

from __future__ import annotations

from typing import Any

from ghapp.web.templating import environment
from tests.browser import screenshot


def test_user_text_is_escaped_in_pages() -> None:
    html = (
        environment()
        .get_template("message.html")
        .render(heading="Not found", message="<img src=x onerror=alert(1)>")
    )
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_layout_renders_in_chromium_with_a_heading_and_a_phone_viewport(browser_page: Any) -> None:
    html = environment().get_template("message.html").render(heading="Not found", message="Gone.")
    browser_page.set_viewport_size({"width": 390, "height": 844})
    browser_page.set_content(html)
    assert browser_page.get_by_role("heading", level=1).inner_text() == "Not found"
    assert browser_page.locator('meta[name="viewport"]').count() == 1
    assert browser_page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(browser_page, "layout-message-phone")

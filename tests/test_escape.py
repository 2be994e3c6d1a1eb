"""User-controlled text is inert in markdown and on terminals (ghapp.render.escape)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from ghapp.render.escape import ZWSP, code, is_handle, mention, terminal, text
from tests.markdown import github_html


class _Live(HTMLParser):
    """Text GitHub could turn into mentions or links (outside code), and the tags rendered."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.tags: set[str] = set()
        self._code = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.tags.add(tag)
        self._code += tag in ("code", "pre")

    def handle_endtag(self, tag: str) -> None:
        self._code -= tag in ("code", "pre")

    def handle_data(self, data: str) -> None:
        if not self._code:
            self.text.append(data)


def rendered(markdown: str) -> tuple[str, set[str]]:
    """(live text, tags) of `markdown` as GitHub's renderer (cmark-gfm) shows it."""
    parser = _Live()
    parser.feed(github_html(markdown))
    return " ".join(parser.text), parser.tags


def assert_inert(markdown: str) -> None:
    """No mention of @victim, no link, image or other HTML a PR author or commenter could add."""
    live, tags = rendered(markdown)
    assert "@victim" not in live, markdown
    assert not tags & {"a", "img", "script", "iframe", "details"}, markdown


def visible(markdown: str) -> str:
    """Roughly what a reader sees of `text()` output: backslash escapes and entities undone."""
    shown = re.sub(r"\\(.)", r"\1", markdown).replace(ZWSP, "").replace("&#58;", ":")
    return shown.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _code_content(span: str) -> str:
    """What CommonMark shows for an inline code span (fence and one padding space removed)."""
    m = re.fullmatch(r"(`+)(.*)\1", span, flags=re.S)
    assert m is not None, span
    inner = m.group(2)
    if inner.startswith(" ") and inner.endswith(" ") and inner.strip():
        inner = inner[1:-1]
    assert m.group(1) not in inner  # nothing inside closes the span
    return inner


@pytest.mark.parametrize(
    "value",
    ["plain", "a`b", "``double``", "`start", "end`", "x ``` y", " spaced ", "@victim"],
)
def test_a_code_span_cannot_be_closed_from_inside(value: str) -> None:
    assert _code_content(code(value)) == value


def test_code_span_in_a_table_escapes_the_cell_separator() -> None:
    assert code("a|b", in_table=True) == "`a\\|b`"


def test_code_span_is_one_line() -> None:
    assert "\n" not in code("a\nb\r\nc")


@pytest.mark.parametrize(
    ("value", "forbidden"),
    [
        ("@victim-user", "@victim-user"),
        ("@acme/secops", "@acme/secops"),
        ("<img src=x onerror=alert(1)>", "<img"),
        ("[click](https://evil.example)", "](https"),
        ("![x](https://evil.example/p.png)", "!["),
        ("see https://evil.example", "https://"),
        ("**bold**", "**"),
        ("line\n# heading", "\n"),
    ],
)
def test_text_neutralises_mentions_links_images_html_and_structure(
    value: str, forbidden: str
) -> None:
    assert forbidden not in text(value)


def test_mention_is_live_only_for_well_formed_handles() -> None:
    assert mention("@acme/payments") == "@acme/payments"
    assert mention("@alice") == "@alice"
    assert mention("@a b @c") == "`@a b @c`"
    assert is_handle("dev@acme.dev")
    assert not is_handle("@acme/pay`ments")


@pytest.mark.parametrize(
    "value",
    ["@victim", "`@victim`", "a`` @victim", "<img src=x>", "[x](https://e.x)", "https://e.x"],
)
def test_text_and_code_render_inert(value: str) -> None:
    assert_inert(text(value))
    assert_inert(code(value))
    assert_inert(f"| {code(value, in_table=True)} | {text(value)} |\n|---|---|\n| a | b |")


def test_text_reads_as_written_once_rendered() -> None:
    assert visible(text("--until `x` @a <b> & https://e.x")) == "--until `x` @a <b> & https://e.x"


def test_terminal_shows_newlines_and_escape_sequences_as_escapes() -> None:
    assert terminal("ok.txt") == "ok.txt"
    assert terminal("evil\n\x1b[31mred") == "evil\\n\\x1b[31mred"

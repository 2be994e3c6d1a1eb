"""User-controlled text is inert in markdown and on terminals (ghapp.render.escape)."""

from __future__ import annotations

import re

import pytest

from ghapp.render.escape import code, is_handle, mention, terminal, text


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


def test_terminal_shows_newlines_and_escape_sequences_as_escapes() -> None:
    assert terminal("ok.txt") == "ok.txt"
    assert terminal("evil\n\x1b[31mred") == "evil\\n\\x1b[31mred"

"""Fuzz tests (hypothesis) of what reads pull-request input: the YAML loader, the `if:` reader
and the glob matchers. Each example must finish within a deadline (generous: the work is
milliseconds, a regression is seconds or never) and under a cap on Python memory (tracemalloc
peak); the glob matchers are also checked against a reference regex on small safe inputs."""

from __future__ import annotations

import re
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ghapp.core import yamlnodes
from ghapp.core.globs import compile_filter, glob_match
from ghapp.core.workflows.expressions import expression_spans, may_run
from ghapp.core.workflows.shell import _unquoted
from ghapp.core.yamlnodes import YamlError, load_documents

FUZZ = settings(
    max_examples=150,
    deadline=timedelta(seconds=3),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MEMORY_CAP = 64 * 1024 * 1024  # bytes of Python allocations one example may peak at


@contextmanager
def memory_cap(limit: int = MEMORY_CAP) -> Iterator[None]:
    tracemalloc.start()
    try:
        yield
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < limit, f"peak {peak:,} bytes"


# --- YAML -------------------------------------------------------------------------------------

YAML_CHARS = st.sampled_from([*list("ab1:-[]{},&*!|>'\"#?%@`\\ \n\t"), "\n  ", "- ", ": "])
YAML_PIECES = st.sampled_from(
    [
        "a: 1\n",
        "- x\n",
        "&a ",
        "*a",
        "<<: *a\n",
        "!!int ",
        "!!float ",
        "!!timestamp ",
        "2026-02-30",
        "0x" + "f" * 50,
        "9" * 50,
        "[",
        "]",
        "{",
        "}",
        "---\n",
        "? ",
        "|\n  text\n",
    ]
)


def _read_within_budget(text: str) -> None:
    """Load, then turn every document into text (as checks do with values)."""
    try:
        docs = load_documents(text)
    except YamlError:
        return
    shown = repr(docs)
    assert len(shown) <= 20 * (yamlnodes.MAX_NODES + yamlnodes.MAX_SCALAR_CHARS)


@FUZZ
@given(st.lists(YAML_CHARS | YAML_PIECES, max_size=120).map("".join))
def test_yaml_loader_reads_or_refuses_any_text(text: str) -> None:
    with memory_cap():
        _read_within_budget(text)


@st.composite
def alias_bombs(draw: st.DrawFn) -> str:
    """Chains of lists (or merged mappings) whose items are aliases of the previous level."""
    width = draw(st.integers(1, 12))
    levels = draw(st.integers(1, 12))
    merge = draw(st.booleans())
    leaf = draw(st.sampled_from(["x", "'" + "y" * 200 + "'", "[1, 2]"]))
    if merge:
        text = f"l0: &l0 {{k: {leaf}}}\n"
        line = "l{0}: &l{0} {{<<: [{1}]}}\n"
    else:
        text = f"l0: &l0 [{', '.join([leaf] * width)}]\n"
        line = "l{0}: &l{0} [{1}]\n"
    for level in range(1, levels):
        text += line.format(level, ", ".join([f"*l{level - 1}"] * width))
    return text + f"top: *l{levels - 1}\n"


@FUZZ
@given(alias_bombs())
def test_alias_expansion_stays_within_the_budget(text: str) -> None:
    # A smaller budget than the real one keeps each example fast; the property is the same.
    with (
        mock.patch.object(yamlnodes, "MAX_NODES", 20_000),
        mock.patch.object(yamlnodes, "MAX_SCALAR_CHARS", 200_000),
        memory_cap(32 * 1024 * 1024),
    ):
        _read_within_budget(text)


@settings(FUZZ, max_examples=40)  # tracemalloc makes each parse of a deep file slow
@given(st.integers(1, 3000), st.sampled_from(["[", "{a: ", "- ", "[{a: "]), st.booleans())
def test_any_nesting_depth_is_read_or_refused(depth: int, opening: str, pure: bool) -> None:
    # PyYAML's pure-Python scanner is quadratic in flow depth: keep its examples shallower.
    depth = min(depth, 200) if pure else depth
    closing = {"[": "]", "{a: ": "}", "- ": "", "[{a: ": "}]"}[opening]
    text = opening * depth + "x" + closing * depth
    with memory_cap(), suppress(YamlError):
        load_documents(text, pure=pure)


# --- if: expressions --------------------------------------------------------------------------

EXPR_TOKENS = st.sampled_from(
    [
        "(",
        ")",
        "!",
        " && ",
        " || ",
        " == ",
        " != ",
        " < ",
        "true",
        "false",
        "null",
        "1",
        "github.event_name",
        "github.ref",
        "'push'",
        "'pull_request'",
        "secrets.TOKEN",
        "contains(",
        "startsWith(",
        ", ",
        "always()",
        "${{ ",
        " }}",
        "'",
        "[",
        "]",
        "*",
    ]
)


@FUZZ
@given(st.lists(EXPR_TOKENS, max_size=200).map("".join))
def test_if_reader_answers_any_token_soup(condition: str) -> None:
    with memory_cap():
        assert may_run(condition, "pull_request") in (True, False)


@FUZZ
@given(st.integers(0, 5000), st.sampled_from(["(", "!", "contains("]))
def test_if_reader_answers_any_nesting(depth: int, opening: str) -> None:
    closing = {"(": ")", "!": "", "contains(": ", 'a')"}[opening]
    condition = opening * depth + "false" + closing * depth
    with memory_cap():
        assert may_run(condition, "pull_request") in (True, False)


@st.composite
def known_conditions(draw: st.DrawFn, depth: int = 0) -> tuple[str, bool]:
    """An `if:` made only of facts known for a pull_request run, with its true value."""
    if depth > 6 or draw(st.booleans()):
        return draw(
            st.sampled_from(
                [
                    ("true", True),
                    ("false", False),
                    ("github.event_name == 'pull_request'", True),
                    ("github.event_name == 'PUSH'", False),
                    ("startsWith(github.ref, 'refs/pull/')", True),
                ]
            )
        )
    kind = draw(st.sampled_from(["and", "or", "not", "parens"]))
    left, lvalue = draw(known_conditions(depth + 1))
    if kind == "not":
        return f"!({left})", not lvalue
    if kind == "parens":
        return f"({left})", lvalue
    right, rvalue = draw(known_conditions(depth + 1))
    if kind == "and":
        return f"({left}) && ({right})", lvalue and rvalue
    return f"({left}) || ({right})", lvalue or rvalue


@FUZZ
@given(known_conditions())
def test_if_reader_agrees_with_the_truth_on_known_facts(case: tuple[str, bool]) -> None:
    condition, value = case
    assert may_run(condition, "pull_request") is value


# --- globs ------------------------------------------------------------------------------------


def reference_filter_regex(pattern: str) -> re.Pattern[str]:
    """The backtracking regex ghapp used before the linear matcher: right on small inputs."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c in "?+" and out:
            out.append(c)
            i += 1
        elif c == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end]
            out.append(f"[{body}]" if body else re.escape("[]"))
            i = end + 1
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out) + r"\Z")


def reference_config_regex(pattern: str) -> re.Pattern[str]:
    pattern = pattern.strip().lstrip("/")
    if pattern.endswith("/"):
        pattern += "**"
    if "/" not in pattern:
        pattern = "**/" + pattern
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


# Safe pieces: a quantifier only ever follows a character or a class, brackets hold letters and
# forward ranges, so the reference regex and the new matcher mean the same thing.
LITERALS = ["a", "b", ".", "/"]
FILTER_PIECES = st.sampled_from(
    [*LITERALS, "*", "**", "**/", "a?", "b+", "[ab]", "[a-b]?", "[b]+", ".?"]
)
CONFIG_PIECES = st.sampled_from([*LITERALS, "*", "**", "**/", "?"])
PATHS = st.text(alphabet="ab./", max_size=12)


def _joined(pieces: list[str]) -> str:
    # `*` then `*` would read as `**` (and `**` then `/` as `**/`) on both sides: keep them apart
    text = ""
    for piece in pieces:
        text += "a" + piece if text.endswith("*") and piece.startswith(("*", "/")) else piece
    return text


@FUZZ
@given(st.lists(FILTER_PIECES, max_size=6).map(_joined), PATHS)
def test_filter_matcher_agrees_with_the_reference_regex(pattern: str, path: str) -> None:
    expected = reference_filter_regex(pattern).match(path) is not None
    assert compile_filter(pattern).match(path) is expected


@FUZZ
@given(st.lists(CONFIG_PIECES, min_size=1, max_size=6).map(_joined), PATHS)
def test_config_glob_agrees_with_the_reference_regex(pattern: str, path: str) -> None:
    expected = reference_config_regex(pattern).match(path) is not None
    assert glob_match(pattern, path) is expected


HOSTILE_PIECES = st.sampled_from(
    ["*", "**", "**/", "a", "b", "/", "?", "+", "[ab]", "[a-z]+", "\\*", "[", "]", "!"]
)


@FUZZ
@given(
    st.lists(HOSTILE_PIECES, max_size=60).map("".join),
    st.integers(0, 3000),
    st.sampled_from(["a", "ab", "a/", "ba"]),
)
def test_any_pattern_against_a_long_path_is_answered(pattern: str, repeat: int, unit: str) -> None:
    path = (unit * repeat)[:3000]
    matchers: list[Callable[[str], Any]] = [
        compile_filter(pattern).match,
        lambda p: glob_match(pattern, p),
    ]
    with memory_cap():
        for match in matchers:
            assert match(path) in (True, False)


@FUZZ
@given(st.lists(st.sampled_from(["${{", "}}", "}", "$", "{", "a", "\n"]), max_size=40).map("".join))
def test_expression_spans_agree_with_the_lazy_regex(text: str) -> None:
    expected = [m.span() for m in re.finditer(r"\$\{\{.*?\}\}", text, re.DOTALL)]
    assert list(expression_spans(text)) == expected


QUOTED = re.compile(r"'[^']*'|\"(\\.|[^\"\\])*\"")


@FUZZ
@given(st.text(alphabet="ab'\"\\ <", max_size=30))
def test_unquoting_agrees_with_the_regex_when_every_quote_is_closed(line: str) -> None:
    expected = QUOTED.sub("", line)
    if "'" in expected or '"' in expected:
        return  # an unclosed quote: the regex keeps it, the shell (and ghapp) read to the end
    assert _unquoted(line) == expected

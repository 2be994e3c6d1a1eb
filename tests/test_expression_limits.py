"""`if:` expressions past GitHub's own limits read as "may run", never as a crash."""

import re

import pytest

from ghapp.core.workflows.expressions import MAX_DEPTH, MAX_LENGTH, expression_spans, may_run

PUSH_ONLY = "github.event_name == 'push'"


@pytest.mark.parametrize(
    "condition",
    [
        "(" * 400 + PUSH_ONLY + ")" * 400,
        "!" * 5000 + "true",
        "contains(" * 400 + "'a', 'b'" + ")" * 400,
        "(" * 100_000,
        PUSH_ONLY + " && " + " && ".join(["true"] * 5000),
    ],
    ids=["parentheses", "negations", "calls", "unclosed", "too-long"],
)
def test_hostile_condition_may_run(condition: str) -> None:
    assert may_run(condition, "pull_request") is True
    assert may_run("${{ " + condition + " }}", "pull_request") is True


def test_nesting_up_to_the_limit_is_still_evaluated() -> None:
    depth = MAX_DEPTH - 1
    assert may_run("(" * depth + PUSH_ONLY + ")" * depth, "pull_request") is False
    assert may_run("!" * (depth + 1) + "false", "pull_request") is False  # MAX_DEPTH nots


def test_long_but_flat_condition_is_still_evaluated() -> None:
    condition = PUSH_ONLY + " && " + " && ".join(["true"] * 100)
    assert len(condition) < MAX_LENGTH
    assert may_run(condition, "pull_request") is False


def test_expression_spans_are_found_like_the_lazy_regex() -> None:
    text = "a ${{ x }} b ${{}} ${{ y\n}}} ${{ unclosed ${{ z }}"
    expected = [m.span() for m in re.finditer(r"\$\{\{.*?\}\}", text, re.DOTALL)]
    assert list(expression_spans(text)) == expected


def test_many_unclosed_expressions_are_scanned_in_linear_time() -> None:
    # The lazy regex rescans to the end from each `${{`: about 10**11 steps here.
    assert list(expression_spans("${{" * 500_000)) == []
    assert list(expression_spans("${{" * 500_000 + "}}")) == [(0, 1_500_002)]

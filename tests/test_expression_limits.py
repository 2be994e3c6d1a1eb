"""`if:` expressions past GitHub's own limits read as "may run", never as a crash."""

import pytest

from ghapp.core.workflows.expressions import MAX_DEPTH, MAX_LENGTH, may_run

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

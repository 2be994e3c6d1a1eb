"""Review comments quote what the pull request wrote (file names, action refs, manifest fields):
all of it is inert, and only owners ghapp resolved itself are mentioned."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ghapp.core.model import Finding
from ghapp.github.review import comment_body, owners_vouched
from tests.test_escape import assert_inert, rendered


def hostile(**changes: Any) -> Finding:
    values: dict[str, Any] = {
        "rule": "workflow/unpinned-action",
        "severity": "error",
        "message": "`evil@v1` ` @victim <img src=x onerror=alert(1)> [x](https://e.example)",
        "path": ".github/workflows/ci.yml",
        "line": 3,
        "owners": ("@victim-user",),
        "fix": "Pin `a`` @victim` to a SHA; see https://e.example @victim",
        "subject": "evil",
    }
    values.update(changes)
    return Finding(**values)


def test_pull_request_text_in_a_review_comment_is_inert() -> None:
    body = comment_body(hostile(), "0123456789abcdef")
    assert_inert(body)
    assert "<img src=x onerror=alert(1)>" in rendered(body)[0]  # still shown, as text
    assert "`evil@v1`" in body  # the message's own code spans stay code


def test_an_owner_ghapp_did_not_resolve_is_named_not_mentioned() -> None:
    body = comment_body(hostile(), "0123456789abcdef")
    assert "Owners who must act: `@victim-user`" in body
    assert not owners_vouched(hostile())


@pytest.mark.parametrize("run", ["```", "````", "``````"])
def test_a_suggestion_cannot_close_its_own_fence(run: str) -> None:
    suggestion = f"run: echo {run}\n{run}\n@victim"
    body = comment_body(hostile(suggestion=suggestion, message="m", fix=None), "0" * 16)
    assert_inert(body)
    opening = re.search(r"^(`+)suggestion$", body, flags=re.M)
    assert opening is not None
    fence = opening.group(1)
    inside = body[opening.end() :].split(f"\n{fence}\n", 1)[0]
    assert inside == f"\n{suggestion}"
    assert all(not line.startswith(fence) for line in suggestion.splitlines())

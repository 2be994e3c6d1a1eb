"""Owner existence from GitHub's CODEOWNERS errors API: which owners it rejects, and when to ask."""

from __future__ import annotations

import pytest

from ghapp.github.directory import ReportedOwners, touches_codeowners, unknown_owners

ERRORS = [
    {"line": 3, "column": 12, "kind": "Unknown owner", "source": "/services/ @acme/ghosts @ok\n"},
    {"line": 4, "column": 1, "kind": "Invalid pattern", "source": "!x @a\n"},
    {"line": 5, "column": 7, "kind": "Unknown owner", "source": "*.md  @Gone-User"},
]


def test_unknown_owner_errors_name_the_token_at_their_column() -> None:
    assert unknown_owners(ERRORS) == {"@acme/ghosts", "@Gone-User"}


def test_reported_owners_exist_unless_github_rejected_them() -> None:
    owners = ReportedOwners(unknown_owners(ERRORS))
    assert owners.exists("@acme/ghosts") is False
    assert owners.exists("@gone-user") is False  # GitHub compares owners case-insensitively
    assert owners.exists("@ok") is True
    assert owners.can_write("@ok") is None


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        (None, True),  # a whole commit (push, re-check without a PR)
        (["src/a.py"], False),  # a warm synchronize that leaves CODEOWNERS alone costs no call
        ([".github/CODEOWNERS"], True),
        (["docs/CODEOWNERS", "a"], True),
        (["sub/CODEOWNERS"], False),  # not a location GitHub reads
    ],
)
def test_github_is_asked_only_when_codeowners_may_have_changed(
    changed: list[str] | None, expected: bool
) -> None:
    assert touches_codeowners(changed) is expected

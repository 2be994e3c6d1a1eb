"""Reading CODEOWNERS text: comments, separators, odd bytes, and GitHub-shaped syntax errors."""

from __future__ import annotations

import pytest

from ghapp.core.ownership.codeowners import (
    MAX_CODEOWNERS_BYTES,
    CodeOwners,
    OwnerRule,
    SyntaxProblem,
    find_codeowners,
)
from ghapp.core.ownership.directory import StaticDirectory
from ghapp.core.snapshot import DictSnapshot


def only_rule(text: str) -> OwnerRule:
    co = CodeOwners.from_text(text)
    assert co.errors == ()
    assert len(co.rules) == 1
    return co.rules[0]


def test_comments_and_blank_lines_are_not_rules() -> None:
    co = CodeOwners.from_text("# comment\n\n   # indented comment\n\t\n*.py @a\n")
    assert [(r.line, r.pattern, r.owners) for r in co.rules] == [(5, "*.py", ("@a",))]


def test_inline_comment_after_whitespace_ends_the_line() -> None:
    rule = only_rule("*.js    @js-owner #This is an inline comment.\n")
    assert rule.owners == ("@js-owner",)


def test_hash_inside_a_token_is_not_a_comment() -> None:
    rule = only_rule("foo#bar @a\n")
    assert rule.pattern == "foo#bar"


@pytest.mark.parametrize(
    "text",
    [
        "*.py @a @org/team  me@example.com\n",
        "*.py\t@a\t@org/team\tme@example.com\n",
        "*.py @a @org/team me@example.com   \t \n",
        "*.py @a @org/team me@example.com\r\n",
        "\ufeff*.py @a @org/team me@example.com\n",
        "*.py @a @org/team me@example.com",
    ],
    ids=["spaces", "tabs", "trailing-blanks", "crlf", "bom", "no-final-newline"],
)
def test_separators_line_endings_and_bom(text: str) -> None:
    rule = only_rule(text)
    assert (rule.line, rule.pattern, rule.owners) == (
        1,
        "*.py",
        ("@a", "@org/team", "me@example.com"),
    )


def test_crlf_file_keeps_line_numbers() -> None:
    co = CodeOwners.from_text("# c\r\n* @a\r\n\r\n/docs/ @b\r\n")
    assert [r.line for r in co.rules] == [2, 4]
    assert co.owners_of("docs/x") is not None


def test_only_newline_ends_a_line() -> None:
    # U+2028 and form feed are not line breaks for GitHub; they stay inside the token.
    co = CodeOwners.from_text("* @a\u2028b\n")
    assert [e.kind for e in co.errors] == ["invalid-owner"]


def test_escaped_space_stays_in_the_pattern() -> None:
    rule = only_rule("/my\\ docs/ @a\n")
    assert rule.pattern == "/my\\ docs/"
    assert rule.owners == ("@a",)
    assert rule.matches("my docs/readme.md")


def test_very_long_line() -> None:
    pattern = "/" + "/".join(f"d{i}" for i in range(2_000)) + "/"
    owners = " ".join(f"@user{i}" for i in range(500))
    rule = only_rule(f"{pattern} {owners}\n")
    assert len(rule.owners) == 500
    path = pattern[1:] + "file.txt"
    assert CodeOwners.from_text(f"{pattern} {owners}\n").owners_of(path) is not None


@pytest.mark.parametrize(
    ("line", "kind", "column"),
    [
        ("!foo @a", "invalid-pattern", 1),
        ("src/[ab].py @a", "invalid-pattern", 5),
        ("src/x].py @a", "invalid-pattern", 6),
        ("  \\#foo @a", "invalid-pattern", 3),
        ("a/***/b @a", "invalid-pattern", 3),
        ("/ @a", "invalid-pattern", 1),
        ("foo\\", "invalid-pattern", 4),
        ("* user", "invalid-owner", 3),  # GitHub's own example: column 3
        ("* @domain.org", "invalid-owner", 3),
        ("* docs@", "invalid-owner", 3),
        ("* @a, @b", "invalid-owner", 3),
        ("*   @org/team/sub", "invalid-owner", 5),
        ("* @a not-an-owner!", "invalid-owner", 6),
    ],
)
def test_syntax_errors_have_kind_line_and_column(line: str, kind: str, column: int) -> None:
    co = CodeOwners.from_text(f"# first line\n{line}\n")
    assert [(e.kind, e.line, e.column) for e in co.errors] == [(kind, 2, column)]
    assert co.errors[0].source == line
    assert co.rules == ()


@pytest.mark.parametrize(
    ("line", "suggestion"),
    [
        ("/ @a", "The pattern `/` will never match anything, did you mean `*` instead?"),
        ("* user", "Did you mean @user?"),
        ("* @a, @b", "Remove the comma after @a."),
    ],
)
def test_common_errors_carry_a_suggestion(line: str, suggestion: str) -> None:
    assert CodeOwners.from_text(line).errors[0].suggestion == suggestion


def test_trailing_comma_has_a_mechanical_replacement() -> None:
    assert CodeOwners.from_text("* @a, @b,").errors[1].replacement == "* @a @b"


def test_invalid_line_is_skipped_whole_and_the_rest_apply() -> None:
    co = CodeOwners.from_text("* @a\n*.py @b user\n/docs/ @c\n")
    assert [r.line for r in co.rules] == [1, 3]
    assert co.owners_of("x.py") is not None
    assert co.owners_of("x.py").owners == ("@a",)  # type: ignore[union-attr]
    assert co.owners_of("docs/x.py").owners == ("@c",)  # type: ignore[union-attr]


def test_every_bad_owner_of_a_line_is_listed() -> None:
    co = CodeOwners.from_text("* one two\n")
    assert [(e.kind, e.column) for e in co.errors] == [("invalid-owner", 3), ("invalid-owner", 7)]


def test_error_json_mirrors_github_errors_api() -> None:
    error = CodeOwners.from_text("* user").errors[0]
    assert error.to_json() == {
        "line": 1,
        "column": 3,
        "kind": "invalid-owner",
        "source": "* user",
        "message": error.message,
        "suggestion": "Did you mean @user?",
    }
    bare = SyntaxProblem(1, 1, "invalid-pattern", "!x", "m")
    assert "suggestion" not in bare.to_json()


def test_unknown_owner_only_with_a_directory_and_the_line_still_applies() -> None:
    text = "* @known @ghost me@example.com\n"
    assert CodeOwners.from_text(text).errors == ()
    directory = StaticDirectory(users=["known"], emails=["me@example.com"])
    co = CodeOwners.from_text(text, directory=directory)
    assert [(e.kind, e.line, e.column) for e in co.errors] == [("unknown-owner", 1, 10)]
    assert co.owners_of("a").owners == ("@known", "@ghost", "me@example.com")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("files", "found"),
    [
        (
            {".github/CODEOWNERS": "* @a", "CODEOWNERS": "* @b", "docs/CODEOWNERS": "*  @c"},
            ".github/CODEOWNERS",
        ),
        ({"CODEOWNERS": "* @b", "docs/CODEOWNERS": "* @c"}, "CODEOWNERS"),
        ({"docs/CODEOWNERS": "* @c"}, "docs/CODEOWNERS"),
        ({"src/CODEOWNERS": "* @d", ".github/codeowners": "* @e"}, None),
    ],
)
def test_codeowners_locations_in_github_order(files: dict[str, str], found: str | None) -> None:
    located = find_codeowners(DictSnapshot(files))
    assert (located.path if located else None) == found
    if located:
        assert located.text == files[located.path]


def test_file_of_3_mib_or_more_is_ignored_and_not_replaced_by_the_next() -> None:
    big = b"*" + b" " * (MAX_CODEOWNERS_BYTES - 1)
    located = find_codeowners(DictSnapshot({".github/CODEOWNERS": big, "CODEOWNERS": "* @b"}))
    assert located is not None
    assert (located.path, located.too_large, located.text, located.size) == (
        ".github/CODEOWNERS",
        True,
        None,
        MAX_CODEOWNERS_BYTES,
    )
    just_under = find_codeowners(DictSnapshot({"CODEOWNERS": big[:-1]}))
    assert just_under is not None
    assert not just_under.too_large


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    located = find_codeowners(DictSnapshot({"CODEOWNERS": b"/caf\xe9/ @a\n* @b\n"}))
    assert located is not None
    co = CodeOwners.from_text(located.text or "")
    assert [r.line for r in co.rules] == [1, 2]

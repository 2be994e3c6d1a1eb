"""CODEOWNERS matching follows GitHub's documented semantics (the "About code owners" page).

Decisions where GitHub documents nothing, written down as tests:
- only a final `/*` segment stops at one level (`docs/*`); any other pattern without a trailing
  slash also owns everything below a directory it names (`/a/b*` owns `a/bc/d`), like gitignore;
- `\\ ` in a pattern is a literal space and `\\x` a literal `x` (but a leading `\\#` is invalid);
- paths are matched as given: case-sensitive, Unicode compared code point by code point (no
  normalisation), and a pattern starting `./` names a `.` directory, so it matches nothing
  (repository paths never contain one; the lint reports it as pattern-matches-nothing).
"""

from __future__ import annotations

import fnmatch
import random
import time
from pathlib import Path

import pytest

from ghapp import CodeOwners as ReExported
from ghapp.core.ownership.codeowners import CodeOwners, Match

EXAMPLE = (Path(__file__).parent / "data" / "codeowners" / "github_example.CODEOWNERS").read_text()


def owners(text: str, path: str) -> tuple[str, ...] | None:
    match = CodeOwners.from_text(text).owners_of(path)
    return None if match is None else match.owners


def matches(pattern: str, path: str) -> bool:
    return CodeOwners.from_text(f"{pattern} @o").owners_of(path) is not None


@pytest.mark.parametrize(
    ("path", "expected", "line"),
    [
        ("README.md", ("@global-owner1", "@global-owner2"), 6),
        ("src/app.js", ("@js-owner",), 9),
        ("cmd/main.go", ("docs@example.com",), 12),
        ("notes/todo.txt", ("@octo-org/octocats",), 15),
        # /build/logs/ matches, but the later **/logs matches too and wins
        ("build/logs/today.log", ("@octocat",), 38),
        # docs/* matches, but the later /docs/ matches too and wins
        ("docs/getting-started.md", ("@doctocat",), 30),
        ("docs/build-app/troubleshooting.md", ("@doctocat",), 30),
        ("src/apps/main.py", ("@octocat",), 26),
        ("scripts/deploy.sh", ("@doctocat", "@octocat"), 34),
        ("deeply/nested/logs/a.log", ("@octocat",), 38),
        ("apps/web/index.html", ("@octocat",), 47),
        ("apps/github/ci.yml", ("@doctocat",), 48),
    ],
)
def test_github_documented_example_file(path: str, expected: tuple[str, ...], line: int) -> None:
    match = CodeOwners.from_text(EXAMPLE).owners_of(path)
    assert match is not None
    assert (match.owners, match.line) == (expected, line)


def test_github_example_file_has_no_errors() -> None:
    co = CodeOwners.from_text(EXAMPLE)
    assert co.errors == ()
    assert len(co.rules) == 14


# (pattern, path, matches) - each documented bullet in isolation
SEMANTICS = [
    # `*` matches everything
    ("*", "a", True),
    ("*", "a/b/c.txt", True),
    # a floating name matches at any depth, as a file or a directory
    ("*.js", "a.js", True),
    ("*.js", "x/y/a.js", True),
    ("*.js", "a.jsx", False),
    ("foo", "foo", True),
    ("foo", "x/foo", True),
    ("foo", "x/foo/bar", True),
    ("foo", "foobar", False),
    ("foo", "xfoo", False),
    # a leading or middle slash anchors to the root
    ("/foo", "foo/bar", True),
    ("/foo", "x/foo", False),
    ("foo/bar", "foo/bar/baz", True),
    ("foo/bar", "x/foo/bar", False),
    # a trailing slash matches a directory and everything under it, not a file of that name
    ("/build/logs/", "build/logs/a", True),
    ("/build/logs/", "build/logs/a/b", True),
    ("/build/logs/", "x/build/logs/a", False),
    ("/build/logs/", "build/logs", False),
    ("apps/", "apps/a", True),
    ("apps/", "x/y/apps/a/b", True),
    ("apps/", "apps", False),
    ("apps/", "myapps/a", False),
    # no trailing slash: the file, or the directory and everything under it
    ("/apps/github", "apps/github", True),
    ("/apps/github", "apps/github/x/y", True),
    ("/apps/github", "apps/githubx", False),
    # `docs/*`: files directly in docs/, not nested ones (GitHub's difference from gitignore)
    ("docs/*", "docs/getting-started.md", True),
    ("docs/*", "docs/build-app/troubleshooting.md", False),
    ("docs/*", "x/docs/a.md", False),
    ("docs/*.md", "docs/a.md", True),
    ("docs/*.md", "docs/a/b.md", False),
    ("/*", "root.txt", True),
    ("/*", "d/nested.txt", False),
    # any other final glob still owns what is below a directory it matches (gitignore)
    ("/a/b*", "a/bcd", True),
    ("/a/b*", "a/bcd/e", True),
    # `**` crosses directories
    ("/docs/**", "docs/a", True),
    ("/docs/**", "docs/a/b/c", True),
    ("/docs/**", "docs", False),
    ("**/logs", "logs", True),
    ("**/logs", "logs/a", True),
    ("**/logs", "build/logs/a", True),
    ("**/logs", "deeply/nested/logs/a", True),
    ("a/**/b", "a/b", True),
    ("a/**/b", "a/x/b", True),
    ("a/**/b", "a/x/y/b/c", True),
    ("a/**/b", "a/xb", False),
    ("/src/**/*.py", "src/a.py", True),
    ("/src/**/*.py", "src/x/y/a.py", True),
    ("/src/**/*.py", "lib/a.py", False),
    ("**", "a/b", True),
    ("foo**bar", "fooXbar", True),  # `**` inside a segment is a plain `*`
    ("foo**bar", "foo/bar", False),
    # `*` does not cross `/`; `?` is one non-slash character
    ("/src/*.py", "src/a/b.py", False),
    ("?.py", "a.py", True),
    ("?.py", "d/b.py", True),
    ("?.py", "ab.py", False),
    ("/a?c", "a/c", False),
    # case-sensitive
    ("/Docs/", "docs/a.md", False),
    ("*.JS", "a.js", False),
    # escapes and odd paths
    ("my\\ file.txt", "dir/my file.txt", True),
    ("/dir\\ name/", "dir name/a", True),
    ("\\*.py", "*.py", True),
    ("\\*.py", "a.py", False),
    ("/ドキュメント/", "ドキュメント/a.md", True),
    ("*.md", "résumé.md", True),
    ("foo#bar", "foo#bar", True),
    ("./src/", "src/a.py", False),
]


@pytest.mark.parametrize(("pattern", "path", "expected"), SEMANTICS)
def test_pattern_semantics(pattern: str, path: str, expected: bool) -> None:
    assert matches(pattern, path) is expected
    rule = CodeOwners.from_text(f"{pattern} @o").rules[0]
    assert rule.matches(path) is expected  # the reference regex agrees


def test_last_matching_line_wins() -> None:
    assert owners("* @a\n*.py @b\n", "x.py") == ("@b",)
    assert owners("*.py @b\n* @a\n", "x.py") == ("@a",)


def test_line_without_owners_makes_path_unowned() -> None:
    match = CodeOwners.from_text("* @a\n/vendor/\n").owners_of("vendor/lib.c")
    assert match == Match(owners=(), line=2, pattern="/vendor/")


def test_no_matching_rule_is_none() -> None:
    assert CodeOwners.from_text("/docs/ @a\n").owners_of("src/a.py") is None
    assert CodeOwners.from_text("").owners_of("a") is None


def test_resolve_all_equals_owners_of_for_each_path() -> None:
    co = CodeOwners.from_text(EXAMPLE)
    paths = ["README.md", "apps/github/x", "docs/a/b.md", "z/logs/q", "a.go", "x"]
    assert co.resolve_all(paths) == [co.owners_of(p) for p in paths]
    assert co.resolve_all([]) == []


def test_package_reexports_codeowners() -> None:
    assert ReExported is CodeOwners


def test_matching_paths_lists_every_match_not_only_decisions() -> None:
    co = CodeOwners.from_text("*.py @a\n* @b\n")
    assert co.matching_paths(0, ["a.py", "b.txt", "d/c.py"]) == ["a.py", "d/c.py"]


def test_rule_usage_reports_matched_and_deciding_rules() -> None:
    co = CodeOwners.from_text("*.py @a\n* @b\n/none/ @c\n/docs/ @d\n")
    usage = co.rule_usage(["a.py", "docs/x.md"])
    assert usage.matched == {0, 1, 3}
    assert usage.decided == {1, 3}


def test_very_deep_path_resolves() -> None:
    deep = "/".join(["d"] * 5_000) + "/f.txt"
    assert owners("d/ @a\n", deep) == ("@a",)


ALPHABET = ["a", "b", "ab", "*", "?", "**", "a*", "*b", "*.c", "x.c"]


def random_pattern(rng: random.Random) -> str:
    segments = [rng.choice(ALPHABET) for _ in range(rng.randint(1, 4))]
    pattern = "/".join(segments)
    if rng.random() < 0.3:
        pattern = "/" + pattern
    if rng.random() < 0.3:
        pattern += "/"
    return pattern.replace("***", "**")


def test_fast_engine_agrees_with_reference_regex_on_random_rules() -> None:
    rng = random.Random(1234)
    names = ["a", "b", "ab", "ba", "x.c", "a.c", "abc"]
    paths = sorted(
        {"/".join(rng.choice(names) for _ in range(rng.randint(1, 5))) for _ in range(400)}
    )
    for _ in range(60):
        text = "\n".join(f"{random_pattern(rng)} @o{i}" for i in range(rng.randint(1, 12)))
        co = CodeOwners.from_text(text)
        assert co.errors == (), text
        expected = [next((r.line for r in reversed(co.rules) if r.matches(p)), None) for p in paths]
        got = [m.line if m else None for m in co.resolve_all(paths)]
        assert got == expected, text


def test_segment_globs_agree_with_fnmatch() -> None:
    # Within one segment (no `/`), CODEOWNERS `*` and `?` mean what fnmatch's do.
    rng = random.Random(99)
    for _ in range(300):
        glob = "".join(rng.choice("ab*?") for _ in range(rng.randint(1, 7)))
        co = CodeOwners.from_text(f"/{glob} @o")
        if glob == "**" or co.errors:  # `**` is not a segment glob; `***` is invalid
            continue
        for _ in range(20):
            name = "".join(rng.choice("ab") for _ in range(rng.randint(1, 8)))
            expected = fnmatch.fnmatchcase(name, glob)
            assert (co.owners_of(name) is not None) is expected, (glob, name)


def test_hostile_glob_does_not_backtrack_exponentially() -> None:
    co = CodeOwners.from_text("*a" * 30 + "*b @o\n")
    started = time.perf_counter()
    assert co.owners_of("d/" + "a" * 500) is None
    assert not co.rules[0].matches("d/" + "a" * 500)
    assert time.perf_counter() - started < 1.0

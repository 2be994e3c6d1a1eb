"""Path globs: config globs and GitHub's workflow filter patterns, matched in linear time."""

import pytest

from ghapp.core.globs import (
    MAX_GLOB_LENGTH,
    compile_filter,
    compile_filters,
    filter_matches,
    glob_match,
)
from ghapp.core.workflows.parsing import (
    MAX_FILTER_CHECKS,
    MAX_FILTER_PATTERNS,
    Trigger,
    fires_for_pull_request,
)


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("vendor/**", "vendor/a/b.py", True),
        ("vendor/**", "src/vendor/a.py", False),
        ("*.tf", "infra/main.tf", True),
        ("**/Dockerfile", "Dockerfile", True),
        ("**/Dockerfile", "svc/a/Dockerfile", True),
        ("Dockerfile", "svc/Dockerfile", True),
        ("services/*/k8s/**", "services/a/k8s/deploy.yaml", True),
        ("services/*/k8s/**", "services/a/b/k8s/deploy.yaml", False),
        ("docs/", "docs/a/b.md", True),
        ("/docs/*.md", "docs/a.md", True),
        ("src/?.py", "src/a.py", True),
        ("src/?.py", "src/ab.py", False),
        ("src/?.py", "src//.py", False),
        ("a+b/(x)", "a+b/(x)", True),
        ("a+b/(x)", "aab/(x)", False),
        ("[ab].py", "a.py", False),
        ("[ab].py", "[ab].py", True),
        ("**", "any/thing/at/all", True),
    ],
)
def test_glob_match(pattern: str, path: str, expected: bool) -> None:
    assert glob_match(pattern, path) is expected


# GitHub's "filter pattern cheat sheet" (workflow syntax docs), path and branch examples.
@pytest.mark.parametrize(
    ("patterns", "matching", "not_matching"),
    [
        (["*"], ["README.md", "server.rb"], ["docs/a.md"]),
        (["*.jsx?"], ["page.js", "page.jsx"], ["page.jsxx", "a/page.js"]),
        (["**"], ["all/the/files.md", "a"], []),
        (["*.js"], ["app.js", "index.js"], ["src/app.js"]),
        (["**.js"], ["index.js", "js/index.js", "src/js/app.js"], ["index.jsx"]),
        (["docs/*"], ["docs/README.md", "docs/file.txt"], ["docs/a/b.md"]),
        (["docs/**"], ["docs/README.md", "docs/mona/octocat.txt"], ["doc/a.md"]),
        (["docs/**/*.md"], ["docs/README.md", "docs/mona/hello-world.md"], ["docs/a.txt"]),
        (["**/docs/**"], ["docs/hello.md", "dir/docs/my-file.txt", "a/docs/b/c.doc"], ["mydocs/a"]),
        (["**/README.md"], ["README.md", "js/README.md"], ["README.mdx"]),
        (["**/*src/**"], ["a/src/app.js", "my-src/code/js/app.js"], ["src.js"]),
        (["**/*-post.md"], ["my-post.md", "path/their-post.md"], ["post.md"]),
        (["**/migrate-*.sql"], ["migrate-10909.sql", "db/migrate-v1.0.sql"], ["migrate.sql"]),
        (["*.md", "!README.md"], ["hello.md"], ["README.md", "docs/hello.md"]),
        (["*.md", "!README.md", "README*"], ["hello.md", "README.md", "README.doc"], []),
        (["feature/*"], ["feature/my-branch", "feature/your-branch"], ["feature/a/b"]),
        (["feature/**"], ["feature/beta-a/my-branch", "feature/mona/the/octocat"], ["feat/x"]),
        (["main", "releases/mona-the-octocat"], ["main", "releases/mona-the-octocat"], ["dev"]),
        (["*feature"], ["mona-feature", "feature", "ver-10-feature"], ["features"]),
        (["v2*"], ["v2", "v2.0", "v2.9"], ["v1"]),
        (["v[12].[0-9]+.[0-9]+"], ["v1.10.1", "v2.0.0"], ["v3.0.0", "v1.x.1", "v1.10"]),
        (["[CB]at", "[1-2]00"], ["Cat", "Bat", "100", "200"], ["Hat", "300"]),
    ],
)
def test_github_filter_cheat_sheet(
    patterns: list[str], matching: list[str], not_matching: list[str]
) -> None:
    assert [p for p in matching if not filter_matches(patterns, p)] == []
    assert [p for p in not_matching if filter_matches(patterns, p)] == []


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("?abc", "?abc", True),  # a quantifier with nothing before it is literal
        ("+abc", "+abc", True),
        (r"\*.md", "*.md", True),  # an escaped wildcard is literal
        (r"\*.md", "a.md", False),
        ("a\\", "a\\", True),  # a trailing backslash is itself
        ("[]", "[]", True),  # empty brackets are literal
        ("[z-a]", "m", False),  # a reversed range is empty
        ("ab+?c", "abbbc", True),  # a second quantifier changes nothing
        ("*+", "abc", True),
        ("**?", "a/b", True),
        ("a**b", "a/x/b", True),
    ],
)
def test_filter_pattern_edge_cases(pattern: str, path: str, expected: bool) -> None:
    assert compile_filter(pattern).match(path) is expected


def test_filter_list_of_only_negations_selects_nothing() -> None:
    assert filter_matches(["!docs/**"], "src/a.py") is False


STARS_20 = "*a" * 20 + "*b"


@pytest.mark.parametrize("name", ["a" * 4000, "a" * 4000 + "c", "ab" * 2000 + "x"])
def test_hostile_filter_pattern_against_a_long_name_is_linear(name: str) -> None:
    # A backtracking regex would need about C(4000, 20) steps for each of these names.
    assert filter_matches([STARS_20 + "*"], name) is ("b" in name)
    assert filter_matches([STARS_20], name) is False
    assert filter_matches(["**" + STARS_20.replace("*", "**")], name + "/b") is True


def test_hostile_config_glob_against_a_long_path_is_linear() -> None:
    assert glob_match(STARS_20, "a" * 4000) is False
    assert glob_match(STARS_20, "x/" + "a" * 4000 + "b") is True


def test_pattern_over_the_length_limit_matches_nothing() -> None:
    long = "a" * MAX_GLOB_LENGTH + "*"
    assert glob_match(long, "a" * (MAX_GLOB_LENGTH + 1)) is False
    assert filter_matches([long], "a" * (MAX_GLOB_LENGTH + 1)) is False
    assert glob_match(long[1:], "a" * MAX_GLOB_LENGTH) is True


def test_exponential_automaton_stays_correct_when_its_memory_is_bounded() -> None:
    # `**a` followed by 12 `[ab]` needs 4,096 DFA states, more than are kept per pattern.
    glob = compile_filter("**a" + "[ab]" * 12)
    text = "ab" * 3000
    expected = [text[: i + 13][-13] == "a" for i in range(0, 200)]
    assert [glob.match(text[: i + 13]) for i in range(0, 200)] == expected


def test_filter_lists_past_the_budget_fail_closed_instead_of_freezing() -> None:
    many = tuple(f"d{i}/**" for i in range(MAX_FILTER_PATTERNS + 1))
    assert fires_for_pull_request(Trigger("pull_request", 1, paths=many), ["d0/a.py"]) is False
    some = Trigger("pull_request", 1, paths=many[:1000])
    assert fires_for_pull_request(some, ["d0/a.py"]) is True
    changed = [f"x{i}.py" for i in range(MAX_FILTER_CHECKS // 1000 + 1)]
    assert fires_for_pull_request(some, [*changed, "d0/a.py"]) is False  # pairs over budget


def test_a_long_filter_list_is_compiled_once_not_per_path() -> None:
    patterns = tuple(f"d{i}/**" for i in range(5000))
    assert [filter_matches(patterns, f"d{i}/x") for i in (0, 4999, 5000)] == [True, True, False]
    assert compile_filters(patterns) is compile_filters(patterns)

"""Path globs used in config (`ignore`, waiver `path`, `owners.require`, `when_files`).

`*` matches within one path segment, `**` across segments (`a/**` is everything below `a/`,
`**/x` is `x` at any depth), `?` one character; a pattern with no `/` matches the file name at any
depth, like `.gitignore`. Compiled patterns are cached.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache


@lru_cache(maxsize=1024)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """A regex matching whole repository-relative paths."""
    pattern = pattern.strip().lstrip("/")
    if pattern.endswith("/"):
        pattern += "**"
    if "/" not in pattern:
        pattern = "**/" + pattern
    out: list[str] = []
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


def glob_match(pattern: str, path: str) -> bool:
    return compile_glob(pattern).match(path) is not None


def any_glob(patterns: Iterable[str], path: str) -> bool:
    return any(glob_match(p, path) for p in patterns)

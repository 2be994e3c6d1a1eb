"""The fast engine agrees with the one-rule reference regex on random rule sets and trees.

`CodeOwners.resolve_all` shares work per directory and indexes names; `OwnerRule.matches` is the
plain translation of one pattern. Last matching line wins, so the reference answer for a path is
the last rule whose regex matches it. Seeded, so a failure reproduces.
"""

from __future__ import annotations

import random

import pytest

from ghapp.core.ownership.codeowners import CodeOwners

SEGMENTS = ["src", "docs", "lib", "a", "b", "app", "C", "test", "x.y"]
NAMES = ["main.go", "README.md", "Cargo.toml", "pm.c", "a.rs", "b.tar.gz", "x", "Makefile"]
PATTERN_PARTS = ["src", "docs", "lib", "a", "*", "**", "C*", "*.rs", "*.tar.gz", "pm.c", "x?"]


def random_pattern(rng: random.Random) -> str:
    parts = [rng.choice(PATTERN_PARTS) for _ in range(rng.randint(1, 3))]
    pattern = "/".join(parts)
    if pattern.count("**/**") or "***" in pattern:
        pattern = pattern.replace("**/**", "**")
    if rng.random() < 0.4:
        pattern = "/" + pattern
    if rng.random() < 0.3:
        pattern += "/"
    return pattern


def random_tree(rng: random.Random, size: int) -> list[str]:
    paths = set()
    while len(paths) < size:
        dirs = [rng.choice(SEGMENTS) for _ in range(rng.randint(0, 4))]
        paths.add("/".join([*dirs, rng.choice(NAMES)]))
    return sorted(paths)


@pytest.mark.parametrize("seed", range(40))
def test_resolve_all_matches_the_reference_regex(seed: int) -> None:
    rng = random.Random(seed)
    lines = [f"{random_pattern(rng)} @o/t{i}" for i in range(rng.randint(1, 25))]
    co = CodeOwners.from_text("\n".join(lines) + "\n")
    paths = random_tree(rng, 150)
    rng.shuffle(paths)  # order must not matter
    fast = co.resolve_all(paths)
    for path, match in zip(paths, fast, strict=True):
        expected = next((r for r in reversed(co.rules) if r.matches(path)), None)
        got = (match.line, match.pattern) if match else None
        want = (expected.line, expected.pattern) if expected else None
        assert got == want, f"{path!r} with rules {lines}"
        assert co.owners_of(path) == match


@pytest.mark.parametrize("seed", range(40))
def test_owners_of_one_path_at_a_time_agrees_with_resolve_all(seed: int) -> None:
    # A fresh matcher each side: the per-path call must not lean on nodes the bulk call built.
    rng = random.Random(1000 + seed)
    text = "\n".join(f"{random_pattern(rng)} @o/t{i}" for i in range(rng.randint(1, 25))) + "\n"
    paths = random_tree(rng, 150)
    rng.shuffle(paths)
    one_by_one = CodeOwners.from_text(text)
    assert [one_by_one.owners_of(p) for p in paths] == CodeOwners.from_text(text).resolve_all(paths)

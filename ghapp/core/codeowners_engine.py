"""The fast CODEOWNERS resolver: an NFA over path segments, memoised per directory.

A rule is a tuple of elements (literal segment, `Glob`, or `STAR2` = zero or more segments) and
a mode (EXACT, PREFIX, DIR: see `ghapp.core.codeowners`). A *state* `(rule, pos)` says that the
rule's first `pos` elements matched the directories walked so far. Entering a child directory
advances the states whose next element matches its name (literal names through a dict); a
directory where a rule's elements are all used up (PREFIX or DIR mode) owns everything below
it, so each directory node keeps `hit`, the highest such rule on its ancestor chain. A file then
only needs the rules whose *last* element can match its name: a dict lookup for literal names,
an extension index for globs like `*.rs`, and the few other globs, tried from the highest rule
down with early exit because the last matching line wins.

Rules starting with `**` are live in every directory; their states are kept once, in
`Engine._global`, instead of being copied into every directory node.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, TypeAlias

EXACT: Final = 0
PREFIX: Final = 1
DIR: Final = 2
_MAX_NODES: Final = 500_000  # memo bound for long-running processes resolving many trees


class _GlobStar:
    """The `**` element (a sentinel, so a literal segment spelt `\\*\\*` stays distinct)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "**"


STAR2: Final = _GlobStar()


@dataclass(frozen=True)
class Glob:
    """A one-segment glob; `ext` is the extension every match ends with ('' when none)."""

    regex: re.Pattern[str]
    ext: str = ""


Element: TypeAlias = str | Glob | _GlobStar
State: TypeAlias = tuple[int, int]
_Finals: TypeAlias = list[tuple[int, re.Pattern[str]]]


class _Tables:
    """What a set of states does next: step into a child directory, or match a file name."""

    __slots__ = ("completed", "final_ext", "final_lit", "final_other", "glob_next",
                 "has_finals", "lit_next", "persist")

    def __init__(self, states: Iterable[State], rules: Sequence[tuple[Sequence[Element], int]]):
        self.completed: list[int] = []
        self.persist: list[State] = []
        self.lit_next: dict[str, list[State]] = {}
        self.glob_next: list[tuple[re.Pattern[str], State]] = []
        self.final_lit: dict[str, list[int]] = {}
        self.final_ext: dict[str, _Finals] = {}
        self.final_other: _Finals = []
        for r, pos in states:
            elements, mode = rules[r]
            if pos == len(elements):
                if mode != EXACT:
                    self.completed.append(r)
                continue
            element = elements[pos]
            final = pos == len(elements) - 1 and mode != DIR
            if isinstance(element, str):
                self.lit_next.setdefault(element, []).append((r, pos + 1))
                if final:
                    self.final_lit.setdefault(element, []).append(r)
            elif isinstance(element, Glob):
                self.glob_next.append((element.regex, (r, pos + 1)))
                if final and element.ext:
                    self.final_ext.setdefault(element.ext, []).append((r, element.regex))
                elif final:
                    self.final_other.append((r, element.regex))
            else:
                self.persist.append((r, pos))
        self.has_finals = bool(self.final_lit or self.final_ext or self.final_other)
        for names in self.final_lit.values():
            names.sort(reverse=True)
        for finals in (*self.final_ext.values(), self.final_other):
            finals.sort(key=lambda f: -f[0])


class _Node:
    __slots__ = ("hit", "parent", "tables")

    def __init__(self, parent: _Node | None, tables: _Tables) -> None:
        self.parent = parent
        self.tables = tables
        self.hit = max((parent.hit if parent else -1), *tables.completed, -1)


class Engine:
    """Resolve paths against rules given in file order (a higher index wins)."""

    def __init__(self, rules: Sequence[tuple[Sequence[Element], int]]) -> None:
        self._rules = rules
        root: set[State] = set()
        floating: set[State] = set()
        for r, (elements, _) in enumerate(rules):
            if elements and elements[0] is STAR2:
                self._close(r, 1, floating)
            else:
                self._close(r, 0, root)
        self._global = _Tables(floating, rules)
        self._root = _Node(None, _Tables(root, rules))
        self._nodes: dict[str, _Node] = {"": self._root}

    def winners(self, paths: Iterable[str]) -> list[int]:
        """The deciding rule index of each path, -1 when none matches."""
        out: list[int] = []
        last_dir: str | None = None
        hit, local = -1, None
        # The global tables are consulted for every file: their lookups are inlined (hot loop).
        g_lit, g_ext, g_other = self._global.final_lit, self._global.final_ext, self._global.final_other
        for path in paths:
            d, _, base = path.rpartition("/")
            if d != last_dir:
                node, last_dir = self._node(d), d
                hit, local = node.hit, (node.tables if node.tables.has_finals else None)
            best = hit if local is None else _best_final(local, base, hit)
            if g_lit:
                names = g_lit.get(base)
                if names and names[0] > best:
                    best = names[0]
            if g_ext:
                dot = base.rfind(".")
                for r, regex in g_ext.get(base[dot:], ()) if dot >= 0 else ():
                    if r <= best:
                        break
                    if regex.match(base):
                        best = r
                        break
            for r, regex in g_other:
                if r <= best:
                    break
                if regex.match(base):
                    best = r
                    break
            out.append(best)
        return out

    def usage(self, paths: Iterable[str]) -> tuple[set[int], set[int]]:
        """(rules matching some path, rules deciding some path)."""
        matched: set[int] = set()
        decided: set[int] = set()
        nodes: dict[str, _Node] = {}
        for path in paths:
            d, _, base = path.rpartition("/")
            node = nodes.get(d) or nodes.setdefault(d, self._node(d))
            here = _all_finals(node.tables, base) + _all_finals(self._global, base)
            matched.update(here)
            best = max(node.hit, *here, -1)
            if best >= 0:
                decided.add(best)
        seen: set[int] = set()
        for node in nodes.values():
            walk: _Node | None = node
            while walk is not None and id(walk) not in seen:
                seen.add(id(walk))
                matched.update(walk.tables.completed)
                walk = walk.parent
        return matched, decided

    def _node(self, d: str) -> _Node:
        node = self._nodes.get(d)
        if node is not None:
            return node
        if len(self._nodes) > _MAX_NODES:
            self._nodes = {"": self._root}
        missing = [d]
        while True:
            head = missing[-1].rpartition("/")[0]
            found = self._nodes.get(head)
            if found is not None:
                node = found
                break
            missing.append(head)
        for path in reversed(missing):
            node = self._child(node, path.rpartition("/")[2])
            self._nodes[path] = node
        return node

    def _child(self, parent: _Node, name: str) -> _Node:
        states: set[State] = set()
        for r, pos in parent.tables.persist:
            self._close(r, pos, states)
        for tables in (parent.tables, self._global):
            for r, pos in tables.lit_next.get(name, ()):
                self._close(r, pos, states)
            for regex, (r, pos) in tables.glob_next:
                if regex.match(name):
                    self._close(r, pos, states)
        return _Node(parent, _Tables(states, self._rules))

    def _close(self, r: int, pos: int, into: set[State]) -> None:
        """Add state (r, pos) and, while the element there is `**`, the state after it."""
        elements = self._rules[r][0]
        while pos < len(elements) and elements[pos] is STAR2:
            into.add((r, pos))
            pos += 1
        into.add((r, pos))


def _best_final(t: _Tables, base: str, best: int) -> int:
    """The highest rule above `best` whose last element matches file name `base`."""
    names = t.final_lit.get(base)
    if names and names[0] > best:
        best = names[0]
    if t.final_ext:
        dot = base.rfind(".")
        if dot >= 0:
            for r, regex in t.final_ext.get(base[dot:], ()):
                if r <= best:
                    break
                if regex.match(base):
                    best = r
                    break
    for r, regex in t.final_other:
        if r <= best:
            break
        if regex.match(base):
            return r
    return best


def _all_finals(t: _Tables, base: str) -> list[int]:
    out = list(t.final_lit.get(base, ()))
    dot = base.rfind(".")
    candidates = t.final_ext.get(base[dot:], []) if dot >= 0 else []
    out += [r for r, regex in (*candidates, *t.final_other) if regex.match(base)]
    return out

"""Path globs matched in linear time: config globs and GitHub's workflow filter patterns.

Config globs (`ignore`, waiver `path`, `owners.require`, `when_files`): `*` matches within one
path segment, `**` across segments (`a/**` is everything below `a/`, `**/x` is `x` at any
depth), `?` one character; a pattern with no `/` matches the file name at any depth, like
`.gitignore`.

Workflow filters (`paths:`, `paths-ignore:`, `branches:`; GitHub's "filter pattern cheat
sheet"): `*` any characters but `/`, `**` any characters, `?` zero or one and `+` one or more of
the preceding character, `[...]` one character listed or in a range (`[0-9a-z]`), `\\` escapes
the next character. `!` at the start of a pattern negates it (see `filter_matches`).

Theory of operation. A backtracking regex takes exponential time on hostile patterns such as
`*a*a*a*a*a*a*a*a*a*a*b` against a long name, and such patterns come from pull requests. So a
pattern is parsed into atoms (a character test with a quantifier) and run as an NFA whose state
sets are memoised as a DFA while matching: each character of a path costs one dict lookup once a
transition is known, and at worst one step over the pattern's states, so matching is
O(len(path) * len(pattern)) whatever the input. A state that accepts whatever follows (`a/**`
after `a/`) or can never accept ends the walk early, and literal heads and tails (`docs/`,
`.tf`) reject most paths before the automaton runs. Patterns longer than `MAX_GLOB_LENGTH`
match nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

MAX_GLOB_LENGTH: Final = 1_000  # characters; a longer pattern matches no path
_MAX_STATES: Final = 1_024  # DFA states kept per pattern before they are forgotten
_SURE: Final = -1  # the path matches whatever follows
_DEAD: Final = -2  # the path cannot match whatever follows

# Quantifiers of an atom.
_ONE: Final = 0
_OPT: Final = 1
_STAR: Final = 2


class _AnyChar:
    """The test of `**`: every character."""

    def __contains__(self, char: object) -> bool:
        return True


class _NotSlash:
    """The test of `*`: every character but `/`."""

    def __contains__(self, char: object) -> bool:
        return char != "/"


@dataclass(frozen=True)
class _Class:
    """The test of `[...]`: the characters listed and `a-z`-style ranges (a reversed range is
    empty)."""

    chars: frozenset[str]
    ranges: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, body: str) -> _Class:
        chars: set[str] = set()
        ranges: list[tuple[str, str]] = []
        i = 0
        while i < len(body):
            if i + 2 < len(body) and body[i + 1] == "-":
                ranges.append((body[i], body[i + 2]))
                i += 3
            else:
                chars.add(body[i])
                i += 1
        return cls(frozenset(chars), tuple(ranges))

    def __contains__(self, char: object) -> bool:
        if char in self.chars:
            return True
        return isinstance(char, str) and any(low <= char <= high for low, high in self.ranges)


_ANY: Final = _AnyChar()
_NOT_SLASH: Final = _NotSlash()
_Test = _AnyChar | _NotSlash | _Class | frozenset[str]


@dataclass(frozen=True)
class _Atom:
    """One character test with a quantifier; `dirs` is the `**/` group (empty or `.*/`)."""

    test: _Test
    quantifier: int = _ONE
    dirs: bool = False

    @property
    def literal(self) -> str | None:
        """The character this atom matches exactly once, if it is a plain character."""
        if self.quantifier == _ONE and isinstance(self.test, frozenset) and len(self.test) == 1:
            return next(iter(self.test))
        return None


_DIRS: Final = _Atom(_ANY, _STAR, dirs=True)


class Glob:
    """A compiled pattern: `match(path)` says whether it matches the whole path."""

    def __init__(self, pattern: str, atoms: Sequence[_Atom]) -> None:
        self.pattern = pattern
        self._atoms = tuple(atoms)
        self._prefix = _literal_run(atoms)
        self._suffix = _literal_run(atoms[len(self._prefix) :][::-1])[::-1]
        self._built = False  # the automaton is built for the first path past the literal tests

    def match(self, path: str) -> bool:
        if not (path.startswith(self._prefix) and path.endswith(self._suffix)):
            return False
        if len(path) < len(self._prefix) + len(self._suffix):
            return False
        if not self._built:
            self._build()
        if self._forever & self._sets[0]:
            return True
        rows = self._rows
        state = 0
        for char in path:
            step = rows[state].get(char)
            state = self._step(state, char) if step is None else step
            if state < 0:
                return state == _SURE
        return self._accept in self._sets[state]

    def _build(self) -> None:
        self._edges: list[list[tuple[_Test, int]]] = []
        self._eps: list[list[int]] = []
        tail = self._new()
        for atom in self._atoms:
            tail = self._add(tail, atom)
        self._accept = tail
        self._forever = frozenset(
            n
            for n, edges in enumerate(self._edges)
            if (_ANY, n) in edges and tail in self._closure({n})
        )
        # The DFA built while matching: state ids index `_sets` and `_rows` (next id per
        # character); the start is id 0.
        self._sets: list[frozenset[int]] = []
        self._rows: list[dict[str, int]] = []
        self._ids: dict[frozenset[int], int] = {}
        self._intern(self._closure({0}))
        self._built = True

    def __repr__(self) -> str:
        return f"Glob({self.pattern!r})"

    def _step(self, state: int, char: str) -> int:
        """The next state's id, `_SURE` once every continuation matches, `_DEAD` once none can."""
        current = self._sets[state]
        moved = {dst for src in current for test, dst in self._edges[src] if char in test}
        after = self._closure(moved)
        if not after:
            nxt = _DEAD
        elif self._forever & after:
            nxt = _SURE
        else:
            if after not in self._ids and len(self._sets) >= _MAX_STATES:
                # Bounded memory: forget the DFA in place (`match` keeps only the id returned).
                start = self._sets[0]
                self._sets.clear()
                self._rows.clear()
                self._ids.clear()
                self._intern(start)
                self._intern(after)
                return self._ids[after]
            nxt = self._intern(after)
        self._rows[state][char] = nxt
        return nxt

    def _intern(self, nodes: frozenset[int]) -> int:
        known = self._ids.get(nodes)
        if known is not None:
            return known
        self._ids[nodes] = len(self._sets)
        self._sets.append(nodes)
        self._rows.append({})
        return len(self._sets) - 1

    def _closure(self, nodes: Iterable[int]) -> frozenset[int]:
        seen = set(nodes)
        todo = list(seen)
        while todo:
            for nxt in self._eps[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return frozenset(seen)

    def _new(self) -> int:
        self._edges.append([])
        self._eps.append([])
        return len(self._edges) - 1

    def _add(self, tail: int, atom: _Atom) -> int:
        """Thompson construction of one atom after node `tail`; returns the new tail."""
        if atom.dirs:  # `(?:.*/)?`: nothing, or anything ending with a slash
            loop, end = self._new(), self._new()
            self._eps[tail] += [end, loop]
            self._edges[loop] += [(_ANY, loop), (frozenset("/"), end)]
            return end
        node = self._new()
        if atom.quantifier == _STAR:
            self._eps[tail].append(node)
            self._edges[node].append((atom.test, node))
            return node
        self._edges[tail].append((atom.test, node))
        if atom.quantifier == _OPT:
            self._eps[tail].append(node)
        return node


def _literal_run(atoms: Sequence[_Atom]) -> str:
    out = []
    for atom in atoms:
        char = atom.literal
        if char is None:
            break
        out.append(char)
    return "".join(out)


_NOTHING: Final = Glob("", [_Atom(frozenset())])  # matches no path


@lru_cache(maxsize=1024)
def compile_glob(pattern: str) -> Glob:
    """A config glob (see the module docstring) as a matcher of whole repository paths."""
    pattern = pattern.strip().lstrip("/")
    if len(pattern) > MAX_GLOB_LENGTH:
        return _NOTHING
    if pattern.endswith("/"):
        pattern += "**"
    if "/" not in pattern:
        pattern = "**/" + pattern
    atoms: list[_Atom] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            atoms.append(_DIRS)
            i += 3
        elif pattern.startswith("**", i):
            atoms.append(_Atom(_ANY, _STAR))
            i += 2
        elif pattern[i] == "*":
            atoms.append(_Atom(_NOT_SLASH, _STAR))
            i += 1
        elif pattern[i] == "?":
            atoms.append(_Atom(_NOT_SLASH))
            i += 1
        else:
            atoms.append(_Atom(frozenset(pattern[i])))
            i += 1
    return Glob(pattern, atoms)


@lru_cache(maxsize=1024)
def compile_filter(pattern: str) -> Glob:
    """A GitHub workflow filter pattern (without its `!`) as a matcher of whole paths or refs.

    A `?` or `+` with no preceding character is literal; one after a `*`, `**` or another
    quantifier changes nothing (`*+` is `*`)."""
    if len(pattern) > MAX_GLOB_LENGTH:
        return _NOTHING
    atoms: list[_Atom] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            atoms.append(_DIRS)
            i += 3
        elif pattern.startswith("**", i):
            atoms.append(_Atom(_ANY, _STAR))
            i += 2
        elif char == "*":
            atoms.append(_Atom(_NOT_SLASH, _STAR))
            i += 1
        elif char in "?+" and atoms:
            last = atoms[-1]
            if last.quantifier == _ONE:
                atoms[-1] = _Atom(last.test, _OPT) if char == "?" else last
                if char == "+":
                    atoms.append(_Atom(last.test, _STAR))
            i += 1
        elif char == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end]
            atoms += [_Atom(_Class.of(body))] if body else [_Atom(frozenset(c)) for c in "[]"]
            i = end + 1
        elif char == "\\" and i + 1 < len(pattern):
            atoms.append(_Atom(frozenset(pattern[i + 1])))
            i += 2
        else:
            atoms.append(_Atom(frozenset(char)))
            i += 1
    return Glob(pattern, atoms)


def glob_match(pattern: str, path: str) -> bool:
    """Whether a config glob matches a repository-relative path."""
    return compile_glob(pattern).match(path)


def any_glob(patterns: Iterable[str], path: str) -> bool:
    """Whether any of the config globs matches (the list is compiled once, however long)."""
    globs = _glob_list(patterns if isinstance(patterns, tuple) else tuple(patterns))
    return any(glob.match(path) for glob in globs)


@lru_cache(maxsize=256)
def _glob_list(patterns: tuple[str, ...]) -> tuple[Glob, ...]:
    return tuple(compile_glob(p) for p in patterns)


class FilterList:
    """A workflow filter list (`paths:`, `paths-ignore:`, `branches:`), compiled once."""

    def __init__(self, patterns: Sequence[str]) -> None:
        self.size = len(patterns)
        # Last first: the last pattern that matches decides, so the walk can stop there.
        self._globs = tuple(
            (p.startswith("!"), compile_filter(p[1:] if p.startswith("!") else p))
            for p in reversed(patterns)
        )

    def selects(self, path: str) -> bool:
        """Whether `path` is selected: matched by a pattern, and not by a later `!pattern`."""
        return next((not negated for negated, glob in self._globs if glob.match(path)), False)


@lru_cache(maxsize=256)
def compile_filters(patterns: tuple[str, ...]) -> FilterList:
    """A filter list, compiled once per distinct list (compiling per path would not be)."""
    return FilterList(patterns)


def filter_matches(patterns: Sequence[str], path: str) -> bool:
    """Whether `path` is selected by a workflow filter list; a later `!pattern` unselects it."""
    return compile_filters(tuple(patterns)).selects(path)

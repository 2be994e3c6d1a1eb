"""The fast CODEOWNERS resolver: an NFA over path segments, memoised per directory.

A rule is a tuple of elements (literal segment, `Glob`, or `STAR2` = zero or more segments) and
a mode (EXACT, PREFIX, DIR: see `ghapp.core.ownership.codeowners`). A *state* `(rule, pos)` says that the
rule's first `pos` elements matched the directories walked so far. Entering a child directory
advances the states whose next element matches its name (literal names through a dict); a
directory where a rule's elements are all used up (PREFIX or DIR mode) owns everything below
it, so each directory node keeps `hit`, the highest such rule on its ancestor chain. A file then
only needs the rules whose *last* element can match its name: a dict lookup for literal names,
an extension index for globs like `*.rs`, and the few other globs, tried from the highest rule
down with early exit because the last matching line wins.

A `**` state stays live in every directory below the one where it started; the successors of
such states form a *layer* (`_Layers`) shared by reference with those directories instead of
being copied into each (rules starting with `**` make a layer at the root). Directories where
no new state starts share one node (a directory whose states are only completed rules shares
it too), and a quick test on a child's name (literal names, glob first characters and
extensions) skips the NFA step for most directories.

Files: each final set keeps an index of the whole chain (highest rule per literal name, per
glob extension, per glob first character). In a directory with no unindexed glob above its
floor (`hit`, or a bare `*` final such as `docs/*`), a file is one dict lookup (its literal name
above the floor, else the floor's answer), unless its name starts or ends like an indexed glob
above the floor; only those, and directories with other globs, match names against the finals
(memoised per shared final set).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Final, TypeAlias, TypeVar

EXACT: Final = 0
PREFIX: Final = 1
DIR: Final = 2
_MAX_NODES: Final = 500_000  # memo bound for long-running processes resolving many trees
_MAX_INDEX: Final = 64  # names, extensions, first characters copied per `_FinalSet.index`
_MAX_FILTER: Final = 2  # glob first characters + extensions worth testing before matching
_EVERY_NAME: Final = r"[^/]*\Z"  # the regex of the glob `*`


class _GlobStar:
    """The `**` element (a sentinel, so a literal segment spelt `\\*\\*` stays distinct)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "**"


STAR2: Final = _GlobStar()


@dataclass(frozen=True)
class Glob:
    """A one-segment glob; `ext` is the extension every match ends with and `head` the literal
    text every match starts with ('' when none): indexes, so most names skip the regex."""

    regex: re.Pattern[str]
    ext: str = ""
    head: str = ""


Element: TypeAlias = str | Glob | _GlobStar
State: TypeAlias = tuple[int, int]
T = TypeVar("T")
_Finals: TypeAlias = list[tuple[int, re.Pattern[str]]]
# Highest rule per literal file name, per glob extension, per glob first character.
# A child directory's name can step only if in the first set, starting with one of the
# second (globs' first characters), ending with one of the third (globs' extensions), or
# when the flag (a glob with neither) is set.
_Gate: TypeAlias = tuple[AbstractSet[str], tuple[str, ...], tuple[str, ...], bool]
_Index: TypeAlias = tuple[dict[str, int], dict[str, int], dict[str, int]]
# Per directory kind in one `resolve` call: literal names deciding above the floor (and their
# answers), the answer of every other name, and the first characters and extensions of the
# globs above the floor (None: there are none); names with neither need no glob matching.
# (A None dict: every name is matched against the finals.)
_Answers: TypeAlias = tuple[dict[str, T] | None, T, tuple[str, ...] | None, tuple[str, ...]]


def _rule_of(final: tuple[int, re.Pattern[str]]) -> int:
    return final[0]


class _Tables:
    """What a set of states does next: step into a child directory, or match a file name.
    Globs are indexed by extension, else by first character, else tried always (`*_any`).
    `**` states themselves are skipped: the layer holding their successors is inherited."""

    __slots__ = (
        "completed",
        "final_any",
        "final_ext",
        "final_head",
        "final_lit",
        "final_whole",
        "glob_any",
        "glob_ext",
        "glob_head",
        "has_finals",
        "lit_next",
        "only_whole",
        "states",
        "steps",
    )

    def __init__(self, states: Iterable[State], rules: Sequence[tuple[Sequence[Element], int]]):
        self.completed: list[int] = []
        self.lit_next: dict[str, list[State]] = {}
        self.glob_ext: dict[str, list[tuple[re.Pattern[str], State]]] = {}
        self.glob_head: dict[str, list[tuple[re.Pattern[str], State]]] = {}
        self.glob_any: list[tuple[re.Pattern[str], State]] = []
        self.final_lit: dict[str, list[int]] = {}
        self.final_ext: dict[str, _Finals] = {}
        self.final_head: dict[str, _Finals] = {}
        self.final_any: _Finals = []
        self.final_whole: list[int] = []  # rules whose last element, a bare `*`, is final here
        for r, pos in states:
            elements, mode = rules[r]
            last = len(elements) - 1
            if pos > last:
                if mode != EXACT:
                    self.completed.append(r)
                continue
            element = elements[pos]
            final = pos == last and mode != DIR
            # Stepping past an EXACT rule's last element reaches nothing: no step is kept.
            step = pos < last or mode != EXACT
            if isinstance(element, str):
                if step:
                    self.lit_next.setdefault(element, []).append((r, pos + 1))
                if final:
                    self.final_lit.setdefault(element, []).append(r)
            elif isinstance(element, Glob):
                regex = element.regex
                if element.ext:
                    if step:
                        self.glob_ext.setdefault(element.ext, []).append((regex, (r, pos + 1)))
                    if final:
                        self.final_ext.setdefault(element.ext, []).append((r, regex))
                elif element.head:
                    if step:
                        self.glob_head.setdefault(element.head[0], []).append((regex, (r, pos + 1)))
                    if final:
                        self.final_head.setdefault(element.head[0], []).append((r, regex))
                else:
                    if step:
                        self.glob_any.append((regex, (r, pos + 1)))
                    if final:
                        self.final_any.append((r, regex))
                        if regex.pattern == _EVERY_NAME:
                            self.final_whole.append(r)
        for names in self.final_lit.values():
            if len(names) > 1:
                names.sort(reverse=True)
        for finals in (*self.final_ext.values(), *self.final_head.values(), self.final_any):
            if len(finals) > 1:
                finals.sort(key=_rule_of, reverse=True)
        # Whether a final set is needed for this table's finals: not when all are bare `*`.
        self.only_whole = len(self.final_whole) == len(self.final_any) and not (
            self.final_lit or self.final_ext or self.final_head
        )
        self.has_finals = bool(
            self.final_lit or self.final_ext or self.final_head or self.final_any
        )
        self.steps = bool(self.lit_next or self.glob_ext or self.glob_head or self.glob_any)
        # A directory with only completed rules behaves like its plain children (they inherit
        # its `hit`), so they can share its node.
        self.states = self.steps or self.has_finals

    def may_step(self, name: str) -> bool:
        """False when no state here can advance on a directory called `name`."""
        if self.glob_any or name in self.lit_next or name[:1] in self.glob_head:
            return True
        dot = name.rfind(".")
        return dot >= 0 and name[dot:] in self.glob_ext


_EMPTY: Final = _Tables((), ())


class _FinalSet:
    """The finals a directory's files are checked against: this set's own tables (merged) on
    top of a `parent` set (the enclosing layers), with a memo from file name to the best rule.
    Directories sharing a set share its memo, so names like `Makefile` are decided once, and a
    chain never copies its parent's finals."""

    __slots__ = (
        "any",
        "any_top",
        "ext",
        "head",
        "index",
        "lit",
        "memo",
        "parent",
        "tables",
        "whole",
    )

    def __init__(self, tables: tuple[_Tables, ...], parent: _FinalSet | None, shared: bool):
        inherited: tuple[_Tables, ...] = () if parent is None else parent.tables
        self.tables: tuple[_Tables, ...] = (*inherited, *tables)
        self.parent = parent
        # Only a set shared by many directories gains from a memo.
        self.memo: dict[str, int] | None = {} if shared else None
        self.lit: dict[str, int] = {}
        self.ext: dict[str, _Finals] = {}
        self.head: dict[str, _Finals] = {}
        self.any: _Finals = []
        for t in tables:
            for name, rules in t.final_lit.items():
                self.lit[name] = max(self.lit.get(name, -1), rules[0])
            for merged, part in ((self.ext, t.final_ext), (self.head, t.final_head)):
                for key, finals in part.items():
                    merged.setdefault(key, []).extend(finals)
            self.any += t.final_any
        if len(tables) > 1:
            for finals in (*self.ext.values(), *self.head.values(), self.any):
                finals.sort(key=lambda f: -f[0])
        # A summary of the whole chain, so most files are decided without calling `best`:
        # `whole`, the highest rule whose last element is a bare `*` (matches every name);
        # `any_top`, the highest other unindexed glob; `index`, the highest rule per literal
        # name, per glob extension and per glob first character (None when too big to copy).
        wholes = [r for r, regex in self.any if regex.pattern == _EVERY_NAME]
        others = [r for r, regex in self.any if regex.pattern != _EVERY_NAME]
        self.whole: int = max((-1 if parent is None else parent.whole, *wholes))
        self.any_top: int = max((-1 if parent is None else parent.any_top, *others))
        self.index: _Index | None = ({}, {}, {}) if parent is None else parent.index
        if self.index is not None and (self.lit or self.ext or self.head):
            self.index = _merge_index(self.index, self.lit, self.ext, self.head)

    def best(self, base: str) -> int:
        """The highest rule whose last element matches file name `base` (-1: none)."""
        parent = self.parent
        if parent is None:
            best = -1
        else:
            memo = parent.memo
            inherited = None if memo is None else memo.get(base)
            best = parent.best(base) if inherited is None else inherited
        own = self.lit.get(base, -1)
        if own > best:
            best = own
        if self.ext:
            dot = base.rfind(".")
            if dot >= 0 and (finals := self.ext.get(base[dot:])):
                best = _first(finals, base, best)
        if self.head and (finals := self.head.get(base[:1])):
            best = _first(finals, base, best)
        if self.any:
            best = _first(self.any, base, best)
        if self.memo is not None:
            self.memo[base] = best
        return best

    def all(self, base: str) -> list[int]:
        """Every rule whose last element matches `base` (for lint: not just the best)."""
        return [r for t in self.tables for r in _all_finals(t, base)]


class _Layers:
    """The `**` layers live in a directory (shared, by reference, with the subdirectories that
    add no new `**` state), with a memo of which states entering a child name reaches and a
    quick test for names that cannot step at all (most of them)."""

    __slots__ = (
        "any_glob",
        "exts",
        "finals",
        "gate",
        "heads",
        "names",
        "reached",
        "steppers",
        "tables",
    )

    def __init__(self, tables: tuple[_Tables, ...], parent: _Layers | None = None) -> None:
        inherited: tuple[_Tables, ...] = () if parent is None else parent.tables
        self.tables: tuple[_Tables, ...] = (*inherited, *tables)
        self.steppers = tuple(t for t in self.tables if t.steps)
        own = tuple(t for t in tables if t.has_finals)
        self.finals: _FinalSet = (
            parent.finals
            if parent is not None and not own
            else _FinalSet(own, parent.finals if parent else None, shared=True)
        )
        self.reached: dict[str, tuple[State, ...]] = {}
        self.names = {name for t in self.tables for name in t.lit_next}
        self.exts = {ext for t in self.tables for ext in t.glob_ext}
        self.heads = {head for t in self.tables for head in t.glob_head}
        self.any_glob = any(t.glob_any for t in self.tables)
        self.gate: _Gate = (self.names, tuple(self.heads), tuple(self.exts), self.any_glob)

    def may_step(self, name: str) -> bool:
        """False when no layer can advance on a directory called `name`."""
        if self.any_glob or name in self.names or name[:1] in self.heads:
            return True
        dot = name.rfind(".")
        return dot >= 0 and name[dot:] in self.exts


class _Node:
    """A directory: `layers`, `fresh` (its other states), `hit` (the highest rule owning
    everything below it) and the final set its files are checked against. Directories where
    nothing new happens share their parent's `plain` node."""

    __slots__ = ("_gate", "_plain", "finals", "floor", "fresh", "hit", "key", "layers")

    def __init__(self, layers: _Layers, fresh: _Tables, hit: int) -> None:
        self.layers = layers
        self.fresh = fresh
        self.hit = hit = max(hit, *fresh.completed) if fresh.completed else hit
        # Files here get rule `floor` or better: `hit`, or a bare `*` rule. A table whose
        # finals are all bare `*` (`docs/*`) needs no final set of its own, just the floor.
        if fresh.only_whole:
            finals = self.finals = layers.finals
            floor = max(hit, finals.whole, *fresh.final_whole)
        else:
            finals = self.finals = _FinalSet((fresh,), layers.finals, shared=False)
            floor = max(hit, finals.whole)
        self.floor = floor
        # With an index and no unindexed glob above the floor, `Engine.resolve` decides most
        # files with one dict lookup, sharing the work among directories with the same key.
        plain = finals.any_top <= floor and finals.index is not None
        self.key: tuple[_FinalSet, int] | None = (finals, floor) if plain else None
        self._plain: _Node | None = None
        self._gate: _Gate | None = None if fresh.steps else layers.gate

    def gate(self) -> _Gate:
        """What a child directory's name must have for any state to step into it: one of the
        literal `names`, a glob's first character or extension, or any name (`any_glob`)."""
        if self._gate is None:
            names, heads, exts, any_glob = self.layers.gate
            fresh = self.fresh
            self._gate = (
                names | fresh.lit_next.keys(),
                (*heads, *fresh.glob_head),
                (*exts, *fresh.glob_ext),
                any_glob or bool(fresh.glob_any),
            )
        return self._gate

    def plain(self) -> _Node:
        """The node of a child directory where no new state starts (shared by all of them)."""
        if self._plain is None:
            self._plain = _Node(self.layers, _EMPTY, self.hit) if self.fresh.states else self
        return self._plain


class Engine:
    """Resolve paths against rules given in file order (a higher index wins)."""

    def __init__(self, rules: Sequence[tuple[Sequence[Element], int]]) -> None:
        self._rules = rules
        self._star_states = {
            (r, pos)
            for r, (elements, _) in enumerate(rules)
            for pos, e in enumerate(elements)
            if e is STAR2
        }
        self._tables: dict[frozenset[State], _Tables] = {}
        root: set[State] = set()
        for r in range(len(rules)):
            self._close(r, 0, root)
        self._root = self._make(_Layers(()), root, -1)
        self._nodes: dict[str, _Node] = {"": self._root}

    def resolve(self, paths: Iterable[str], values: Sequence[T]) -> list[T]:
        """`values[i]` for each path decided by rule `i`; `values[-1]` when no rule matches
        (so `values` has one more item than there are rules)."""
        out: list[T] = []
        append = out.append
        nodes = self._nodes
        answers: dict[tuple[_FinalSet, int], _Answers[T]] = {}
        named: dict[str, T] | None = None  # None: every file goes through `finals.best`
        same: T = values[-1]
        heads: tuple[str, ...] | None = None
        exts: tuple[str, ...] = ()
        last_dir: str | None = None
        last_node: _Node | None = None
        floor, finals, memo = -1, self._root.finals, self._root.finals.memo
        for path in paths:
            d, _, base = path.rpartition("/")
            if d != last_dir:
                last_dir = d
                node = nodes.get(d) or self._new_node(d)
                if node is not last_node:  # a plain subtree shares one node
                    last_node = node
                    floor, finals, memo = node.floor, node.finals, node.finals.memo
                    key = node.key
                    if key is None:
                        named = None
                    else:
                        known = answers.get(key)
                        if known is None:
                            known = answers[key] = _answers(key[0], key[1], values)
                        named, same, heads, exts = known
            if named is not None and (
                heads is None or not (base.startswith(heads) or base.endswith(exts))
            ):
                append(named.get(base, same))
                continue
            best = None if memo is None else memo.get(base)
            if best is None:
                best = finals.best(base)
            append(values[best if best > floor else floor])
        return out

    def resolve_one(self, path: str, values: Sequence[T]) -> T:
        """`resolve` for one path: the same per-directory nodes and memos, without the per-call
        tables `resolve` builds to share work among many paths."""
        d, _, base = path.rpartition("/")
        node = self._nodes.get(d) or self._new_node(d)
        floor, finals = node.floor, node.finals
        memo = finals.memo
        best = None if memo is None else memo.get(base)
        if best is None:
            best = finals.best(base)
        return values[best if best > floor else floor]

    def usage(self, paths: Iterable[str]) -> tuple[set[int], set[int]]:
        """(rules matching some path, rules deciding some path)."""
        matched: set[int] = set()
        decided: set[int] = set()
        dirs: set[str] = set()
        for path in paths:
            d, _, base = path.rpartition("/")
            node = self._node(d)
            dirs.add(d)
            here = node.finals.all(base)
            if node.finals is node.layers.finals:  # bare `*` finals of its own (see `_Node`)
                here += node.fresh.final_whole
            matched.update(here)
            best = max(node.hit, *here, -1)
            if best >= 0:
                decided.add(best)
        seen: set[str] = set()
        for d in dirs:  # rules owning a directory match the files below it
            while d not in seen:
                seen.add(d)
                matched.update(self._node(d).fresh.completed)
                d = d.rpartition("/")[0] if d else d
        return matched, decided

    def _node(self, d: str) -> _Node:
        return self._nodes.get(d) or self._new_node(d)

    def _new_node(self, d: str) -> _Node:
        """The node of directory `d`, not yet known (its ancestors are made as needed)."""
        nodes = self._nodes
        if len(nodes) > _MAX_NODES:
            nodes = self._nodes = {"": self._root}
        head, _, name = d.rpartition("/")
        parent = nodes.get(head)
        if parent is not None:  # usually (sorted paths): the quick test first
            names, heads, exts, any_glob = parent._gate or parent.gate()
            if not (any_glob or name in names or name.startswith(heads) or name.endswith(exts)):
                node = nodes[d] = parent._plain or parent.plain()
                return node
        else:
            missing: list[tuple[str, str]] = []
            while parent is None:  # up to the nearest known ancestor ("" is always known)
                missing.append((head, head.rpartition("/")[2]))
                head = head.rpartition("/")[0]
                parent = nodes.get(head)
            for path, segment in reversed(missing):
                parent = nodes[path] = self._child(parent, segment)
        node = nodes[d] = self._child(parent, name)
        return node

    def _child(self, parent: _Node, name: str) -> _Node:
        names, heads, exts, any_glob = parent._gate or parent.gate()
        if not (any_glob or name in names or name.startswith(heads) or name.endswith(exts)):
            return parent._plain or parent.plain()
        layers = parent.layers
        if layers.steppers:
            reached = layers.reached.get(name)
            if reached is None:
                may = layers.may_step(name)
                reached = layers.reached[name] = self._steps(layers.steppers, name) if may else ()
        else:
            reached = ()
        fresh = parent.fresh
        if fresh.steps and fresh.may_step(name):
            reached += self._steps((fresh,), name)
        if not reached:
            return parent._plain or parent.plain()
        return self._make(layers, set(reached), parent.hit)

    def _steps(self, tables: Iterable[_Tables], name: str) -> tuple[State, ...]:
        """The states (closed over `**`) reached by entering a directory called `name`."""
        starts: list[State] = []
        for t in tables:
            starts += t.lit_next.get(name, ())
            candidates: list[tuple[re.Pattern[str], State]] = []
            if t.glob_ext:
                dot = name.rfind(".")
                if dot >= 0:
                    candidates += t.glob_ext.get(name[dot:], ())
            if t.glob_head:
                candidates += t.glob_head.get(name[:1], ())
            candidates += t.glob_any
            starts += [state for regex, state in candidates if regex.match(name)]
        if not starts:
            return ()
        states = set(starts)
        for r, pos in states & self._star_states:
            self._close(r, pos, states)
        return tuple(states)

    def _make(self, layers: _Layers, states: set[State], hit: int) -> _Node:
        """A node from its new states: `**` states and their successors become a new layer."""
        star = states & self._star_states
        if star:
            successors = {(r, pos + 1) for r, pos in star}
            layers = _Layers((_Tables(successors, self._rules),), layers)
            states = states - star - successors
        key = frozenset(states)
        fresh = self._tables.get(key)
        if fresh is None:  # sibling directories often reach the same states (`/boards/nrf*/`)
            fresh = self._tables[key] = _Tables(states, self._rules)
        return _Node(layers, fresh, hit)

    def _close(self, r: int, pos: int, into: set[State]) -> None:
        """Add state (r, pos) and, while the element there is `**`, the state after it."""
        elements = self._rules[r][0]
        while pos < len(elements) and elements[pos] is STAR2:
            into.add((r, pos))
            pos += 1
        into.add((r, pos))


def _merge_index(
    index: _Index, lit: dict[str, int], ext: dict[str, _Finals], head: dict[str, _Finals]
) -> _Index | None:
    """`index` (unchanged) plus one final set's own finals; None when it gets too big."""
    out: _Index = (dict(index[0]), dict(index[1]), dict(index[2]))
    for into, tops in (
        (out[0], lit.items()),
        (out[1], ((k, f[0][0]) for k, f in ext.items())),
        (out[2], ((k, f[0][0]) for k, f in head.items())),
    ):
        for key, rule in tops:
            into[key] = max(into.get(key, -1), rule)
    return out if sum(map(len, out)) <= _MAX_INDEX else None


def _answers(finals: _FinalSet, floor: int, values: Sequence[T]) -> _Answers[T]:
    """What `Engine.resolve` needs for the directories of one key (see `_Answers`)."""
    names, ext_tops, head_tops = finals.index or ({}, {}, {})
    named = {name: values[r] for name, r in names.items() if r > floor}
    heads = tuple(h for h, r in head_tops.items() if r > floor)
    exts = tuple(e for e, r in ext_tops.items() if r > floor)
    if len(heads) + len(exts) > _MAX_FILTER:  # most names would pass the test: skip it
        return None, values[floor], None, ()
    return named, values[floor], heads if heads or exts else None, exts


def _first(finals: _Finals, base: str, best: int) -> int:
    """The first (highest) rule above `best` in `finals` whose glob matches `base`."""
    for r, regex in finals:
        if r <= best:
            break
        if regex.match(base):
            return r
    return best


def _all_finals(t: _Tables, base: str) -> list[int]:
    """Every rule whose last element matches file name `base` (for lint: not just the best)."""
    dot = base.rfind(".")
    candidates = [
        *(t.final_ext.get(base[dot:], ()) if dot >= 0 else ()),
        *t.final_head.get(base[:1], ()),
        *t.final_any,
    ]
    return [*t.final_lit.get(base, ()), *(r for r, regex in candidates if regex.match(base))]

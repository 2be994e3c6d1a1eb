"""YAML with line numbers, for findings that point at the line to fix, read within a budget.

`load_documents(text)` parses every document with PyYAML's safe loader and returns plain
dicts and lists that also remember where they came from: a `LineDict` knows its own line and the
line of each key, a `LineList` its own line and the line of each item (all 1-based).

Every parse has a budget, because every YAML file ghapp reads may come from a pull request:
at most `MAX_YAML_BYTES` of text, and a document that, with its aliases expanded, has at most
`MAX_NODES` nodes, `MAX_SCALAR_CHARS` characters of scalars and `MAX_DEPTH` levels of nesting.
The expanded size is measured on the composed node graph before any value is built (a shared
node is measured once, and counted each time it is used), so a "billion laughs" alias bomb of a
few hundred bytes costs microseconds and a `YamlLimitError`, never gigabytes once its values are
turned into text. Values are built without recursion, so no input reaches Python's recursion
limit. A value YAML 1.1 cannot represent in Python stays the text it was written as: an invalid
date such as `2026-02-30` (GitHub and Kubernetes read it as a string too), an integer too long
to print.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from typing import Any, Final

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, ScalarNode

MAX_YAML_BYTES: Final = 2_000_000  # bytes of text in one file
MAX_NODES: Final = 500_000  # nodes of the expanded documents of one file
MAX_SCALAR_CHARS: Final = 10_000_000  # characters of scalars in the expanded documents
MAX_DEPTH: Final = 100  # levels of nesting
_MAX_INT_BITS: Final = 13_000  # about 3,900 digits: below Python's 4,300-digit str() limit

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlError(ValueError):
    """A YAML file that cannot be read, with the 1-based line where it went wrong."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class YamlLimitError(YamlError):
    """A YAML file over a budget (bytes, nodes, scalar text, depth): not read in full.

    Unlike a syntax error (the tools that read the file would reject it too), the content is
    unknown, so callers report it where the content would have been checked."""


class LineDict(dict[Any, Any]):
    line: int = 1
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list[Any]):
    line: int = 1
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if 0 <= index < len(self.item_lines) else self.line


def _line(node: Any) -> int:
    return int(node.start_mark.line) + 1


def _loader_class(base: Any) -> Any:
    class Loader(base):  # type: ignore[misc]
        """The safe loader with line-aware values, bounded nesting and readable value errors."""

        depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            # Only PyYAML's pure-Python composer recurses here (libyaml composes in C and stops
            # at 1,000 levels itself); stop well before Python's recursion limit.
            self.depth += 1
            try:
                if self.depth > MAX_DEPTH:
                    mark = self.peek_event().start_mark
                    raise YamlLimitError(_deeper_than(), mark.line + 1)
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

        def construct_object(self, node: Any, deep: bool = False) -> Any:
            try:
                return super().construct_object(node, deep=deep)
            except (yaml.YAMLError, YamlError):
                raise
            except Exception as exc:
                # e.g. `!!float abc`, `!!bool maybe`: a value no constructor can build
                kind = str(node.tag).rsplit(":", 1)[-1]
                shown = str(node.value)[:60] if node.__class__ is ScalarNode else "value"
                raise YamlError(f"cannot read {shown!r} as {kind}: {exc}", _line(node)) from None

    Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
    Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)
    Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)
    Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
    return Loader


def _construct_map(loader: Any, node: yaml.MappingNode) -> Iterator[LineDict]:
    # A generator: PyYAML fills the yielded mapping after its parent, so nesting never recurses.
    out = LineDict()
    out.line = _line(node)
    out.key_lines = {}
    yield out
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node)
        try:
            hash(key)
        except TypeError:
            raise YamlError("unhashable mapping key", _line(key_node)) from None
        out[key] = loader.construct_object(value_node)
        out.key_lines[key] = _line(key_node)


def _construct_seq(loader: Any, node: yaml.SequenceNode) -> Iterator[LineList]:
    out = LineList()
    out.line = _line(node)
    out.item_lines = [_line(child) for child in node.value]
    yield out
    out.extend(loader.construct_object(child) for child in node.value)


def _construct_timestamp(loader: Any, node: yaml.ScalarNode) -> Any:
    try:
        return SafeConstructor.construct_yaml_timestamp(loader, node)
    except ValueError:  # `2026-02-30`: looks like a date, is not one
        return loader.construct_scalar(node)


def _construct_int(loader: Any, node: yaml.ScalarNode) -> Any:
    try:
        value = SafeConstructor.construct_yaml_int(loader, node)
    except ValueError:  # over Python's 4,300-digit limit for decimal text
        return loader.construct_scalar(node)
    # A long hexadecimal integer builds, but could not be printed later.
    return loader.construct_scalar(node) if value.bit_length() > _MAX_INT_BITS else value


_CLoader: Any = _loader_class(_Base)
_PyLoader: Any = _loader_class(yaml.SafeLoader)


def _deeper_than() -> str:
    return f"YAML nested more than {MAX_DEPTH} levels deep; not read"


class _Budget:
    """What is left of one file's budget, spent as its documents are measured."""

    def __init__(self) -> None:
        self.nodes = MAX_NODES
        self.chars = MAX_SCALAR_CHARS

    def spend(self, root: Any) -> None:
        """Measure one composed document with aliases expanded; raise when over budget."""
        if root.__class__ is ScalarNode:
            self._check(root, 1, len(root.value), 0)
            self.nodes -= 1
            self.chars -= len(root.value)
            return
        # Post-order walk over collections without recursion (most nodes are scalars, counted
        # by their parent); a collection shared through aliases is measured once.
        sizes: dict[int, tuple[int, int, int]] = {}  # id(node) -> (nodes, chars, depth)
        open_nodes: set[int] = set()
        stack: list[tuple[Any, bool]] = [(root, False)]
        while stack:
            node, finished = stack.pop()
            key = id(node)
            if finished:
                open_nodes.discard(key)
                nodes, chars, depth = 1, 0, 0
                for child in _children(node):
                    if child.__class__ is ScalarNode:
                        nodes += 1
                        chars += len(child.value)
                    else:
                        more, text, deeper = sizes[id(child)]
                        nodes += more
                        chars += text
                        depth = max(depth, deeper)
                self._check(node, nodes, chars, depth + 1)
                sizes[key] = (nodes, chars, depth + 1)
            elif key not in sizes:
                if key in open_nodes:
                    raise YamlError("an alias refers to a node that contains it", _line(node))
                open_nodes.add(key)
                stack.append((node, True))
                stack.extend(
                    (c, False)
                    for c in _children(node)
                    if c.__class__ is not ScalarNode and id(c) not in sizes
                )
        nodes, chars, _ = sizes[id(root)]
        self.nodes -= nodes
        self.chars -= chars

    def _check(self, node: Any, nodes: int, chars: int, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise YamlLimitError(_deeper_than(), _line(node))
        if nodes > self.nodes:
            raise YamlLimitError(
                f"YAML expands to more than {MAX_NODES:,} nodes (through aliases?); not read",
                _line(node),
            )
        if chars > self.chars:
            raise YamlLimitError(
                f"YAML expands to more than {MAX_SCALAR_CHARS:,} characters (through aliases?);"
                " not read",
                _line(node),
            )


def _children(node: Any) -> Any:
    return chain.from_iterable(node.value) if node.__class__ is MappingNode else node.value


def load_documents(text: str, *, pure: bool = False) -> list[Any]:
    """Every document in `text` (empty documents dropped). Raises YamlError with a line, and
    YamlLimitError when the text is over budget. `pure` uses PyYAML's Python parser (tests)."""
    if len(text) > MAX_YAML_BYTES or len(text.encode("utf-8", "replace")) > MAX_YAML_BYTES:
        raise YamlLimitError(f"file is larger than {MAX_YAML_BYTES:,} bytes; not read", None)
    loader = (_PyLoader if pure else _CLoader)(text)
    budget = _Budget()
    try:
        docs: list[Any] = []
        while loader.check_node():
            node = loader.get_node()
            budget.spend(node)
            doc = loader.construct_document(node)
            if doc is not None:
                docs.append(doc)
        return docs
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        if "maximum nesting depth" in str(exc.problem):
            raise YamlLimitError(_deeper_than(), line) from None
        raise YamlError(f"invalid YAML: {exc.problem or exc}", line) from None
    except yaml.YAMLError as exc:
        raise YamlError(f"invalid YAML: {exc}", None) from None
    finally:
        loader.dispose()


def load_document(text: str) -> Any:
    """The first document (None for an empty file)."""
    docs = load_documents(text)
    return docs[0] if docs else None

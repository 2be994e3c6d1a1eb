"""YAML with line numbers, for findings that point at the line to fix.

`load_documents(text)` parses every document with PyYAML's safe loader and returns plain
dicts and lists that also remember where they came from: a `LineDict` knows its own line and the
line of each key, a `LineList` its own line and the line of each item (all 1-based).
Documents over `MAX_YAML_BYTES` are refused, and alias expansion is bounded, so a hostile file
(a "billion laughs" alias bomb) costs an error, not the process.
"""

from __future__ import annotations

from typing import Any

import yaml

MAX_YAML_BYTES = 2_000_000
MAX_NODES = 200_000

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlError(ValueError):
    """A YAML file that cannot be read, with the 1-based line where it went wrong."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


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


class _Loader(_Base):  # type: ignore[misc]
    nodes_built = 0

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        self.nodes_built += 1
        if self.nodes_built > MAX_NODES:
            raise YamlError(
                f"document expands to more than {MAX_NODES} nodes (alias bomb?)",
                node.start_mark.line + 1,
            )
        return super().construct_object(node, deep=deep)


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    out = LineDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise YamlError("unhashable mapping key", key_node.start_mark.line + 1) from None
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    out = LineList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def load_documents(text: str) -> list[Any]:
    """Every document in `text` (empty documents dropped). Raises YamlError with a line."""
    if len(text.encode("utf-8", errors="replace")) > MAX_YAML_BYTES:
        raise YamlError(f"file is larger than {MAX_YAML_BYTES} bytes; not parsed", None)
    loader = _Loader(text)
    try:
        docs: list[Any] = []
        while loader.check_data():
            doc = loader.get_data()
            if doc is not None:
                docs.append(doc)
        return docs
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise YamlError(f"invalid YAML: {exc.problem or exc}", line) from None
    except yaml.YAMLError as exc:
        raise YamlError(f"invalid YAML: {exc}", None) from None
    except RecursionError:
        raise YamlError("YAML nested too deeply", None) from None
    finally:
        loader.dispose()


def load_document(text: str) -> Any:
    """The first document (None for an empty file)."""
    docs = load_documents(text)
    return docs[0] if docs else None

"""The line-aware YAML loader reads every file within a byte, node, text and depth budget."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from ghapp.core.errors import GhappError
from ghapp.core.yamlnodes import (
    MAX_DEPTH,
    MAX_NODES,
    MAX_SCALAR_CHARS,
    MAX_YAML_BYTES,
    LineDict,
    YamlError,
    YamlLimitError,
    load_document,
    load_documents,
)
from ghapp.rules import load_catalog

LOADERS = [pytest.param(False, id="libyaml"), pytest.param(True, id="pure-python")]


def bomb(width: int = 9, levels: int = 9, leaf: str = '"lol"') -> str:
    """A "billion laughs": `levels` lists of `width` aliases of the list before (~0.6 KB)."""
    text = f"l0: &l0 [{', '.join([leaf] * width)}]\n"
    for level in range(1, levels):
        text += f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]\n"
    return text


def test_values_remember_their_lines() -> None:
    doc = load_document("a: 1\nb:\n  - x\n  - y\n")
    assert isinstance(doc, LineDict)
    assert (doc.line_of("a"), doc.line_of("b"), doc["b"].line_of(1)) == (1, 2, 4)


@pytest.mark.parametrize("pure", LOADERS)
def test_alias_bomb_is_refused_before_any_value_is_built(pure: bool) -> None:
    with pytest.raises(YamlLimitError, match="expands to more than") as caught:
        load_documents(bomb() + "name: *l8\n", pure=pure)
    assert caught.value.line is not None


def test_aliases_within_the_budget_are_shared_not_copied() -> None:
    doc = load_document(bomb(width=9, levels=5))  # 9**5 = 59,049 leaves once expanded
    assert len(doc["l4"]) == 9 and doc["l4"][0] is doc["l4"][1] is doc["l3"]


def test_alias_of_a_long_string_counts_each_use() -> None:
    long = "x" * (MAX_SCALAR_CHARS // 100 + 1)
    text = f"a: &a {long}\nb: [{', '.join(['*a'] * 100)}]\n"
    with pytest.raises(YamlLimitError, match="characters"):
        load_documents(text)


def test_merge_key_bomb_is_refused() -> None:
    text = "m0: &m0 {k: v}\n"
    for level in range(1, 12):
        text += f"m{level}: &m{level} {{<<: [{', '.join([f'*m{level - 1}'] * 8)}]}}\n"
    with pytest.raises(YamlLimitError):
        load_documents(text)


def test_documents_of_one_file_share_the_budget() -> None:
    one = bomb(width=10, levels=5)  # 10**5 leaves once expanded, well within the budget
    assert load_documents(one)
    with pytest.raises(YamlLimitError):
        load_documents("\n---\n".join([one] * (MAX_NODES // 100_000 + 1)))


def test_alias_inside_its_own_anchor_is_an_error() -> None:
    with pytest.raises(YamlError, match="contains it"):
        load_documents("a: &a [1, *a]\n")


@pytest.mark.parametrize("pure", LOADERS)
@pytest.mark.parametrize(
    "text",
    [
        "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
        "- " * (MAX_DEPTH + 1) + "x\n",
        "a: " + "{b: " * (MAX_DEPTH + 1) + "c" + "}" * (MAX_DEPTH + 1),
        "[" * 100_000 + "]" * 100_000,
        '{"users": ' + "[" * 5_000 + "]" * 5_000 + "}",
    ],
    ids=["flow", "block", "mapping", "100k-flow", "json"],
)
def test_nesting_over_the_depth_budget_is_refused(pure: bool, text: str) -> None:
    with pytest.raises(YamlLimitError, match="nested more than"):
        load_documents(text, pure=pure)


@pytest.mark.parametrize("pure", LOADERS)
def test_nesting_within_the_depth_budget_is_read(pure: bool) -> None:
    depth = MAX_DEPTH - 1
    doc = load_documents("[" * depth + "x" + "]" * depth, pure=pure)[0]
    for _ in range(depth - 1):
        doc = doc[0]
    assert doc == ["x"]


def test_file_over_the_byte_budget_is_refused() -> None:
    with pytest.raises(YamlLimitError, match="larger than"):
        load_documents("a: 1\n" + "#" * MAX_YAML_BYTES)


def test_an_invalid_date_stays_text_and_a_valid_one_is_a_date() -> None:
    doc = load_document("name: 2026-02-30\nuntil: 2026-02-28\n")
    assert doc == {"name": "2026-02-30", "until": date(2026, 2, 28)}


def test_integers_too_long_to_print_stay_text() -> None:
    digits, hexa = "9" * 5000, "0x" + "f" * 5000
    doc = load_document(f"a: {digits}\nb: {hexa}\nc: 12\n")
    assert doc == {"a": digits, "b": hexa, "c": 12}
    assert str(doc["b"]) == hexa  # printable, unlike int(hexa, 16)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a: 1\nb: !!float abc\n", 2),
        ("a: !!bool maybe\n", 1),
        ("? [a]\n: b\n", 1),
        ("!!int ", 1),  # found by tests/test_fuzz.py: PyYAML raises IndexError
        ("a: !!timestamp soon\n", 1),
    ],
)
def test_values_no_constructor_can_build_are_errors_with_a_line(text: str, line: int) -> None:
    with pytest.raises(YamlError) as caught:
        load_documents(text)
    assert caught.value.line == line and not isinstance(caught.value, YamlLimitError)


def test_syntax_error_is_not_a_limit_error() -> None:
    with pytest.raises(YamlError) as caught:
        load_documents("a: [unclosed\n")
    assert not isinstance(caught.value, YamlLimitError) and caught.value.line == 2


def test_rules_catalog_loader_uses_the_budgeted_loader(tmp_path: Path) -> None:
    catalog = tmp_path / "bomb.yaml"
    catalog.write_text(bomb() + "rules: []\n")
    with pytest.raises(GhappError, match="expands to more than"):
        load_catalog([catalog])

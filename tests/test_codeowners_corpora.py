"""Real CODEOWNERS files and trees (../shared/fixtures/codeowners), cross-checked against the
PyPI `codeowners` package (0.9.0) and the per-rule reference regex.

Where the peer and GitHub's semantics differ, the difference is enumerated below with a small
example (`PEER_DIFFERENCES`); on the two real corpora the two agree on every file. Note: the
peer does handle `dir/*` correctly (it stops at one level since its 2024 fix), so esphome's
480 `esphome/components/<x>/*` rules are not a disagreement: both leave nested files unowned.
"""

from __future__ import annotations

import json
from pathlib import Path

import codeowners as peer
import pytest

from ghapp.core.context import Context
from ghapp.core.ownership.checks import check_codeowners
from ghapp.core.ownership.codeowners import CodeOwners
from ghapp.core.policy.policy import Policy
from ghapp.core.snapshot import DictSnapshot
from tests.test_codeowners_checks import CATALOG, TODAY

CORPORA = ["esphome__esphome", "RIOT-OS__RIOT"]


def load(shared: Path, name: str) -> tuple[str, list[str], dict[str, object]]:
    base = shared / "codeowners" / name
    manifest = json.loads((shared / "codeowners" / "manifest.json").read_text())
    entry = next(e for e in manifest["corpora"] if e.get("dir") == name)
    paths = [p for p in (base / "files.txt").read_text(encoding="utf-8").split("\n") if p]
    return (base / "CODEOWNERS").read_text(encoding="utf-8"), paths, entry


def peer_line(co: peer.CodeOwners, path: str) -> int | None:
    line: int | None = co.matching_line(path)[1]
    return line


@pytest.mark.parametrize("name", CORPORA)
def test_corpus_parses_without_errors_and_counts_rules(shared_fixtures: Path, name: str) -> None:
    text, _, entry = load(shared_fixtures, name)
    co = CodeOwners.from_text(text)
    assert co.errors == ()
    assert len(co.rules) == entry["rules"]


@pytest.mark.parametrize("name", CORPORA)
def test_corpus_owned_file_count_matches_manifest(shared_fixtures: Path, name: str) -> None:
    # manifest.json: files whose deciding rule lists at least one owner (GitHub semantics).
    text, paths, entry = load(shared_fixtures, name)
    assert len(paths) == entry["files_in_tree"]
    owned = sum(1 for m in CodeOwners.from_text(text).resolve_all(paths) if m and m.owners)
    assert owned == entry["files_owned_by_a_rule_with_owners"]


@pytest.mark.parametrize("name", CORPORA)
def test_corpus_agrees_with_peer_on_every_file(shared_fixtures: Path, name: str) -> None:
    text, paths, _ = load(shared_fixtures, name)
    ours = [m.line if m else None for m in CodeOwners.from_text(text).resolve_all(paths)]
    theirs_co = peer.CodeOwners(text)
    disagreements = [
        (p, a, b) for p, a in zip(paths, ours, strict=True) if a != (b := peer_line(theirs_co, p))
    ]
    assert disagreements == []


@pytest.mark.parametrize("name", CORPORA)
def test_corpus_owners_of_per_path_agrees_with_resolve_all(
    shared_fixtures: Path, name: str
) -> None:
    text, paths, _ = load(shared_fixtures, name)
    per_path = CodeOwners.from_text(text)
    assert [per_path.owners_of(p) for p in paths] == CodeOwners.from_text(text).resolve_all(paths)


@pytest.mark.parametrize("name", CORPORA)
def test_corpus_agrees_with_reference_regex(shared_fixtures: Path, name: str) -> None:
    text, paths, _ = load(shared_fixtures, name)
    co = CodeOwners.from_text(text)
    sample = paths[::5]  # every rule's regex over a fifth of the tree keeps this under a second
    expected = [next((r.line for r in reversed(co.rules) if r.matches(p)), None) for p in sample]
    assert [m.line if m else None for m in co.resolve_all(sample)] == expected


def test_esphome_dir_star_rules_do_not_reach_nested_files(shared_fixtures: Path) -> None:
    text, paths, _ = load(shared_fixtures, "esphome__esphome")
    co = CodeOwners.from_text(text)
    nested = [p for p in paths if p.startswith("esphome/components/am43/sensor/")]
    assert nested, "fixture changed"
    deeper = "esphome/components/adc/deeper/file.py"
    assert co.owners_of(deeper) is None
    assert co.owners_of("esphome/components/adc/sensor.py") is not None


@pytest.mark.parametrize("name", CORPORA)
def test_corpus_lint_is_fast_and_stable(shared_fixtures: Path, name: str) -> None:
    text, paths, _ = load(shared_fixtures, name)
    files = dict.fromkeys(paths, b"")
    files["CODEOWNERS"] = text.encode()
    snapshot = DictSnapshot(files)
    ctx = Context(
        snapshot=snapshot,
        catalog=CATALOG,
        policy=Policy(require_owners=()),
        today=TODAY,
        codeowners=CodeOwners.from_text(text),
        codeowners_path="CODEOWNERS",
    )
    rules = sorted({f.rule for f in check_codeowners(ctx)})
    expected = {
        "esphome__esphome": [],
        "RIOT-OS__RIOT": ["codeowners/pattern-matches-nothing", "codeowners/shadowed-rule"],
    }
    assert rules == expected[name]


# (CODEOWNERS, path, GitHub semantics: deciding line, peer's deciding line, why they differ)
PEER_DIFFERENCES = [
    ("* @a\n!*.py @b\n", "!x.py", 1, 2, "`!` is invalid for GitHub (line skipped); peer: literal"),
    ("* @a\n*.[ch] @b\n", "x.c", 1, 2, "`[ ]` ranges are invalid for GitHub; peer: char class"),
    ("* @a\n*.py @b user\n", "x.py", 1, 2, "GitHub skips a line with a bad owner; peer keeps it"),
    ("* @a\n\\#x @b\n", "#x", 1, 2, "a `\\#` escape is invalid for GitHub; peer: literal `#`"),
]


@pytest.mark.parametrize(("text", "path", "ours", "theirs", "why"), PEER_DIFFERENCES)
def test_documented_peer_differences(
    text: str, path: str, ours: int, theirs: int, why: str
) -> None:
    match = CodeOwners.from_text(text).owners_of(path)
    assert (match.line if match else None) == ours, why
    assert peer_line(peer.CodeOwners(text), path) == theirs, why

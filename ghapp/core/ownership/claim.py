"""Planning `/claim-ownership` edits: the smallest CODEOWNERS change that makes a team the owner
of exactly the claimed files, verified before anyone sees it. The whole claim over a snapshot
is ghapp.core.ownership.claimplan; a manifest's `spec.owner` edit, ghapp.core.ownership.yamledits.

Theory of operation. CODEOWNERS is last-match-wins, so where a new line goes decides what it
does. For a pattern P claimed for team T, every file P matches falls into one of two groups:

- a claimed file must end up owned by T, so P must come *after* the line that wins for it today
  (unless that line already gives exactly T): this is the lower bound `lo`;
- an unclaimed file must keep its owners, so P must come *before* the line that wins for it
  today (unless that line gives exactly T anyway): this is the upper bound `hi`.

Any text position in [lo, hi) works. A line that already has exactly pattern P is rewritten in
place when it lies in that window (no duplicate pattern for the linter to flag); otherwise the new
line goes after the last rule before `hi` (keeping the comment block above the next rule attached
to it), or at the end of the file when nothing later constrains it. When lo >= hi no placement
works and the claim is refused with both lines named. The planner then resolves every file of
the tree again with the edited text and refuses unless the claimed files resolve to T and every
other file resolves exactly as before: the bounds are the reasoning, the re-resolve is the proof.

Which files and patterns: a directory claim (`/services/foo/`) takes the files below it except
those a more specific rule decides (`files_to_claim`), and places that one line. Without a
pattern (the unowned files of a PR), `claim_patterns` covers the files with as few patterns as
it can: a directory when every file below it is claimed, else the file itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ghapp.core.errors import GhappError

MAX_PATTERNS = 50  # more than this is not a claim a reviewer can read; ask for a directory
_UNEXPRESSIBLE = re.compile(r"[*?\[\]!\\]")  # glob syntax GitHub's CODEOWNERS cannot escape


class ClaimRefused(GhappError):
    """The claim cannot be written as a CODEOWNERS/manifest edit; the message says why."""


class AlreadyOwned(ClaimRefused):
    """Every claimed file already resolves to the team."""


class OwnerMatch(Protocol):
    @property
    def owners(self) -> tuple[str, ...]: ...
    @property
    def line(self) -> int: ...
    @property
    def pattern(self) -> str: ...


class OwnerTable(Protocol):
    """What the planner needs of a parsed CODEOWNERS (ghapp.core.ownership.codeowners.CodeOwners)."""

    def owners_of(self, path: str) -> OwnerMatch | None: ...
    def resolve_all(self, paths: Iterable[str]) -> Sequence[OwnerMatch | None]: ...


Parse = Callable[[str], OwnerTable]


@dataclass(frozen=True)
class CodeownersPlan:
    """The edited CODEOWNERS text and a description of the change for the PR body."""

    text: str
    changes: tuple[str, ...]  # e.g. "line 7: added `/services/foo/ @acme/foo`"
    claimed: tuple[str, ...]  # files whose owners change


def claim_patterns(claimed: Collection[str], universe: Iterable[str]) -> tuple[str, ...]:
    """Anchored CODEOWNERS patterns covering exactly `claimed` among `universe` (plus claimed)."""
    wanted = set(claimed)
    blocked: set[str] = set()  # directories holding at least one file that is not claimed
    for path in set(universe) - wanted:
        blocked.update(_parents(path))
    out: set[str] = set()
    for path in sorted(wanted):
        whole = [d for d in _parents(path) if d not in blocked]
        out.add(f"/{_escape(whole[0])}/" if whole else f"/{_escape(path)}")
    return tuple(sorted(out))


def target_pattern(path: str, directory: bool) -> str:
    """The anchored pattern for one claimed directory (`/a/b/`; the root is `*`) or file."""
    path = path.strip("/")
    if not path:
        return "*"
    return f"/{_escape(path)}/" if directory else f"/{_escape(path)}"


def files_to_claim(
    text: str,
    candidates: Collection[str],
    directory: str,
    universe: Iterable[str],
    parse: Parse | None = None,
) -> tuple[str, ...]:
    """The `candidates` (files under `directory`) a claim of that directory takes over: all but
    those decided by a more specific rule, one matching only part of the directory (such as
    `/services/foo/legacy/` inside `/services/foo/`), which keeps winning for them."""
    parse = parse or default_parse()
    files = sorted(set(universe) | set(candidates))
    prefix = f"{directory.strip('/')}/" if directory.strip("/") else ""
    inside = [f for f in files if f.startswith(prefix)]
    outside = [f for f in files if not f.startswith(prefix)]
    table = parse(text)
    specific: dict[int, bool] = {}
    out = []
    for path, match in zip(candidates, table.resolve_all(candidates), strict=True):
        if match is not None and match.line not in specific:
            probe = parse(f"{match.pattern} @x\n")
            specific[match.line] = not any(probe.resolve_all(outside)) and not all(
                probe.resolve_all(inside)
            )
        if match is None or not specific[match.line]:
            out.append(path)
    return tuple(sorted(out))


def plan_codeowners_claim(
    text: str,
    claimed: Collection[str],
    owner: str,
    universe: Iterable[str],
    pattern: str | None = None,
    parse: Parse | None = None,
) -> CodeownersPlan:
    """Edit CODEOWNERS so `claimed` files are owned by `owner` and nothing else changes.

    With `pattern` (a directory claim: `/services/foo/`) that one line is placed or the claim
    is refused; without, the fewest patterns covering exactly `claimed` are placed."""
    parse = cached_parse(parse or default_parse())
    files = sorted(set(universe) | set(claimed))
    wanted = frozenset(claimed)
    patterns = (pattern,) if pattern else claim_patterns(wanted, files)
    if len(patterns) > MAX_PATTERNS:
        raise ClaimRefused(
            f"claiming these files needs {len(patterns)} CODEOWNERS lines; claim a directory "
            "or a service instead"
        )
    old = dict(zip(files, map(_owners, parse(text).resolve_all(files)), strict=True))
    todo = [f for f in sorted(wanted) if old[f] != (owner,)]
    if not todo:
        raise AlreadyOwned(f"already owned by {owner}: nothing to change")
    changes: list[str] = []
    current = text
    for pattern in patterns:
        current, change = _place(current, pattern, owner, wanted, files, parse)
        if change:
            changes.append(change)
    _verify(parse(current), old, wanted, owner, files)
    return CodeownersPlan(current, tuple(changes), tuple(todo))


def _place(
    text: str,
    pattern: str,
    owner: str,
    wanted: frozenset[str],
    files: Sequence[str],
    parse: Parse,
) -> tuple[str, str]:
    """Put `pattern owner` where it wins for its claimed files and nowhere else."""
    probe = parse(f"{pattern} {owner}\n")
    covered = [p for p, m in zip(files, probe.resolve_all(files), strict=True) if m is not None]
    lines = text.splitlines(keepends=True)
    lo, hi = 0, len(lines) + 1
    lo_why = hi_why = ""
    for path, match in zip(covered, parse(text).resolve_all(covered), strict=True):
        if _owners(match) == (owner,):
            continue
        line = match.line if match is not None else 0
        if path in wanted and line > lo:
            lo, lo_why = line, path
        elif path not in wanted and line < hi:
            hi, hi_why = line, path
    if lo >= hi:
        raise ClaimRefused(_unplaceable(pattern, owner, lo, lo_why, hi, hi_why, lines))
    line_text = f"{pattern} {owner}"
    same = [i for i, raw in enumerate(lines, 1) if _pattern_of(raw) == pattern and lo <= i < hi]
    if same:
        number = same[-1]
        lines[number - 1] = _with_owners(lines[number - 1], owner)
        return "".join(lines), f"line {number}: owners of `{pattern}` set to {owner}"
    if hi > len(lines):
        at = len(lines)
    else:
        rules_before = [i for i, raw in enumerate(lines, 1) if i < hi and _pattern_of(raw)]
        at = max([lo, *rules_before])
    if at and not lines[at - 1].endswith("\n"):
        lines[at - 1] += "\n"
    lines.insert(at, line_text + "\n")
    return "".join(lines), f"line {at + 1}: added `{line_text}`"


def _verify(
    table: OwnerTable,
    old: dict[str, tuple[str, ...]],
    wanted: frozenset[str],
    owner: str,
    files: Sequence[str],
) -> None:
    for path, match in zip(files, table.resolve_all(files), strict=True):
        now = _owners(match)
        expected = (owner,) if path in wanted else old[path]
        if now != expected:
            shown = " ".join(now) or "nobody"
            raise ClaimRefused(
                f"the edited CODEOWNERS would give {path} to {shown} instead of "
                f"{' '.join(expected) or 'nobody'}; not opening a pull request"
            )


def _unplaceable(
    pattern: str, owner: str, lo: int, lo_why: str, hi: int, hi_why: str, lines: list[str]
) -> str:
    if hi == 0:
        return (
            f"`{pattern}` would also give {hi_why} (not claimed, unowned today) to {owner}; "
            "claim it too, or claim the files one by one"
        )
    return (
        f"no place in CODEOWNERS works for `{pattern} {owner}`: it must come after line {lo} "
        f"(`{lines[lo - 1].strip()}`, which wins for {lo_why}) but before line {hi} "
        f"(`{lines[hi - 1].strip()}`, which must keep winning for {hi_why})"
    )


def _owners(match: OwnerMatch | None) -> tuple[str, ...]:
    return tuple(match.owners) if match is not None else ()


def _parents(path: str) -> list[str]:
    """Directories above `path`, outermost first: a/b/c.py -> [a, a/b]."""
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _escape(path: str) -> str:
    if _UNEXPRESSIBLE.search(path) or path.startswith("#"):
        raise ClaimRefused(f"{path!r} contains characters CODEOWNERS patterns cannot express")
    return path.replace(" ", "\\ ")


def _pattern_of(raw: str) -> str | None:
    """The pattern of a rule line (None for blank and comment lines)."""
    stripped = raw.strip()
    if not stripped or stripped.startswith("#"):
        return None
    return re.split(r"(?<!\\)\s", stripped, maxsplit=1)[0]


def _with_owners(raw: str, owner: str) -> str:
    """The rule line with its owners replaced, pattern, indentation and comment kept."""
    match = re.match(r"^(\s*(?:\\.|\S)+)([^#]*?)(\s+#.*)?(\r?\n)?$", raw)
    if match is None:  # unreachable for a rule line; keep the input rather than guess
        return raw
    return f"{match.group(1)} {owner}{match.group(3) or ''}{match.group(4) or ''}"


def cached_parse(parse: Parse) -> Parse:
    """`parse` remembering its last few texts: planning parses the same CODEOWNERS repeatedly."""
    seen: dict[str, OwnerTable] = {}

    def cached(text: str) -> OwnerTable:
        if text not in seen:
            if len(seen) >= 8:
                seen.clear()
            seen[text] = parse(text)
        return seen[text]

    return cached


def default_parse() -> Parse:
    from ghapp.core.ownership.codeowners import CodeOwners

    return CodeOwners.from_text

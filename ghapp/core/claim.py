"""Planning `/claim-ownership` edits: the smallest CODEOWNERS and manifest change that makes a
team the owner of exactly the claimed files, verified before anyone sees it.

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

Which patterns: `claim_patterns` covers the claimed files with as few patterns as it can, a
directory (`/dir/`) when every file below it is claimed, else the file itself, so claiming a
service whose directory holds a nested service claims only the outer service's files.

Manifests are edited as text, line by line, so comments, quoting and key order stay as written;
the edit is checked by parsing both versions and comparing everything except `spec.owner`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ghapp.core.errors import GhappError
from ghapp.core.yamlnodes import LineDict, YamlError, load_documents

MAX_PATTERNS = 50  # more than this is not a claim a reviewer can read; ask for a directory
_UNEXPRESSIBLE = re.compile(r"[*?\[\]!\\]")  # glob syntax GitHub's CODEOWNERS cannot escape


class ClaimRefused(GhappError):
    """The claim cannot be written as a CODEOWNERS/manifest edit; the message says why."""


class OwnerMatch(Protocol):
    @property
    def owners(self) -> tuple[str, ...]: ...
    @property
    def line(self) -> int: ...
    @property
    def pattern(self) -> str: ...


class OwnerTable(Protocol):
    """What the planner needs of a parsed CODEOWNERS (ghapp.core.codeowners.CodeOwners)."""

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
    parse = parse or _default_parse()
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
    parse: Parse | None = None,
) -> CodeownersPlan:
    """Edit CODEOWNERS so `claimed` files are owned by `owner` and nothing else changes."""
    parse = parse or _default_parse()
    files = sorted(set(universe) | set(claimed))
    wanted = frozenset(claimed)
    patterns = claim_patterns(wanted, files)
    if len(patterns) > MAX_PATTERNS:
        raise ClaimRefused(
            f"claiming these files needs {len(patterns)} CODEOWNERS lines; claim a directory "
            "or a service instead"
        )
    old = dict(zip(files, map(_owners, parse(text).resolve_all(files)), strict=True))
    todo = [f for f in sorted(wanted) if old[f] != (owner,)]
    if not todo:
        raise ClaimRefused(f"already owned by {owner}: nothing to change")
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


def _default_parse() -> Parse:
    from ghapp.core.codeowners import CodeOwners

    return CodeOwners.from_text


# --- manifests ---------------------------------------------------------------------------


def manifest_owner_value(existing: str | None, team: str) -> str:
    """The `spec.owner` to write for `@org/slug`, in the style the manifest already uses:
    `group:default/slug`, `group:slug`, `@org/slug` or a bare `slug` (new: `group:slug`)."""
    slug = team.rsplit("/", 1)[-1]
    if existing is None:
        return f"group:{slug}"
    if existing.startswith("@"):
        return team
    kind, sep, rest = existing.partition(":")
    if sep and "/" in rest:
        return f"{kind}:{rest.split('/', 1)[0]}/{slug}"
    return f"group:{slug}" if sep else slug


def plan_manifest_owner(text: str, service: str, owner: str) -> str:
    """Set `spec.owner` of the Backstage entity named `service`, keeping everything else."""
    try:
        docs = load_documents(text)
    except YamlError as exc:
        raise ClaimRefused(f"the manifest is not valid YAML ({exc}); fix it first") from None
    index, doc = _entity(docs, service)
    lines = text.splitlines(keepends=True)
    spec = doc.get("spec")
    if isinstance(spec, LineDict) and "owner" in spec:
        number = spec.line_of("owner")
        lines[number - 1] = _with_value(lines[number - 1], owner)
    elif isinstance(spec, LineDict) and spec:
        first = min(spec.key_lines.values())
        indent = _indent(lines[first - 1])
        if doc.line_of("spec") == first:
            raise ClaimRefused("`spec` is written in flow style ({...}); set spec.owner by hand")
        lines.insert(first - 1, f"{indent}owner: {_scalar(owner, '')}\n")
    elif "spec" in doc and spec is None and _ends_at_colon(lines[doc.line_of("spec") - 1]):
        number = doc.line_of("spec")
        child = _indent(lines[number - 1]) + _step(doc, lines)
        lines.insert(number, f"{child}owner: {_scalar(owner, '')}\n")
    elif "spec" not in doc:
        end = _document_end(lines, doc.line)
        if end and not lines[end - 1].endswith("\n"):
            lines[end - 1] += "\n"
        base = _indent(lines[doc.line - 1])
        lines[end:end] = [f"{base}spec:\n", f"{base}{_step(doc, lines)}owner: {_scalar(owner, '')}\n"]
    else:
        raise ClaimRefused("`spec` is not a mapping; set spec.owner by hand")
    edited = "".join(lines)
    _verify_manifest(docs, edited, index, owner)
    return edited


def _entity(docs: list[Any], service: str) -> tuple[int, LineDict]:
    for i, doc in enumerate(docs):
        metadata = doc.get("metadata") if isinstance(doc, LineDict) else None
        if isinstance(metadata, dict) and str(metadata.get("name")) == service:
            return i, doc
    raise ClaimRefused(f"no entity named {service!r} in the manifest")


def _verify_manifest(docs: list[Any], edited: str, index: int, owner: str) -> None:
    try:
        after = load_documents(edited)
    except YamlError as exc:  # our edit broke the file: refuse, never publish it
        raise ClaimRefused(f"editing spec.owner would break the manifest ({exc})") from None
    spec = after[index].get("spec") if len(after) == len(docs) else None
    if not isinstance(spec, dict) or spec.get("owner") != owner:
        raise ClaimRefused("could not set spec.owner without rewriting the manifest")
    if _without_owner(after) != _without_owner(docs):
        raise ClaimRefused("setting spec.owner would change other fields; set it by hand")


def _without_owner(docs: list[Any]) -> list[Any]:
    out = []
    for doc in docs:
        plain = dict(doc) if isinstance(doc, dict) else doc
        if isinstance(plain, dict) and isinstance(plain.get("spec"), dict):
            plain["spec"] = {k: v for k, v in plain["spec"].items() if k != "owner"}
            if not plain["spec"]:
                plain.pop("spec")
        out.append(plain)
    return out


def _with_value(raw: str, value: str) -> str:
    match = re.match(r"^(\s*owner\s*:\s*)(.*?)(\s+#.*)?(\r?\n)?$", raw)
    if match is None or match.group(2)[:1] in ("|", ">", "&", "*", "!", ""):
        raise ClaimRefused("spec.owner is not a one-line value; set it by hand")
    return f"{match.group(1)}{_scalar(value, match.group(2))}{match.group(3) or ''}{match.group(4) or ''}"


def _scalar(value: str, old: str) -> str:
    """`value` as a YAML scalar, quoted like `old` was, or when plain YAML would misread it."""
    if old[:1] == "'":
        return "'" + value.replace("'", "''") + "'"
    if old[:1] == '"' or not re.fullmatch(r"[A-Za-z0-9][\w./:-]*", value) or ": " in value:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


def _indent(raw: str) -> str:
    return raw[: len(raw) - len(raw.lstrip(" "))]


def _step(doc: LineDict, lines: list[str]) -> str:
    """The indentation step the document uses (from `metadata`'s children), default two."""
    metadata = doc.get("metadata")
    if isinstance(metadata, LineDict) and metadata.key_lines:
        child = _indent(lines[min(metadata.key_lines.values()) - 1])
        parent = _indent(lines[doc.line_of("metadata") - 1])
        if len(child) > len(parent):
            return " " * (len(child) - len(parent))
    return "  "


def _ends_at_colon(raw: str) -> bool:
    return bool(re.match(r"^\s*spec\s*:\s*(#.*)?$", raw.rstrip("\r\n")))


def _document_end(lines: list[str], start: int) -> int:
    """Index (0-based, exclusive) of the end of the document starting at line `start`."""
    for i in range(start, len(lines)):
        if lines[i].startswith("---") or lines[i].startswith("..."):
            end = i
            while end > start and not lines[end - 1].strip():
                end -= 1
            return end
    end = len(lines)
    while end > start and not lines[end - 1].strip():
        end -= 1
    return end

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

Which files and patterns: a directory claim (`/services/foo/`) takes the files below it except
those a more specific rule decides (`files_to_claim`), and places that one line. Without a
pattern (the unowned files of a PR), `claim_patterns` covers the files with as few patterns as
it can: a directory when every file below it is claimed, else the file itself.

Manifests are edited as text, line by line, so comments, quoting and key order stay as written;
the edit is checked by parsing both versions and comparing everything except `spec.owner`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ghapp.core.catalog import Catalog
from ghapp.core.errors import GhappError
from ghapp.core.manifests.services import ServiceIndex, discover_services, owners_match
from ghapp.core.model import Service
from ghapp.core.ownership.codeowners import LOCATIONS, find_codeowners
from ghapp.core.policy.policy import CONFIG_PATHS, Waiver
from ghapp.core.snapshot import Snapshot, read_text
from ghapp.core.yamlnodes import LineDict, LineList, YamlError, load_documents

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
    pattern: str | None = None,
    parse: Parse | None = None,
) -> CodeownersPlan:
    """Edit CODEOWNERS so `claimed` files are owned by `owner` and nothing else changes.

    With `pattern` (a directory claim: `/services/foo/`) that one line is placed or the claim
    is refused; without, the fewest patterns covering exactly `claimed` are placed."""
    parse = _memo(parse or _default_parse())
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


def _memo(parse: Parse) -> Parse:
    """`parse` remembering its last few texts: planning parses the same CODEOWNERS repeatedly."""
    seen: dict[str, OwnerTable] = {}

    def cached(text: str) -> OwnerTable:
        if text not in seen:
            if len(seen) >= 8:
                seen.clear()
            seen[text] = parse(text)
        return seen[text]

    return cached


def _default_parse() -> Parse:
    from ghapp.core.ownership.codeowners import CodeOwners

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
        lines[end:end] = [
            f"{base}spec:\n",
            f"{base}{_step(doc, lines)}owner: {_scalar(owner, '')}\n",
        ]
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
    out: list[Any] = []
    for doc in docs:
        plain = dict(doc) if isinstance(doc, dict) else doc
        if isinstance(plain, dict) and isinstance(plain.get("spec") or {}, dict):
            plain["spec"] = {k: v for k, v in (plain.get("spec") or {}).items() if k != "owner"}
            if not plain["spec"]:  # `spec:` (null) and `spec: {owner: x}` compare equal
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


def _ends_at_colon(raw: str, key: str = "spec") -> bool:
    return bool(re.match(rf"^\s*{key}\s*:\s*(#.*)?$", raw.rstrip("\r\n")))


def _document_end(lines: list[str], start: int) -> int:
    """Index (0-based, exclusive) of the last non-blank line of the document at line `start`."""
    markers = (i for i in range(start, len(lines)) if lines[i].startswith(("---", "...")))
    end = next(markers, len(lines))
    while end > start and not lines[end - 1].strip():
        end -= 1
    return end


# --- whole claims and standing waivers over a snapshot -------------------------------------


class AlreadyOwned(ClaimRefused):
    """Every claimed file already resolves to the team."""


@dataclass(frozen=True)
class ClaimPlan:
    """Everything a claim PR writes: new file texts, the change lines, the claimed files."""

    files: Mapping[str, str]
    changes: tuple[str, ...]
    claimed: tuple[str, ...]
    summary: str
    notes: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        return f"Claim ownership of {self.summary}"


@dataclass(frozen=True)
class FileEdit:
    path: str
    text: str


def plan_claim(
    snapshot: Snapshot,
    catalog: Catalog,
    targets: Sequence[str],
    team: str,
    changed: Sequence[str],
    parse: Parse | None = None,
) -> ClaimPlan:
    """Plan `/claim-ownership`: each target is a service name, a file or a directory; with no
    target, the changed files nobody owns. Raises ClaimRefused with the reason."""
    parse = _memo(parse or _default_parse())
    found = find_codeowners(snapshot)
    if found is not None and found.too_large:
        raise ClaimRefused(f"{found.path} is larger than GitHub reads; it cannot be edited here")
    path = found.path if found is not None else LOCATIONS[0]
    text = (found.text if found is not None else None) or ""
    universe = sorted({*snapshot.paths(), *changed})
    services = discover_services(snapshot, catalog)[0]
    index = ServiceIndex(services)
    edits: dict[str, str] = {}
    changes: list[str] = []
    claimed: list[str] = []
    notes: list[str] = []
    labels: list[str] = []

    def apply(files: Collection[str], pattern: str | None) -> None:
        nonlocal text
        plan = plan_codeowners_claim(text, files, team, universe, pattern, parse)
        text = plan.text
        changes.extend(f"{path} {c}" for c in plan.changes)
        claimed.extend(plan.claimed)

    if not targets:
        decided = parse(text).resolve_all(changed)
        unowned = [p for p, m in zip(changed, decided, strict=True) if m is None or not m.owners]
        if not unowned:
            raise ClaimRefused("every file this pull request changes already has an owner")
        apply(unowned, None)
        labels.append(f"{len(unowned)} unowned file(s) changed in this pull request")
    for target in targets:
        service = next((s for s in services if s.name == target), None)
        try:
            if service is not None:
                labels.append(f"service {service.name}")
                under = [p for p in universe if index.service_of(p) is service]
                wanted = files_to_claim(text, under, service.path, universe, parse)
                try:
                    apply(wanted, target_pattern(service.path, True))
                except AlreadyOwned:
                    raise
                except ClaimRefused:  # a nested service's files: claim file by file instead
                    apply(wanted, None)
            elif target in universe:
                labels.append(f"`{target}`")
                apply([target], target_pattern(target, False))
            elif target == "/" or any(p.startswith(f"{target}/") for p in universe):
                labels.append(f"`{target}/`")
                under = [p for p in universe if target == "/" or p.startswith(f"{target}/")]
                directory = "" if target == "/" else target
                apply(
                    files_to_claim(text, under, directory, universe, parse),
                    target_pattern(directory, True),
                )
            else:
                raise ClaimRefused(f"`{target}` matches no file, directory or service")
        except AlreadyOwned:
            notes.append(f"{labels[-1]} is already owned by {team}")
        if service is not None:
            edit = _manifest_edit(snapshot, service, team)
            if edit is not None:
                edits[edit.path] = edit.text
                changes.append(f"{edit.path}: spec.owner set for {service.name}")
            elif service.source != "backstage" and not _owned_by(service, team):
                notes.append(
                    f"{service.manifest} is not a Backstage manifest; set its owner by hand"
                )
    if not changes:
        raise AlreadyOwned("; ".join(notes) or f"already owned by {team}: nothing to change")
    if text != ((found.text if found is not None else None) or ""):
        edits = {path: text, **edits}
    return ClaimPlan(
        edits, tuple(changes), tuple(sorted(set(claimed))), ", ".join(labels), tuple(notes)
    )


def _owned_by(service: Service, team: str) -> bool:
    return service.owner is not None and owners_match(service.owner, team)


def _manifest_edit(snapshot: Snapshot, service: Service, team: str) -> FileEdit | None:
    if service.source != "backstage" or _owned_by(service, team):
        return None
    text = read_text(snapshot, service.manifest)
    if text is None:
        return None
    value = manifest_owner_value(service.owner, team)
    return FileEdit(service.manifest, plan_manifest_owner(text, service.name, value))


def plan_standing_waiver(snapshot: Snapshot, waiver: Waiver) -> FileEdit:
    """Append `waiver` to `waivers:` in the repository config, as text (comments kept)."""
    path = next((p for p in CONFIG_PATHS if snapshot.size(p) is not None), CONFIG_PATHS[0])
    text = read_text(snapshot, path) or ""
    try:
        doc = load_documents(text)[:1]
    except YamlError as exc:
        raise ClaimRefused(f"{path} is not valid YAML ({exc}); fix it first") from None
    config = doc[0] if doc else LineDict()
    if not isinstance(config, LineDict):
        raise ClaimRefused(f"{path} is not a mapping; add the waiver by hand")
    entry = {k: v for k, v in _waiver_fields(waiver).items() if v is not None}
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    existing = config.get("waivers")
    if "waivers" not in config:
        lines += ["waivers:\n", *_yaml_item(entry, "  ")]
    elif existing is None and _ends_at_colon(lines[config.line_of("waivers") - 1], "waivers"):
        at = config.line_of("waivers")
        lines[at:at] = _yaml_item(entry, _indent(lines[at - 1]) + "  ")
    elif isinstance(existing, LineList) and existing.line > config.line_of("waivers"):
        later = [n for n in config.key_lines.values() if n > config.line_of("waivers")]
        end = min(later) - 1 if later else len(lines)
        while end > 0 and not lines[end - 1].strip():
            end -= 1
        lines[end:end] = _yaml_item(entry, _indent(lines[existing.line - 1]))
    else:
        raise ClaimRefused(f"`waivers:` in {path} is not a block list; add the waiver by hand")
    edited = "".join(lines)
    after = load_documents(edited)
    if not after or list(after[0].get("waivers") or [])[-1:] != [entry]:
        raise ClaimRefused(f"could not add the waiver to {path} without rewriting it")
    return FileEdit(path, edited)


def _waiver_fields(waiver: Waiver) -> dict[str, str | None]:
    return {
        "rule": waiver.rule,
        "path": waiver.path,
        "service": waiver.service,
        "reason": waiver.reason,
        "approved_by": waiver.approved_by,
        "until": waiver.until.isoformat() if waiver.until else None,
    }


def _yaml_item(entry: Mapping[str, str], indent: str) -> list[str]:
    # Values are always double-quoted (JSON strings are YAML): an unquoted date would load
    # as a date, which the config schema rejects.
    return [
        f"{indent}{'- ' if i == 0 else '  '}{key}: {json.dumps(value)}\n"
        for i, (key, value) in enumerate(entry.items())
    ]

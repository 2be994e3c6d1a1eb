"""Who should own the files nobody owns: ranked candidates, one CODEOWNERS line per directory.

Theory of operation. Each unowned file is first ranked on its own (evidence.Evidence: history,
neighbouring owners, service manifests). A directory *agrees* on T when at least AGREEMENT of
its unowned files that have a top candidate name T (a stray commit does not split a directory),
every owned file below it is owned by exactly T (deliberately unowned files, whose deciding line
lists no owners, do not count: the line is placed so that those lines keep winning), and every
subdirectory holding such files agrees on T too. Files are claimed by their highest agreeing
directory (narrowed to the deepest one that still holds the same unowned files) whose line
`/dir/ @owner` can be placed (placement.place_line finds the position where last-match-wins
gives the owner exactly those files, and proves it), else the next lower one, else by the file
alone; each group is then ranked as a whole, so a claim is one line. A directory whose files
disagree is never merged into one suggestion, nor is the repository root (`*`).
"""

from __future__ import annotations

import posixpath
import re
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from ghapp.core.model import Finding, OwnerSuggestion, Service
from ghapp.core.ownership.claim import ClaimRefused, OwnerTable, target_pattern
from ghapp.core.ownership.codeowners import CodeOwners
from ghapp.core.ownership.directory import People
from ghapp.core.ownership.evidence import MIN_TOP_SCORE, CommitRecord, Evidence
from ghapp.core.ownership.placement import Placement, append_line, place_line

DEFAULT_SINCE_DAYS = 365
UNOWNED_RULE = "codeowners/unowned-file"
_HANDLE = re.compile(r"(?<![\w`])@[A-Za-z0-9][\w.-]*(?:/[\w.-]+)?")
AGREEMENT = 0.8  # share of a directory's unowned files whose top candidate must be the same
__all__ = [
    "CommitRecord",
    "Group",
    "Suggestions",
    "annotate_findings",
    "finding_targets",
    "suggest_owners",
]


@dataclass(frozen=True)
class Group:
    """Unowned files one CODEOWNERS line claims, their ranked owners, and the line."""

    pattern: str | None  # "/services/pay/", "/a.py"; None when the name cannot be a pattern
    files: tuple[str, ...]
    suggestions: tuple[OwnerSuggestion, ...]
    placement: Placement | None = None  # of the top suggestion's line
    refused: str | None = None  # why no line can be placed

    @property
    def top(self) -> OwnerSuggestion | None:
        return self.suggestions[0] if self.suggestions else None

    def fix(self) -> str | None:
        """The instruction that makes the top suggestion the owner."""
        if self.placement is None:
            return None
        return self.placement.instruction() + "."


@dataclass(frozen=True)
class Suggestions:
    """The answer for a set of paths: groups of unowned files with their ranked owners,
    rankings of other paths asked for, and the paths that are unowned on purpose."""

    groups: tuple[Group, ...] = ()
    by_path: Mapping[str, Group] = field(default_factory=dict)
    ranked: Mapping[str, tuple[OwnerSuggestion, ...]] = field(default_factory=dict)
    deliberate: Mapping[str, tuple[int, str]] = field(default_factory=dict)  # line, pattern
    unmapped: Mapping[str, int] = field(default_factory=dict)  # author email -> commits

    def for_path(self, path: str) -> tuple[OwnerSuggestion, ...]:
        group = self.by_path.get(path)
        return group.suggestions if group is not None else self.ranked.get(path, ())


def suggest_owners(
    *,
    table: OwnerTable,
    codeowners_text: str | None,
    codeowners_path: str,
    universe: Sequence[str],
    targets: Sequence[str],
    history: Iterable[CommitRecord],
    people: People,
    services: Sequence[Service],
    now: datetime,
    since_days: int = DEFAULT_SINCE_DAYS,
    rank_owned: bool = False,
) -> Suggestions:
    """Rank owners for the `targets` nobody owns (with `rank_owned`, for every target), grouped
    into one CODEOWNERS line per agreeing directory. `table` is `codeowners_text` parsed."""
    files = sorted(set(universe) | set(targets))
    owners: dict[str, tuple[str, ...]] = {}
    deliberate: dict[str, tuple[int, str]] = {}
    for path, match in zip(files, table.resolve_all(files), strict=True):
        if match is None:
            continue
        owners[path] = tuple(match.owners)
        if not match.owners:
            deliberate[path] = (match.line, match.pattern)
    unowned = [p for p in files if p not in owners]
    wanted = set(unowned) | (set(targets) if rank_owned else set())  # = history_paths()
    evidence = Evidence(table, owners, history, wanted, people, services, now, since_days)
    tops = {p: evidence.top([p], _parent(p)) for p in unowned}
    agree = _agreement(owners, tops)
    placer = _Placer(table, codeowners_text, codeowners_path, files, evidence)
    target_set = set(targets)
    by_path: dict[str, Group] = {}
    for path in sorted(target_set & set(unowned)):
        if path not in by_path:
            group = placer.group_for(path, [d for d in _ancestors(path) if d in agree], unowned)
            by_path.update(dict.fromkeys(group.files, group))
    groups = tuple({id(g): g for g in by_path.values()}.values())
    ranked = {}
    if rank_owned:
        ranked = {p: evidence.rank([p], _parent(p)) for p in sorted(target_set) if p in owners}
    return Suggestions(
        groups,
        {p: g for p, g in by_path.items() if p in target_set},
        ranked,
        {p: d for p, d in deliberate.items() if p in target_set},
        dict(evidence.unmapped),
    )


def history_paths(
    table: OwnerTable, universe: Sequence[str], targets: Sequence[str], *, rank_owned: bool = False
) -> set[str]:
    """The files whose history `suggest_owners` reads: every file no line matches (a directory
    agrees only when its unowned files do), and with `rank_owned` the targets too."""
    files = sorted(set(universe) | set(targets))
    unowned = {p for p, m in zip(files, table.resolve_all(files), strict=True) if m is None}
    return unowned | (set(targets) if rank_owned else set())


def finding_targets(findings: Iterable[Finding], paths: Iterable[str]) -> list[str]:
    """The paths the `codeowners/unowned-file` findings are about: their files, and every path
    under a grouped finding's directory (`top/`, or `/` for the root)."""
    subjects = {f.subject for f in findings if f.rule == UNOWNED_RULE}
    grouped = tuple(s for s in subjects if s.endswith("/") and s != "/")
    return [
        p
        for p in paths
        if p in subjects or p.startswith(grouped) or ("/" in subjects and "/" not in p)
    ]


def annotate_findings(
    findings: Iterable[Finding], suggestions: Suggestions, *, examples: int = 3
) -> tuple[Finding, ...]:
    """`codeowners/unowned-file` findings with the top suggestion, its evidence and the exact
    CODEOWNERS line as the fix (per file; per directory for the grouped findings)."""
    out = []
    for finding in findings:
        if finding.rule != UNOWNED_RULE:
            out.append(finding)
            continue
        group = suggestions.by_path.get(finding.subject)
        inside = [group] if group is not None else _groups_under(suggestions, finding.subject)
        placed = [g for g in inside if g.top is not None and g.placement is not None]
        first = placed[0] if placed else None
        top = first.top if first is not None else None
        if first is None or top is None:
            out.append(finding)
            continue
        of = "" if group is not None else f" of {_count(first.files)} of them"
        # Handles in code spans: a suggestion is not an owner, and must not ping anyone.
        evidence = "; ".join(_HANDLE.sub(r"`\g<0>`", e) for e in top.evidence)
        message = (
            f"{finding.message}. Suggested owner{of}: `{top.owner}` "
            f"(score {top.score:.2f}: {evidence})"
        )
        fixes = " ".join(g.fix() or "" for g in placed[:examples])
        more = f" ({len(placed) - examples} more groups: see `ghapp owners --suggest`)"
        out.append(
            finding.with_(
                message=message,
                fix=fixes + (more if len(placed) > examples else ""),
                suggested_owner=replace(top, rule=_rule(first)),
            )
        )
    return tuple(out)


def _groups_under(suggestions: Suggestions, subject: str) -> list[Group]:
    """The groups inside a grouped finding's subject (`top/`, or `/` for the root), largest
    first."""
    if subject == "/":
        inside = [g for g in suggestions.groups if all("/" not in f for f in g.files)]
    else:
        inside = [g for g in suggestions.groups if all(f.startswith(subject) for f in g.files)]
    return sorted(inside, key=lambda g: (-len(g.files), g.pattern or ""))


def _count(files: Sequence[str]) -> str:
    return "1 file" if len(files) == 1 else f"{len(files)} files"


def _rule(group: Group) -> str | None:
    return group.placement.rule if group.placement is not None else None


# --- agreement and placement -----------------------------------------------------------------


def _agreement(owners: Mapping[str, tuple[str, ...]], tops: Mapping[str, str | None]) -> set[str]:
    """Directories that agree: at least AGREEMENT of their unowned files (with a candidate)
    name the same top candidate T, every owned file below is owned by exactly T, and every
    subdirectory with such files agrees as well (a disagreeing directory is never merged
    into its parent's line)."""
    named: dict[str, Counter[str]] = defaultdict(Counter)
    for path, top in tops.items():
        if top is not None:
            for directory in _ancestors(path):
                named[directory][top] += 1
    held: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    for path, found in owners.items():
        if not found:
            continue  # deliberately unowned: the placed line keeps that rule winning
        key = tuple(o.lower() for o in found)
        for directory in _ancestors(path):
            if len(held[directory]) < 2:
                held[directory].add(key)
    agree: dict[str, str | None] = {}  # directory -> its top, None when it disagrees
    for directory in named:
        (top, count), *_ = named[directory].most_common(1)
        ok = count >= AGREEMENT * sum(named[directory].values())
        ok = ok and held.get(directory, set()) <= {(top,)}
        agree[directory] = top if ok else None
    for directory in sorted(named, key=_depth, reverse=True):  # children before parents
        parent = _parent(directory) if directory else None
        if (
            parent is not None
            and agree.get(parent) is not None
            and agree[directory] != agree[parent]
        ):
            agree[parent] = None
    # Never the root: `*` is a decision about the whole repository, not what some files' history
    # can suggest.
    return {d for d, top in agree.items() if top is not None and d}


class _Placer:
    """Builds a file's group: the highest agreeing directory whose line can be placed."""

    def __init__(
        self,
        table: OwnerTable,
        text: str | None,
        path: str,
        files: Sequence[str],
        evidence: Evidence,
    ) -> None:
        self.text, self.path, self.files, self.evidence = text, path, files, evidence
        self.refused: set[str] = set()

        def parse(source: str) -> OwnerTable:  # the planner re-reads the original text often
            return table if source == (text or "") else CodeOwners.from_text(source)

        self.parse = parse

    def under(self, directory: str, among: Sequence[str]) -> list[str]:
        """The paths of sorted `among` below `directory` ("" is the root)."""
        if not directory:
            return list(among)
        lo = bisect_left(among, directory + "/")
        hi = bisect_left(among, directory + "0")  # "0" sorts right after "/"
        return list(among[lo:hi])

    def group_for(self, path: str, agreeing: Sequence[str], unowned: Sequence[str]) -> Group:
        for directory in agreeing:  # outermost first
            if directory not in self.refused:
                claimed = self.under(directory, unowned)
                # The narrowest directory holding the same files: `/services/pay/` rather than
                # `/services/` when pay/ is all services/ has to claim.
                group = self._directory(_common_directory(claimed), claimed)
                if group is not None:
                    return group
                self.refused.add(directory)
        ranked = self.evidence.rank([path], _parent(path))
        try:
            pattern = target_pattern(path, False)
        except ClaimRefused as exc:
            return Group(None, (path,), ranked, None, str(exc))
        if not ranked:
            return Group(pattern, (path,), ())
        # A line for one file nobody owns wins wherever it goes, so it goes at the end.
        placement = append_line(self.text, self.path, pattern, ranked[0].owner)
        return Group(pattern, (path,), _with_rules(ranked, pattern), placement)

    def _directory(self, directory: str, claimed: list[str]) -> Group | None:
        ranked = self.evidence.rank(claimed, directory)
        if not ranked or ranked[0].score < MIN_TOP_SCORE:
            # The files that name a candidate agree, but the directory's history as a whole
            # (commits by people nobody mapped count too) does not make the case for a line.
            return None
        try:
            pattern = target_pattern(directory, True)
            scope = self.under(directory, self.files)  # all the pattern can match
            placement = place_line(
                self.text, self.path, pattern, ranked[0].owner, claimed, scope, self.parse
            )
        except ClaimRefused:  # no position works, or a name CODEOWNERS cannot write
            return None
        return Group(pattern, tuple(claimed), _with_rules(ranked, pattern), placement)


def _with_rules(ranked: Sequence[OwnerSuggestion], pattern: str) -> tuple[OwnerSuggestion, ...]:
    return tuple(replace(s, rule=f"{pattern} {s.owner}") for s in ranked)


def _common_directory(files: Sequence[str]) -> str:
    """The deepest directory holding every one of `files` ("" is the root)."""
    return posixpath.commonpath([_parent(f) for f in files])


def _depth(directory: str) -> int:
    return directory.count("/") + 1 if directory else 0


def _parent(path: str) -> str:
    return path.rpartition("/")[0]


def _ancestors(path: str) -> list[str]:
    """The directories above `path`, the root ("") first: a/b/c.py -> ["", "a", "a/b"]."""
    parts = path.split("/")[:-1]
    return ["", *("/".join(parts[: i + 1]) for i in range(len(parts)))]

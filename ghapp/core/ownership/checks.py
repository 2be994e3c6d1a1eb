"""Lint of the CODEOWNERS file: GitHub's syntax errors, owners that cannot review, dead rules
(duplicated, matching nothing, always overridden) and files the policy wants owned but are not.

Findings point at the CODEOWNERS file and, where there is one, the line of the rule, except an
unowned file, which is reported on the file itself (grouped per top-level directory on
CODEOWNERS when a whole-repository run finds many). The `subject` (the pattern, the owner or
the unowned path) survives lines moving between commits.
Rule usage (which rules match a file, which decide one) comes from one `rule_usage` pass over
the snapshot's files, so the dead-rule analysis costs about one whole-tree resolution.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

from ghapp.core.context import Context
from ghapp.core.globs import any_glob
from ghapp.core.model import Finding
from ghapp.core.ownership.claim import ClaimRefused, claim_patterns, target_pattern
from ghapp.core.ownership.codeowners import (
    LOCATIONS,
    CodeOwners,
    OwnerRule,
    find_codeowners,
    parse_lines,
    rule_matches,
)
from ghapp.core.ownership.placement import PLACEHOLDER_OWNER, place_line

AGGREGATE_ABOVE = 25  # whole-repo runs: more unowned files than this are grouped per top directory
_EXAMPLES = 3
DETAILED_RULES = 50  # dead rules explained with examples (each costs a scan of every path)
_SHADOWED = "every file it matches is matched by a later line"  # beyond DETAILED_RULES


def check_codeowners(ctx: Context) -> Iterable[Finding]:
    """All `codeowners/*` findings for the context's CODEOWNERS file (parsed by the evaluator)."""
    co = ctx.codeowners
    if co is None:
        yield _missing_or_too_large(ctx)
        return
    path = ctx.codeowners_path
    yield from _syntax(ctx, co, path)
    yield from _owner_access(ctx, co, path)
    duplicates = list(_duplicates(ctx, co, path))
    yield from duplicates
    paths = ctx.snapshot.paths()
    yield from _dead_rules(ctx, co, path, paths, {f.line for f in duplicates if f.line})
    yield from _unowned(ctx, co, path, paths)


def _missing_or_too_large(ctx: Context) -> Finding:
    located = find_codeowners(ctx.snapshot)
    if located is not None and located.too_large:
        return ctx.finding(
            "codeowners/too-large",
            f"{located.path} is {located.size:,} bytes; GitHub ignores CODEOWNERS files of 3 MB"
            " or more, so no file has a code owner",
            path=located.path,
            subject=located.path,
        )
    return ctx.finding(
        "codeowners/missing",
        "No CODEOWNERS file (looked in .github/CODEOWNERS, CODEOWNERS and docs/CODEOWNERS)",
        subject="CODEOWNERS",
    )


def _syntax(ctx: Context, co: CodeOwners, path: str | None) -> Iterator[Finding]:
    for problem in co.errors:
        if problem.kind == "unknown-owner":
            continue  # reported by _owner_access from ctx.directory, once
        yield ctx.finding(
            f"codeowners/{problem.kind}",
            problem.message,
            path=path,
            line=problem.line,
            column=problem.column,
            subject=f"{problem.source.strip()} (column {problem.column})",
            fix=problem.suggestion,
            suggestion=problem.replacement,
        )


def _owner_access(ctx: Context, co: CodeOwners, path: str | None) -> Iterator[Finding]:
    directory = ctx.directory
    if directory is None:
        return
    for rule in co.rules:
        for owner, column in zip(rule.owners, rule.owner_columns, strict=True):
            exists = directory.exists(owner)
            if exists is False:
                rule_id, why = "codeowners/unknown-owner", "does not exist (or is not visible)"
            elif exists and directory.can_write(owner) is False:
                rule_id, why = "codeowners/owner-without-write-access", "has no write access"
            else:
                continue
            yield ctx.finding(
                rule_id,
                f"Owner {owner} of `{rule.pattern}` {why}: GitHub will not request its review",
                path=path,
                line=rule.line,
                column=column,
                subject=f"{rule.pattern} {owner}",
            )


def _duplicates(ctx: Context, co: CodeOwners, path: str | None) -> Iterator[Finding]:
    """Earlier lines whose pattern means the same as a later line's (`/a/` and `/a/**` too)."""
    last: dict[tuple[object, ...], OwnerRule] = {}
    for rule in reversed(co.rules):
        key = _meaning(rule)
        later = last.get(key)
        if later is None:
            last[key] = rule
            continue
        yield ctx.finding(
            "codeowners/duplicate-pattern",
            f"`{rule.pattern}` is repeated on line {later.line} (`{later.pattern}`), which wins:"
            f" line {rule.line} never decides an owner",
            path=path,
            line=rule.line,
            column=rule.column,
            subject=rule.pattern,
            fix=f"Merge the owners into line {later.line} and delete line {rule.line}.",
        )


def _meaning(rule: OwnerRule) -> tuple[object, ...]:
    parts: list[object] = [rule.mode]
    for element in rule.elements:
        parts.append(("literal", element) if isinstance(element, str) else repr(element))
    return tuple(parts)


def _dead_rules(
    ctx: Context,
    co: CodeOwners,
    path: str | None,
    paths: Sequence[str],
    already: set[int],
) -> Iterator[Finding]:
    # The base of a change usually has the same rules and files: one pass serves both.
    key = ("rule usage", co.rules, tuple(paths))
    usage = ctx.memo.get(key)
    if usage is None:
        usage = ctx.memo[key] = co.rule_usage(paths)
    detailed = 0  # explanations scan every path once per rule: only for the first few
    for index, rule in enumerate(co.rules):
        if rule.line in already or index in usage.decided:
            continue
        detailed += 1
        explain = detailed <= DETAILED_RULES
        if index in usage.matched:
            why = _shadowed_why(co, index, paths) if explain else _SHADOWED
            rule_id, message = "codeowners/shadowed-rule", f"never decides an owner: {why}"
        else:
            hint = _case_hint(rule, paths) if explain else ""
            rule_id, message = (
                "codeowners/pattern-matches-nothing",
                f"matches no file in the repository{hint}",
            )
        yield ctx.finding(
            rule_id,
            f"`{rule.pattern}` {message}",
            path=path,
            line=rule.line,
            column=rule.column,
            subject=rule.pattern,
        )


def _shadowed_why(co: CodeOwners, index: int, paths: Sequence[str]) -> str:
    """How many files of rule `index` later lines take, and the line that takes the most."""
    matched = co.matching_paths(index, paths)
    winners = Counter(m.line for m in co.resolve_all(matched) if m)
    line, count = winners.most_common(1)[0]
    later = next(r for r in co.rules if r.line == line)
    return (
        f"all {len(matched)} files it matches are matched by later lines"
        f" ({count} by line {line}, `{later.pattern}`)"
    )


def _case_hint(rule: OwnerRule, paths: Sequence[str]) -> str:
    folded = parse_lines(f"{rule.pattern.lower()} @case")[0]
    near = rule_matches(folded[0], [p.lower() for p in paths]) if folded else []
    if not near:
        return ""
    return (
        f" (it would match `{near[0]}` if case were ignored: CODEOWNERS paths are case-sensitive)"
    )


def _unowned(
    ctx: Context, co: CodeOwners, path: str | None, paths: Sequence[str]
) -> Iterator[Finding]:
    required = ctx.policy.require_owners
    if not required:
        return
    scope: Iterable[str] = paths
    if ctx.changed is not None:
        present = set(paths)
        scope = sorted(p for p in ctx.changed if p in present)
    candidates = [p for p in scope if any_glob(required, p) and not any_glob(ctx.policy.ignore, p)]
    unowned = [
        (p, m)
        for p, m in zip(candidates, co.resolve_all(candidates), strict=True)
        if m is None or not m.owners
    ]
    if ctx.changed is None and len(unowned) > AGGREGATE_ABOVE:
        deliberate = {p for p, m in unowned if m is not None}
        yield from _unowned_by_directory(ctx, path, [p for p, _ in unowned], deliberate, paths)
        return
    where = path or LOCATIONS[0]
    for file, match in unowned:
        # On the file itself (not CODEOWNERS): waivers and `ignore` globs name such paths, and
        # in a pull request the file is what changed.
        if match is not None:  # the winning line lists no owners: unowned on purpose
            line = f"/{file} @org/team"
            yield ctx.finding(
                "codeowners/unowned-file",
                f"`{file}` has no code owner: line {match.line} (`{match.pattern}`) lists no "
                "owners, so it is deliberately unowned",
                path=file,
                subject=file,
                fix=f"If that is intended, waive this finding; to give `{file}` an owner anyway, "
                f"add `{line}` to {where} after line {match.line}, which changes only this file.",
            )
            continue
        try:  # a line for this file alone wins wherever it goes: at the end is simplest
            fix = f"Add `{target_pattern(file, False)} {PLACEHOLDER_OWNER}` at the end of {where}."
        except ClaimRefused as exc:
            fix = f"Own its directory in {where} instead: {exc}."
        yield ctx.finding(
            "codeowners/unowned-file",
            f"`{file}` has no code owner: no line matches it",
            path=file,
            subject=file,
            fix=fix,
        )


def _files(n: int) -> str:
    return "1 file" if n == 1 else f"{n} files"


def _unowned_by_directory(
    ctx: Context,
    path: str | None,
    files: list[str],
    deliberate: set[str],
    paths: Sequence[str],
) -> Iterator[Finding]:
    groups: dict[str, list[str]] = {}
    for file in files:
        top, sep, _ = file.partition("/")
        groups.setdefault(f"{top}/" if sep else "/", []).append(file)
    located = find_codeowners(ctx.snapshot)
    text = located.text if located is not None else None
    for top, members in sorted(groups.items()):
        where = "in the repository root" if top == "/" else f"under `{top}`"
        examples = ", ".join(f"`{m}`" for m in members[:_EXAMPLES])
        claimable = [m for m in members if m not in deliberate]
        on_purpose = len(members) - len(claimable)
        fix = _directory_fix(text, path or LOCATIONS[0], top, claimable, paths) if claimable else ""
        if on_purpose:
            fix += (
                f" Left as they are: {_files(on_purpose)} deliberately unowned (the line that"
                " decides lists no owners)."
            )
        how = "without a code owner"
        if not claimable:  # say it where it is read first: nothing here was forgotten
            how = "deliberately unowned (the CODEOWNERS lines that decide list no owners)"
        elif on_purpose:
            how += f", {on_purpose} of them deliberately"
        yield ctx.finding(
            "codeowners/unowned-file",
            f"{_files(len(members))} {where} {how} (e.g. {examples})",
            path=path,
            subject=top,
            fix=fix.strip(),
        )


def _directory_fix(
    text: str | None, where: str, top: str, members: list[str], paths: Sequence[str]
) -> str:
    """One line for the directory, placed where last-match-wins gives it exactly these files
    (before lines that own, or deliberately unown, other files below it); else one line per
    part that holds only these files, at the end."""
    scope = (
        [p for p in paths if "/" not in p]
        if top == "/"
        else [p for p in paths if p.startswith(top)]
    )
    pattern = "/*"
    try:
        pattern = "/*" if top == "/" else target_pattern(top, True)
        placed = place_line(text, where, pattern, PLACEHOLDER_OWNER, members, scope)
        return placed.instruction() + "."
    except ClaimRefused:
        pass
    try:
        parts = claim_patterns(members, scope)
    except ClaimRefused as exc:
        return f"Add a line per file to {where} ({exc})."
    shown = ", ".join(f"`{p} {PLACEHOLDER_OWNER}`" for p in parts[:_EXAMPLES])
    more = f" and {len(parts) - _EXAMPLES} more" if len(parts) > _EXAMPLES else ""
    return (
        f"Add {shown}{more} at the end of {where}: a single `{pattern}` line would also take "
        "files it must not."
    )

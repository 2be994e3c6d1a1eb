"""CODEOWNERS with GitHub's semantics: parse once, resolve owners fast, report syntax errors.

Theory of operation. Each line `pattern owner...` becomes an `OwnerRule`. Its pattern is
normalised to a sequence of path *elements* (a literal segment, a one-segment glob, or `**`:
zero or more segments) and a *mode* saying what the elements must cover of a file's path:

    EXACT   the whole path; only a final `*` segment (`docs/*`: files directly in docs/,
            not docs/a/b, GitHub's documented difference from gitignore)
    PREFIX  the path itself or one of its directories (`/apps/github`, `*.js`, `Kconfig`)
    DIR     one of its directories (`apps/`, `/docs/**`)

A pattern with no slash, or only a trailing one, floats: it gets a leading `**`. The last
matching line wins. Two matchers read this normal form: `OwnerRule.regex` (one regex per rule,
compiled on first use) is the reference and answers "does this rule match this path";
`codeowners_engine.Engine` resolves many paths by walking the directory tree one segment at a
time with the set of partially matched rules (an NFA over segments whose literal steps are dict
lookups), memoised per directory, so a typical file costs a dict lookup or two. Tests check the
two agree (randomised rules and paths, and both real corpora).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Final

from ghapp.core.ownership.directory import OwnerDirectory
from ghapp.core.ownership.engine import DIR, EXACT, PREFIX, STAR2, Element, Engine, Glob
from ghapp.core.snapshot import Snapshot

LOCATIONS: Final = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")
# GitHub: "CODEOWNERS files must be under 3 MB in size": we read MB as MiB, so a file of
# 3,145,728 bytes or more is ignored (`CodeOwnersFile.too_large`).
MAX_CODEOWNERS_BYTES: Final = 3 * 1024 * 1024

_USER = re.compile(r"@[A-Za-z0-9][A-Za-z0-9_-]*\Z")
_TEAM = re.compile(r"@[A-Za-z0-9][A-Za-z0-9_-]*/[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_EMAIL = re.compile(rf"[A-Za-z0-9.!#$%&'*+/=?^_`{{|}}~-]+@{_LABEL}(?:\.{_LABEL})+\Z")
_TOKEN = re.compile(r"(?:\\.|[^ \t\\])+\\?|\\")
_SUSPECT = re.compile(r"[\\\[\]]|\*\*\*")  # characters that need the careful pattern scan
_SLASH_SUGGESTION = "The pattern `/` will never match anything, did you mean `*` instead?"


@dataclass(frozen=True)
class SyntaxProblem:
    """One CODEOWNERS error, shaped like GitHub's `GET /repos/{o}/{r}/codeowners/errors` entries
    (kinds in kebab-case). `column` is 1-based, at the offending character or owner token.
    `replacement` is the corrected line when the fix is mechanical (not part of the JSON)."""

    line: int
    column: int
    kind: str  # invalid-pattern | invalid-owner | unknown-owner
    source: str
    message: str
    suggestion: str | None = None
    replacement: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The `errors[]` entry of the `ghapp owners` JSON contract."""
        out: dict[str, Any] = {
            "line": self.line,
            "column": self.column,
            "kind": self.kind,
            "source": self.source,
            "message": self.message,
        }
        if self.suggestion is not None:
            out["suggestion"] = self.suggestion
        return out


@dataclass(frozen=True)
class OwnerRule:
    """A valid CODEOWNERS line: `pattern` as written, its `owners` (maybe none: unowned)."""

    line: int
    pattern: str
    owners: tuple[str, ...]
    column: int = 1
    owner_columns: tuple[int, ...] = ()
    source: str = ""
    elements: tuple[Element, ...] = field(default=(), repr=False, compare=False)
    mode: int = field(default=PREFIX, repr=False, compare=False)

    @cached_property
    def regex(self) -> re.Pattern[str]:
        """The reference matcher for this rule alone (compiled on first use)."""
        return _rule_regex(self.elements, self.mode)

    def matches(self, path: str) -> bool:
        """Whether this rule's pattern matches the repository-relative file `path`."""
        return self.regex.match(path) is not None


@dataclass(frozen=True)
class Match:
    """The rule that decides a path's owners; `owners == ()` means explicitly unowned."""

    owners: tuple[str, ...]
    line: int
    pattern: str


@dataclass(frozen=True)
class RuleUsage:
    """Rule indices (into `CodeOwners.rules`) that match at least one of the given files, and
    those that decide (are the last match for) at least one."""

    matched: frozenset[int]
    decided: frozenset[int]


class CodeOwners:
    """A parsed CODEOWNERS file compiled for fast lookups. Build with `from_text`."""

    def __init__(self, rules: Sequence[OwnerRule], errors: Sequence[SyntaxProblem] = ()) -> None:
        self._rules = tuple(rules)
        self._errors = tuple(sorted(errors, key=lambda e: (e.line, e.column)))
        self._engine = Engine([(r.elements, r.mode) for r in self._rules])
        # One Match per rule, shared by every path it decides; the extra last item is "no rule".
        self._matches: tuple[Match | None, ...] = (
            *(Match(r.owners, r.line, r.pattern) for r in self._rules),
            None,
        )

    @classmethod
    def from_text(cls, text: str, directory: OwnerDirectory | None = None) -> CodeOwners:
        """Parse CODEOWNERS text; invalid lines are skipped and listed in `errors`. With a
        `directory`, owners it does not know are also listed (`unknown-owner`)."""
        rules, errors = parse_lines(text)
        if directory is not None:
            errors += unknown_owner_problems(rules, directory)
        return cls(rules, errors)

    @property
    def rules(self) -> tuple[OwnerRule, ...]:
        return self._rules

    @property
    def errors(self) -> tuple[SyntaxProblem, ...]:
        return self._errors

    def owners_of(self, path: str) -> Match | None:
        """The last rule matching `path` (None when no rule matches)."""
        return self._engine.resolve_one(path, self._matches)

    def resolve_all(self, paths: Iterable[str]) -> list[Match | None]:
        """`owners_of` for many paths at once (fast: work is shared per directory)."""
        return self._engine.resolve(paths, self._matches)

    def rule_usage(self, paths: Iterable[str]) -> RuleUsage:
        """Which rules match some of `paths`, and which decide some (for lint)."""
        matched, decided = self._engine.usage(paths)
        return RuleUsage(frozenset(matched), frozenset(decided))

    def matching_paths(self, rule_index: int, paths: Sequence[str]) -> list[str]:
        """The paths that rule `rule_index` matches (whether or not it decides them)."""
        return rule_matches(self._rules[rule_index], paths)

    def unknown_owners(self, directory: OwnerDirectory) -> list[SyntaxProblem]:
        """`unknown-owner` problems of this file's rules (see `unknown_owner_problems`)."""
        return unknown_owner_problems(self._rules, directory)


def rule_matches(rule: OwnerRule, paths: Sequence[str]) -> list[str]:
    """The paths one rule matches, with the segment engine (linear in the path length, unlike
    the reference regex on patterns with many `**`)."""
    hits = Engine([(rule.elements, rule.mode)]).resolve(paths, (True, False))
    return [p for p, hit in zip(paths, hits, strict=True) if hit]


def unknown_owner_problems(
    rules: Iterable[OwnerRule], directory: OwnerDirectory
) -> list[SyntaxProblem]:
    """Owners the directory says do not exist. GitHub still applies such a line: the owner is
    just never requested, so the rule is kept as written."""
    out = []
    for rule in rules:
        for owner, column in zip(rule.owners, rule.owner_columns, strict=True):
            if directory.exists(owner) is False:
                message = f"Unknown owner on line {rule.line}: make sure {owner} exists"
                fix = f"Check the spelling of {owner}, or remove it from line {rule.line}."
                out.append(
                    SyntaxProblem(rule.line, column, "unknown-owner", rule.source, message, fix)
                )
    return out


@dataclass(frozen=True)
class CodeOwnersFile:
    """The CODEOWNERS file GitHub would use: its path and text; `text` is None when the file
    is `MAX_CODEOWNERS_BYTES` or more (`too_large`), which GitHub ignores."""

    path: str
    text: str | None
    size: int

    @property
    def too_large(self) -> bool:
        return self.size >= MAX_CODEOWNERS_BYTES


def find_codeowners(snapshot: Snapshot) -> CodeOwnersFile | None:
    """The first of `.github/CODEOWNERS`, `CODEOWNERS`, `docs/CODEOWNERS` that exists. A file
    over the size limit is still the one found (GitHub does not fall back to the next)."""
    existing = set(snapshot.paths())
    for path in LOCATIONS:
        if path not in existing:
            continue
        size = snapshot.size(path)
        if size is not None and size >= MAX_CODEOWNERS_BYTES:
            return CodeOwnersFile(path, None, size)
        data = snapshot.read(path)
        if data is None:
            continue
        if len(data) >= MAX_CODEOWNERS_BYTES:
            return CodeOwnersFile(path, None, len(data))
        return CodeOwnersFile(path, data.decode("utf-8", errors="replace"), len(data))
    return None


def parse_lines(text: str) -> tuple[list[OwnerRule], list[SyntaxProblem]]:
    """Rules and problems of CODEOWNERS text (BOM, CRLF and trailing blanks tolerated)."""
    rules: list[OwnerRule] = []
    problems: list[SyntaxProblem] = []
    # Only "\n" ends a line (str.splitlines would also split on form feeds and U+2028).
    for number, raw in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
        line = raw.removesuffix("\r")
        tokens = _tokens(line)
        if not tokens:
            continue
        (column, pattern), owner_tokens = tokens[0], tokens[1:]
        found = _pattern_problems(pattern, column, number, line)
        found += [p for c, tok in owner_tokens if (p := _owner_problem(tok, c, number, line))]
        if found:
            problems.extend(found)
            continue
        elements, mode = _normalise(pattern)
        rules.append(
            OwnerRule(
                line=number,
                pattern=pattern,
                owners=tuple(tok for _, tok in owner_tokens),
                column=column,
                owner_columns=tuple(c for c, _ in owner_tokens),
                source=line,
                elements=elements,
                mode=mode,
            )
        )
    return rules, problems


def _tokens(line: str) -> list[tuple[int, str]]:
    """(1-based column, raw text) of each blank-separated token; a token starting with `#` starts
    a comment (whole line or inline); a backslash keeps the next character (`\\ `) in the token."""
    out: list[tuple[int, str]] = []
    for m in _TOKEN.finditer(line):
        if m.group().startswith("#"):
            break
        out.append((m.start() + 1, m.group()))
    return out


def _pattern_problems(pattern: str, column: int, number: int, line: str) -> list[SyntaxProblem]:
    def problem(offset: int, message: str, suggestion: str | None = None) -> SyntaxProblem:
        text = f"Invalid pattern on line {number}: {message}"
        return SyntaxProblem(number, column + offset, "invalid-pattern", line, text, suggestion)

    if pattern.startswith("!"):
        return [problem(0, "negation (`!`) is not supported in CODEOWNERS")]
    if pattern.startswith("\\#"):
        return [
            problem(0, "escaping a leading `#` with `\\` is not supported", "Use `?` for the `#`.")
        ]
    if pattern.strip("/") == "":
        return [problem(0, "`/` matches nothing", _SLASH_SUGGESTION)]
    if not _SUSPECT.search(pattern):
        return []
    i, stars = 0, 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 == len(pattern):
                return [problem(i, "a trailing `\\` escapes nothing")]
            i, stars = i + 2, 0
            continue
        if ch in "[]":
            return [problem(i, "character ranges (`[ ]`) are not supported in CODEOWNERS")]
        stars = stars + 1 if ch == "*" else 0
        if stars == 3:
            return [problem(i - 2, "`***` is not a valid wildcard (use `*` or `**`)")]
        i += 1
    return []


def _owner_problem(token: str, column: int, number: int, line: str) -> SyntaxProblem | None:
    if _USER.match(token) or _TEAM.match(token) or _EMAIL.match(token):
        return None
    replacement = None
    bare = token.rstrip(",")
    if bare != token and (_USER.match(bare) or _TEAM.match(bare) or _EMAIL.match(bare)):
        reason = "owners are separated by spaces, not commas"
        suggestion = f"Remove the comma after {bare}."
        replacement = re.sub(r",+(?=[ \t]|$)", "", line).rstrip()
    elif token.startswith("@") and "." in token and "/" not in token:
        reason = "a domain is not an owner"
        suggestion = f"Use an email address (name{token}) or a @username."
    elif token.endswith("@"):
        reason = "an email address needs a domain"
        suggestion = f"Complete the address, e.g. {token}example.com."
    elif "@" not in token and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*(/[\w.-]+)?", token):
        reason = "users and teams start with `@`"
        suggestion = f"Did you mean @{token}?"
    else:
        reason = "use @username, @org/team-name or an email address"
        suggestion = None
    message = f"Invalid owner on line {number}: `{token}`: {reason}"
    return SyntaxProblem(number, column, "invalid-owner", line, message, suggestion, replacement)


def _normalise(pattern: str) -> tuple[tuple[Element, ...], int]:
    """Elements and mode of a valid pattern (see the module docstring)."""
    segments = _split_unescaped(pattern)
    anchored = segments[0] == "" and len(segments) > 1
    if anchored:
        segments = segments[1:]
    dir_only = len(segments) > 1 and segments[-1] == ""
    if dir_only:
        segments = segments[:-1]
    anchored = anchored or len(segments) > 1
    mode = DIR if dir_only else EXACT if segments[-1] == "*" else PREFIX
    elements: list[Element] = [] if anchored else [STAR2]
    for seg in segments:
        element = _element(seg)
        if not (element is STAR2 and elements and elements[-1] is STAR2):
            elements.append(element)
    while elements and elements[-1] is STAR2 and mode != EXACT:
        elements.pop()
        mode = DIR
    return tuple(elements), mode


def _split_unescaped(pattern: str) -> list[str]:
    """Raw segments (escapes kept), split on unescaped `/`."""
    if "\\" not in pattern:
        return pattern.split("/")
    segments, start, i = [], 0, 0
    while i < len(pattern):
        if pattern[i] == "/":
            segments.append(pattern[start:i])
            start = i + 1
        i += 2 if pattern[i] == "\\" else 1
    return [*segments, pattern[start:]]


def _element(seg: str) -> Element:
    """A literal segment (escapes removed), `**`, or a `Glob`."""
    if seg == "**":
        return STAR2
    if "\\" not in seg and "*" not in seg and "?" not in seg:
        return seg
    chars: list[tuple[str, bool]] = []  # (character, was escaped)
    i = 0
    while i < len(seg):
        escaped = seg[i] == "\\"
        chars.append((seg[i + 1], True) if escaped else (seg[i], False))
        i += 2 if escaped else 1
    if not any(ch in "*?" and not escaped for ch, escaped in chars):
        return "".join(ch for ch, _ in chars)
    # Chunks between the `*`s (`**` inside a segment is a plain `*`); `?` is one character.
    chunks: list[str] = [""]
    for ch, escaped in chars:
        if ch == "*" and not escaped:
            chunks.append("")
        else:
            chunks[-1] += "[^/]" if ch == "?" and not escaped else re.escape(ch)
    # The middle chunks are found leftmost and never revisited (atomic groups): a plain regex
    # would backtrack exponentially on hostile globs such as `*a*a*a*a*a*a*a*b`.
    middle = "".join(f"(?>[^/]*?{chunk})" for chunk in chunks[1:-1] if chunk)
    body = chunks[0] if len(chunks) == 1 else f"{chunks[0]}{middle}[^/]*{chunks[-1]}"
    wild = [i for i, (ch, escaped) in enumerate(chars) if ch in "*?" and not escaped]
    head = "".join(ch for ch, _ in chars[: wild[0]])
    tail = "".join(ch for ch, _ in chars[wild[-1] + 1 :])
    ext = tail[tail.rfind(".") :] if "." in tail else ""
    return Glob(re.compile(body + r"\Z"), ext, head)


def _rule_regex(elements: tuple[Element, ...], mode: int) -> re.Pattern[str]:
    """The reference matcher: one regex over the whole path, used with `match`."""
    parts: list[str] = []
    need_sep = False
    for element in elements:
        if not isinstance(element, str | Glob):
            parts.append("(?:/[^/]+)*" if need_sep else "(?:[^/]+/)*")
            continue
        body = re.escape(element) if isinstance(element, str) else element.regex.pattern[:-2]
        parts.append(("/" if need_sep else "") + body)
        need_sep = True
    if mode == EXACT:
        parts.append(r"\Z")
    elif mode == PREFIX:
        parts.append(r"(?:/|\Z)")
    elif need_sep:
        parts.append("/")
    return re.compile("".join(parts))

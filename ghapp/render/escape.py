"""Make text from pull requests and comments inert in what ghapp posts (markdown) and prints.

Anything a PR author or commenter controls (file names, manifest fields, action refs, command
arguments) goes through one of these before it reaches a check run, a review comment, a reply or
a terminal: no mention pings anyone, no link or image renders, no HTML survives, no backtick
escapes its code span, and no terminal escape sequence reaches a shell. Only owners ghapp has
resolved and validated itself are written as live mentions (`mention`).
"""

from __future__ import annotations

import re

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_HANDLE = re.compile(r"^@[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:/[A-Za-z0-9][A-Za-z0-9_.-]{0,99})?$")
_EMAIL = re.compile(r"^[^@\s`<>]+@[^@\s`<>]+\.[^@\s`<>]+$")
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
ZWSP = "&#8203;"  # a zero-width space, as an entity so it survives markdown


def text(value: object) -> str:
    """Plain markdown text: specials escaped, HTML and mentions and links neutralised, one line."""
    s = _CONTROL.sub(" ", str(value)).replace("\r", " ").replace("\n", " ")
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _MD_SPECIAL.sub(r"\\\1", s)
    s = s.replace("@", "@" + ZWSP)  # "@user" and "@org/team" no longer mention anyone
    return s.replace("://", "&#58;//")  # bare URLs no longer autolink


def code(value: object, *, in_table: bool = False) -> str:
    """An inline code span that nothing inside can close (CommonMark: the fence is one backtick
    longer than the longest run inside; padded when the content starts or ends with one)."""
    s = _CONTROL.sub(" ", str(value)).replace("\r", " ").replace("\n", " ")
    if in_table:
        s = s.replace("|", "\\|")  # GFM splits table cells on | even inside code spans
    longest = max((len(run) for run in re.findall(r"`+", s)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if s.startswith("`") or s.endswith("`") or (s.startswith(" ") and s.strip()) else ""
    return f"{fence}{pad}{s}{pad}{fence}" if s else "` `"


def prose(value: object) -> str:
    """A message or fix as inert markdown that keeps its `code spans` (each re-fenced by `code`,
    so nothing inside one can end it) and escapes everything else with `text`."""
    s = str(value)
    out, last = [], 0
    for match in _CODE_SPAN.finditer(s):
        out += [text(s[last : match.start()]), code(match.group(1))]
        last = match.end()
    out.append(text(s[last:]))
    return "".join(out)


def fence(block: str) -> str:
    """A code fence longer than any backtick run in `block`, so no line of it can close it."""
    longest = max((len(run) for run in re.findall(r"`+", block)), default=0)
    return "`" * max(3, longest + 1)


def is_handle(owner: str) -> bool:
    """`@user`, `@org/team` or an email: the owner forms CODEOWNERS accepts."""
    return bool(_HANDLE.match(owner) or _EMAIL.match(owner))


def mention(owner: str) -> str:
    """A live mention for an owner ghapp resolved itself (a CODEOWNERS owner); anything that is
    not a well-formed handle is shown as code instead, so it cannot ping or render."""
    return owner if _HANDLE.match(owner) else code(owner)


def terminal(value: object) -> str:
    """One line for a terminal: newlines and escape sequences shown as escapes, never executed."""
    s = str(value)
    if not _CONTROL.search(s) and "\n" not in s and "\r" not in s and "\t" not in s:
        return s
    return s.encode("unicode_escape").decode("ascii")

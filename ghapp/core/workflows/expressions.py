"""What a GitHub Actions `if:` expression can say about a run, read without running it.

`may_run(condition, event)` evaluates an `if:` in three-valued (Kleene) logic: True, False or
UNKNOWN. Statically only literals and the triggering event are known (`github.event_name`, and
`github.ref` for `pull_request`); `always()` and `success()` are True, as the run is judged
where it reaches the step. Everything else (secrets, env, inputs, job outputs, `failure()`,
`<`/`>`) is UNKNOWN, which spreads through `!`, `==` and functions, yet `false && x` is still
False and `true || x` still True. Strings compare ignoring case, as in GitHub.

GitHub refuses expressions over 21,000 characters or nested more than 50 levels (parentheses,
calls, `!`); so does this reader, and such an `if:` reads as UNKNOWN: it can never reach Python's
recursion limit.

Why three values: "this job never runs on pull requests" must be certain before coverage drops
a scan or hygiene reports dead code, so only a definitely False condition means "does not run";
UNKNOWN, and an expression that cannot be parsed, mean "may run".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()
MAX_LENGTH = 21_000  # GitHub's own limits on an expression
MAX_DEPTH = 50
_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op>&&|\|\||==|!=|<=|>=|[()!<>,])"
    r"|(?P<id>[A-Za-z_][\w\-]*(?:\.[\w\-*]+|\[[^\]]*\])*))"
)


def expression_spans(text: str) -> Iterator[tuple[int, int]]:
    r"""(start, end) of each `${{ ... }}` in text, as `re.finditer(r"\$\{\{.*?\}\}", DOTALL)`
    finds them, in linear time: that regex rescans to the end from every unclosed `${{`, which
    takes minutes on a run script of many of them."""
    pos = 0
    while (start := text.find("${{", pos)) != -1:
        end = text.find("}}", start + 3)
        if end == -1:
            return  # no later `${{` can be closed either
        yield start, end + 2
        pos = end + 2


def may_run(condition: str | None, event: str) -> bool:
    """False only when an `if:` is certainly false for a run triggered by `event`."""
    if condition is None:
        return True
    text = condition.strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    if len(text) > MAX_LENGTH:
        return True
    try:
        value = _Expression(text, event).parse()
    except ValueError:
        return True
    return value is UNKNOWN or bool(value)


class _Expression:
    """A three-valued reading of a GitHub expression: facts known about the event, else UNKNOWN."""

    def __init__(self, text: str, event: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        text = text.rstrip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None or m.end() == pos:
                raise ValueError(f"cannot read expression at {pos}")
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind)))
            pos = m.end()
        self.pos = 0
        self.event = event
        self.depth = 0

    def parse(self) -> Any:
        value = self._or()
        if self.pos != len(self.tokens):
            raise ValueError("trailing tokens")
        return value

    def _peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise ValueError("unexpected end")
        self.pos += 1
        return self.tokens[self.pos - 1]

    def _or(self) -> Any:
        value = self._and()
        while self._peek() == "||":
            self._take()
            right = self._and()
            value = _truth_or(value, right)
        return value

    def _and(self) -> Any:
        value = self._compare()
        while self._peek() == "&&":
            self._take()
            right = self._compare()
            value = _truth_and(value, right)
        return value

    def _compare(self) -> Any:
        left = self._unary()
        op = self._peek()
        if op in ("==", "!=", "<", ">", "<=", ">="):
            self._take()
            right = self._unary()
            if left is UNKNOWN or right is UNKNOWN or op not in ("==", "!="):
                return UNKNOWN
            same = _fold(left) == _fold(right)
            return same if op == "==" else not same
        return left

    def _unary(self) -> Any:
        if self._peek() == "!":
            self._take()
            self._enter()
            value = self._unary()
            self.depth -= 1
            return UNKNOWN if value is UNKNOWN else not value
        return self._primary()

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ValueError(f"expression nested more than {MAX_DEPTH} levels deep")

    def _primary(self) -> Any:
        kind, tok = self._take()
        if tok == "(":
            self._enter()
            value = self._or()
            self._expect(")")
            self.depth -= 1
            return value
        if kind == "str":
            return tok[1:-1].replace("''", "'")
        if kind == "num":
            return float(tok)
        if kind != "id":
            raise ValueError(f"unexpected {tok!r}")
        if self._peek() == "(":
            self._take()
            self._enter()
            args = []
            while self._peek() != ")":
                args.append(self._or())
                if self._peek() == ",":
                    self._take()
            self._expect(")")
            self.depth -= 1
            return _call(tok.lower(), args)
        return self._context(tok)

    def _expect(self, tok: str) -> None:
        if self._take()[1] != tok:
            raise ValueError(f"expected {tok!r}")

    def _context(self, name: str) -> Any:
        lowered = name.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        if lowered == "null":
            return None
        if lowered == "github.event_name":
            return self.event
        if lowered == "github.ref" and self.event == "pull_request":
            return "refs/pull/0/merge"
        return UNKNOWN


def _fold(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _truth_or(left: Any, right: Any) -> Any:
    if (left is not UNKNOWN and left) or (right is not UNKNOWN and right):
        return True
    return UNKNOWN if UNKNOWN in (left, right) else False


def _truth_and(left: Any, right: Any) -> Any:
    if (left is not UNKNOWN and not left) or (right is not UNKNOWN and not right):
        return False
    return UNKNOWN if UNKNOWN in (left, right) else True


def _call(name: str, args: list[Any]) -> Any:
    if name in ("always", "success"):
        return True
    known = all(isinstance(a, str) for a in args) and len(args) == 2
    if known and name == "startswith":
        return _fold(args[0]).startswith(_fold(args[1]))
    if known and name == "endswith":
        return _fold(args[0]).endswith(_fold(args[1]))
    if known and name == "contains":
        return _fold(args[1]) in _fold(args[0])
    return UNKNOWN

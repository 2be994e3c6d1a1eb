"""Where one new CODEOWNERS line goes so that it owns exactly the files it is meant to own.

CODEOWNERS is last-match-wins: a line appended at the end takes every file it matches, so
`/services/ @acme/team` at the end would take files other lines give to other teams, and
would undo a deliberate ownerless line such as `/services/generated/` (which makes those
files unowned on purpose). `place_line` asks the claim planner (claim.plan_codeowners_claim)
for the position where the line wins for the claimed files and for nothing else, verified by
resolving every file below the pattern again, and describes that position in words.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from ghapp.core.ownership.claim import Parse, plan_codeowners_claim

PLACEHOLDER_OWNER = "@org/team"  # for fixes that cannot name the team


@dataclass(frozen=True)
class Placement:
    """The exact line, and where it goes in the CODEOWNERS file."""

    rule: str  # "/services/pay/ @acme/payments"
    codeowners_path: str
    number: int  # the line's number in the edited file
    before: str | None = None  # the rule it must precede (None: at the end)
    replaces: bool = False  # an existing line with the same pattern gets these owners
    new_file: bool = False  # there is no CODEOWNERS file yet

    def instruction(self) -> str:
        """One sentence a person can follow: "Add `...` at the end of .github/CODEOWNERS"."""
        rule, path = f"`{self.rule}`", self.codeowners_path
        if self.new_file:
            return f"Create {path} with the line {rule}"
        if self.replaces:
            return f"Change line {self.number} of {path} to {rule}"
        if self.before is None:
            return f"Add {rule} at the end of {path}"
        return (
            f"Add {rule} to {path} as line {self.number}, before `{self.before}` "
            "(a later line would take files other rules decide)"
        )


def place_line(
    text: str | None,
    codeowners_path: str,
    pattern: str,
    owner: str,
    claimed: Collection[str],
    universe: Iterable[str],
    parse: Parse | None = None,
) -> Placement:
    """Place `pattern owner` so that `claimed` resolve to `owner` and every other file of
    `universe` keeps its owners. `universe` need only hold the files `pattern` can match.
    Raises claim.ClaimRefused (with the reason) when no position works."""
    old = text or ""
    plan = plan_codeowners_claim(old, claimed, owner, universe, pattern, parse)
    before, after = old.splitlines(), plan.text.splitlines()
    number = next(
        (i for i, (a, b) in enumerate(zip(before, after, strict=False), 1) if a != b),
        len(after),
    )
    replaces = len(after) == len(before)
    later = (line.strip() for line in after[number:])
    following = None if replaces else next((r for r in later if r and r[0] != "#"), None)
    return Placement(
        rule=after[number - 1].strip() if replaces else f"{pattern} {owner}",
        codeowners_path=codeowners_path,
        number=number,
        before=following,
        replaces=replaces,
        new_file=text is None,
    )


def append_line(text: str | None, codeowners_path: str, pattern: str, owner: str) -> Placement:
    """`pattern owner` at the end: right for a pattern that matches only files no line owns
    today (such as one file's own path), because nothing else can change."""
    lines = (text or "").splitlines()
    return Placement(
        rule=f"{pattern} {owner}",
        codeowners_path=codeowners_path,
        number=len(lines) + 1,
        new_file=text is None,
    )

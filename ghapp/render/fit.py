"""Fitting a sectioned markdown document under a byte limit by cutting the least important items.

A document is a list of `Part`s (its sections), each a list of `Block`s (a heading, a group of
findings, a table, a `<details>` element): fixed `head` and `tail` lines around `items` that may
be cut. Cutting takes items from the end of a part; a block left without items disappears
(unless it is `keep`), and the part says how many of its items were cut and where to find them.
`fit` cuts parts in the order given, each only as far as needed, so the most important parts
keep everything whenever anything can.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


@dataclass
class Block:
    head: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)
    keep: bool = False  # shown even when all its items are cut (a section's heading)


@dataclass
class Part:
    name: str
    blocks: list[Block]
    noun: str = "items"  # what its items are, for the note saying how many were cut
    limit: int | None = None  # items kept (None: all)

    @property
    def size(self) -> int:
        return sum(len(b.items) for b in self.blocks)


CutNote = Callable[[int, str], str]  # (number cut, noun) -> markdown


def render(parts: Sequence[Part], note: CutNote) -> str:
    """The document with each part cut to its `limit`."""
    out = []
    for part in parts:
        text = _render_part(part, note)
        if text:
            out.append(text)
    return "\n\n".join(out)


def _render_part(part: Part, note: CutNote) -> str:
    left = part.size if part.limit is None else part.limit
    chunks = []
    for block in part.blocks:
        kept = block.items[: max(left, 0)]
        left -= len(kept)
        if block.items and not kept and not block.keep:
            continue
        chunks.append("\n".join([*block.head, *kept, *block.tail]))
    cut = part.size - (part.size if part.limit is None else min(part.limit, part.size))
    if cut:
        chunks.append(note(cut, part.noun))
    return "\n\n".join(c for c in chunks if c)


def fit(
    parts: Sequence[Part],
    max_bytes: int,
    note: CutNote,
    stages: Sequence[tuple[str, int]],
) -> str:
    """Render `parts` within `max_bytes` UTF-8 bytes. `stages` are (part name, items to keep at
    least) in cutting order: each stage cuts that part down to no fewer than its floor, and
    only as far as needed."""
    by_name = {p.name: p for p in parts}

    def size() -> int:
        return len(render(parts, note).encode("utf-8"))

    if size() <= max_bytes:
        return render(parts, note)
    for name, floor in stages:
        part = by_name.get(name)
        if part is None:
            continue
        current = part.size if part.limit is None else part.limit
        floor = min(floor, current)
        part.limit = floor
        if size() > max_bytes:
            continue  # even the floor does not fit: later stages cut more
        lo, hi = floor, current  # the largest limit in [lo, hi] that fits; lo fits
        while lo < hi:
            mid = (lo + hi + 1) // 2
            part.limit = mid
            if size() <= max_bytes:
                lo = mid
            else:
                hi = mid - 1
        part.limit = lo
        return render(parts, note)
    return hard_cut(render(parts, note), max_bytes)


def hard_cut(text: str, max_bytes: int, note: str = "\n\n… (cut to fit)") -> str:
    """Last resort: `text` cut on a line (and character) boundary, with `note`."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    room = max(0, max_bytes - len(note.encode("utf-8")))
    cut = data[:room].decode("utf-8", errors="ignore")
    if "\n" in cut:
        cut = cut[: cut.rfind("\n")]
    return cut + note

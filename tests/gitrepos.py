"""Git repositories with a history written to order: authors, dates, branches and merges.

`History` collects commits and writes them with one `git fast-import` process, so a test can
build a repository with known authors in milliseconds and the benchmark one with 50,000
commits in seconds. The work tree is checked out afterwards (`ghapp` reads it like any clone).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path


@dataclass
class _Commit:
    branch: str
    author: str  # "Name <email>"
    when: datetime
    message: str
    files: dict[str, bytes | None]
    merge: str | None = None  # branch merged in


@dataclass
class History:
    """Commits in the order given; branches start from `main` where they are first used."""

    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    commits: list[_Commit] = field(default_factory=list)

    def commit(
        self,
        author: str,
        files: dict[str, str | bytes | None],
        *,
        days_ago: float = 1.0,
        branch: str = "main",
        message: str = "change",
    ) -> None:
        """A commit by `author` ("alice" means `alice <alice@acme.dev>`); None deletes a file."""
        data = {p: v.encode() if isinstance(v, str) else v for p, v in files.items()}
        self.commits.append(_Commit(branch, _who(author), self._at(days_ago), message, data))

    def merge(self, author: str, branch: str, *, days_ago: float = 1.0, into: str = "main") -> None:
        """A clean merge commit of `branch` into `into`: its tree has the branch's changes."""
        changes: dict[str, bytes | None] = {}
        for c in self.commits:
            if c.branch == branch:
                changes.update(c.files)
        when = self._at(days_ago)
        self.commits.append(_Commit(into, _who(author), when, f"Merge {branch}", changes, branch))

    def stream(self) -> bytes:
        """The `git fast-import` input for these commits."""
        out: list[bytes] = []
        tips: dict[str, int] = {}
        for mark, c in enumerate(self.commits, 1):
            stamp = f"{c.author} {int(c.when.timestamp())} +0000"
            message = c.message.encode()
            out.append(f"commit refs/heads/{c.branch}\nmark :{mark}\n".encode())
            out.append(f"author {stamp}\ncommitter {stamp}\n".encode())
            out.append(b"data %d\n%s\n" % (len(message), message))
            parent = tips.get(c.branch, tips.get("main"))
            if parent is not None:
                out.append(f"from :{parent}\n".encode())
            if c.merge is not None:
                out.append(f"merge :{tips[c.merge]}\n".encode())
            for path, data in c.files.items():
                quoted = _quote(path)
                if data is None:
                    out.append(b"D " + quoted + b"\n")
                else:
                    out.append(b"M 100644 inline " + quoted + b"\ndata %d\n" % len(data) + data)
                    out.append(b"\n")
            out.append(b"\n")
            tips[c.branch] = mark
        return b"".join(out)

    def create(self, root: Path) -> Path:
        """Write the repository at `root` (a new directory) with `main` checked out."""
        root.mkdir(parents=True, exist_ok=True)
        git(root, "init", "-q", "-b", "main")
        subprocess.run(
            ["git", "-C", str(root), "fast-import", "--quiet"],
            input=self.stream(),
            check=True,
            capture_output=True,
        )
        git(root, "reset", "-q", "--hard", "main")
        return root

    def _at(self, days_ago: float) -> datetime:
        return self.now - timedelta(days=days_ago)


def git(root: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(root), *args], check=True, capture_output=True, text=True
    )
    return result.stdout


def _who(author: str) -> str:
    return author if "<" in author else f"{author} <{author}@acme.dev>"


def _quote(path: str) -> bytes:
    """A path as fast-import reads it (C-style quoted when it needs to be)."""
    raw = path.encode()
    if not any(b in raw for b in (b'"', b"\\", b"\n", b" ")) and not raw.startswith(b'"'):
        return raw
    escaped = raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"').replace(b"\n", b"\\n")
    return b'"' + escaped + b'"'

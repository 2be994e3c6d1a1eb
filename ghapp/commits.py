"""Commits of a local checkout for `ghapp ci`: present or fetched, their parent, what changed.

CI checkouts are shallow (actions/checkout fetches one commit by default), so the base of a pull
request or the parent of a pushed commit is often absent. It is fetched from `origin` by SHA,
one commit deep: ghapp reads trees, never history.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from ghapp.core.errors import GhappError


def ensure_commit(repo: Path, sha: str, what: str) -> None:
    """Make commit `sha` (described as `what`, e.g. "the pull request's base") available,
    fetching it from origin when the checkout lacks it; a clear error when it cannot."""
    if has_commit(repo, sha):
        return
    result = _run(repo, "fetch", "--no-tags", "--quiet", "--depth=1", "origin", sha)
    if result.returncode == 0 and has_commit(repo, sha):
        return
    reason = (result.stderr.strip().splitlines() or ["the commit did not arrive"])[-1]
    raise GhappError(
        f"{what} {sha[:12]} is not in the checkout and cannot be fetched from origin ({reason}); "
        "check out with `fetch-depth: 0`, or keep credentials for `git fetch`"
    )


def has_commit(repo: Path, sha: str) -> bool:
    return _run(repo, "cat-file", "-e", f"{sha}^{{commit}}").returncode == 0


def parent_of(repo: Path, sha: str) -> str | None:
    """The first parent of `sha` (None for a root commit), read from the commit object itself,
    which names its parents even when a shallow checkout does not have them."""
    result = _run(repo, "cat-file", "commit", sha)
    if result.returncode != 0:
        raise GhappError(f"{sha[:12]} is not a commit in {repo}")
    for line in result.stdout.splitlines():
        if not line:
            break  # end of the header
        if line.startswith("parent "):
            return line.split()[1]
    return None


def changed_paths(repo: Path, base: str, head: str) -> list[str]:
    """Paths added, modified, deleted or renamed (both names) between two commits."""
    result = _run(repo, "diff", "--name-only", "--no-renames", "-z", base, head)
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["git diff failed"])[0]
        raise GhappError(f"cannot compare {base[:12]}..{head[:12]}: {reason}")
    return sorted(p for p in result.stdout.split("\0") if p)


def prefix_of(repo: Path) -> str:
    """The directory's path inside its repository ('' at the top), as git diff names paths."""
    result = _run(repo, "rev-parse", "--show-prefix")
    return result.stdout.strip() if result.returncode == 0 else ""


def _run(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", "-C", str(repo), *args],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},  # never wait for a password in CI
        )
    except FileNotFoundError:
        raise GhappError("git is not installed (ghapp ci compares commits with git)") from None

"""Pieces of hostile repositories shared by the hostile-input tests and
benchmarks/hostile_inputs.py: the privileged pod every case keeps beside its hostile file (a
robust check still reports it), padding, reusable workflows that fan out, and the files and
two commits a case is written as."""

from __future__ import annotations

import subprocess
from pathlib import Path

PRIVILEGED_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: tool}
spec:
  containers:
    - name: tool
      image: busybox:1.36
      securityContext: {privileged: true}
"""


def padded(text: str, size: int) -> str:
    """`text` followed by comment lines up to at least `size` bytes."""
    line = "# " + "x" * 78 + "\n"
    return text + line * (size // len(line) + 1)


def fan_out(levels: int, width: int) -> dict[str, str]:
    """Workflows calling a reusable workflow `width` times, `levels` deep: width**levels paths."""
    files = {}
    for level in range(levels):
        on = "[pull_request, workflow_call]" if level == 0 else "workflow_call"
        jobs = "".join(
            f"  j{j}:\n    uses: ./.github/workflows/w{level + 1}.yml\n" for j in range(width)
        )
        files[f".github/workflows/w{level}.yml"] = f"on: {on}\npermissions: {{}}\njobs:\n{jobs}"
    files[f".github/workflows/w{levels}.yml"] = (
        "on: workflow_call\npermissions: {}\njobs:\n  scan:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: gitleaks detect\n"
    )
    return files


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def base_and_head(root: Path, base: dict[str, str], head: dict[str, str]) -> None:
    """A git repository at `root` whose HEAD~1 holds `base` and whose HEAD adds `head`."""
    git(root, "init", "-q", "-b", "main")
    for files, message in ((base, "base"), (head, "head")):
        write(root, files)
        git(root, "add", "-A")
        git(root, "commit", "-qm", message)


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        check=True,
        capture_output=True,
    )

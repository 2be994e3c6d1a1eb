"""Pieces of hostile repositories shared by the hostile-input tests and
benchmarks/hostile_inputs.py: the privileged pod every case keeps beside its hostile file (a
robust check still reports it), padding, reusable workflows that fan out, and the files and
two commits a case is written as; and, for tests/e2e/test_hostile_serve.py and
benchmarks/hostile_serve.py, hostile pull requests on the fake GitHub."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.fakegithub import FakeGitHub, PullRequest
from tests.fakegithub.harness import INSTALLATION_ID

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


PRIVILEGED_DEPLOYMENT = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  template:\n"
    "    spec:\n      containers:\n        - name: api\n          image: ghcr.io/acme/api:1.0.0\n"
    "          securityContext:\n            privileged: true\n"
)  # .format(name=...): the name is where a hostile value goes
DEEP_IF_WORKFLOW = (
    "on: pull_request_target\npermissions: write-all\njobs:\n  build:\n    runs-on: ubuntu-latest\n"
    "    steps:\n      - uses: actions/checkout@v4\n"
    '        with: {ref: "${{ github.event.pull_request.head.sha }}"}\n'
    "      - if: " + "(" * 400 + "github.event_name == 'push'" + ")" * 400 + "\n        run: make\n"
)  # an untrusted checkout, with a step whose `if:` is nested 400 parentheses deep


def alias_bomb_component(levels: int = 9) -> str:
    """A catalog-info.yaml of about 600 bytes whose aliases expand to 9**levels strings."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "apiVersion: backstage.io/v1alpha1\nkind: Component\n" + "\n".join(lines) + "\n"


def pull_adding(fake: FakeGitHub, repo: str, files: dict[str, str | bytes | None]) -> PullRequest:
    """acme/`repo` with a README and an enforced policy on main, and a PR adding `files`."""
    fake.add_repo("acme", repo, INSTALLATION_ID)
    main = {"README.md": "hi\n", ".github/ghapp.yml": "version: 1\n"}
    base = fake.add_commit("acme", repo, main, branch="main")
    fake.add_commit("acme", repo, files, parent=base, branch="evil")
    return fake.open_pull("acme", repo, "evil", title="hostile")

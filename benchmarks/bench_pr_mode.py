"""PR mode against a plain check of the same tree, on a generated 20,000-file git repository.

    .venv/bin/python benchmarks/bench_pr_mode.py [--files 20000] [--repeat 3] [--before REV]

The repository (made in a temporary directory, removed afterwards) looks like a large service
monorepo: source files, 2,000 Kubernetes workload files, other YAML, service manifests,
workflows, a CODEOWNERS of a few hundred rules and a `.github/ghapp.yml`. From its first commit
A, three branches change 10, 500 and half of all files (every tenth change a workload).

Each variant is `ghapp check` as a user runs it, a new process timed from start to exit
(best of `--repeat`): the plain check of a head commit's working tree, and PR mode over a
range (`--base A --head B`), or the working-tree head (`--base A` in that head's checkout).
The ratio divides PR mode by the plain check of the same head tree (target: at most 2x). The
"in-process" columns time the same evaluation inside one interpreter (snapshot, evaluate, JSON
rendering; no interpreter start or catalog load), a stricter ratio.

`--before REV` also times the CLI of another revision of ghapp (a git worktree of this
repository at REV, e.g. the commit before PR mode was made fast) on the same variants.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ghapp.core.evaluate import evaluate  # noqa: E402
from ghapp.render import render_json  # noqa: E402
from ghapp.rules import default_catalog  # noqa: E402
from ghapp.sources import DirectorySnapshot, GitObjects, GitSnapshot  # noqa: E402

TEAMS = [f"@acme/team-{i}" for i in range(40)]
GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}

WORKLOAD = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels: {{app: {name}, rev: "{rev}"}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
        - name: app
          image: registry.example.com/{name}:{tag}
          ports: [{{containerPort: 8080}}]
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
          securityContext:
            runAsNonRoot: true
            allowPrivilegeEscalation: false
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector: {{app: {name}}}
  ports: [{{port: 80, targetPort: 8080}}]
"""
CONFIG_YAML = "settings:\n  level: {rev}\n  feature_flags: [a, b, c]\n  name: {name}\n"
CATALOG = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: {name}
  annotations:
    ghapp.dev/tier: "2"
spec:
  type: service
  owner: group:default/{team}
  lifecycle: production
"""
WORKFLOW = """\
name: ci-{i}
on:
  pull_request:
  push:
    branches: [main]
permissions:
  contents: read
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: make test-{i}
      - uses: github/codeql-action/analyze@v3
"""
POLICY = """\
version: 1
manifests:
  required: [owner, tier]
coverage:
  - categories: [sast]
"""


def tree(n_files: int, rng: random.Random) -> dict[str, str]:
    """Path -> text of the first commit."""
    files: dict[str, str] = {".github/ghapp.yml": POLICY}
    services = [f"svc{i:03d}" for i in range(max(10, n_files // 400))]
    for i in range(20):
        files[f".github/workflows/ci-{i}.yml"] = WORKFLOW.format(i=i)
    for s, name in enumerate(services):
        team = TEAMS[s % len(TEAMS)].split("/")[1]
        files[f"services/{name}/catalog-info.yaml"] = CATALOG.format(name=name, team=team)
    n_workloads = n_files // 10
    for i in range(n_workloads):
        name = f"{services[i % len(services)]}-w{i}"
        path = f"services/{services[i % len(services)]}/deploy/{name}.yaml"
        files[path] = WORKLOAD.format(name=name, rev=0, tag="1.0" if i % 7 else "latest")
    for i in range(n_files // 20):
        path = f"services/{services[i % len(services)]}/config/c{i}.yaml"
        files[path] = CONFIG_YAML.format(rev=0, name=f"c{i}")
    exts = ["go", "py", "ts", "md", "json", "sh"]
    i = 0
    while len(files) < n_files - 1:
        service = services[i % len(services)]
        path = f"services/{service}/src/m{i % 37}/f{i}.{exts[i % len(exts)]}"
        files[path] = f"// file {i}\n" + "x = 1\n" * rng.randint(1, 40)
        i += 1
    rules = ["* @acme/platform"]
    for s, name in enumerate(services):
        rules.append(f"/services/{name}/ {TEAMS[s % len(TEAMS)]}")
        rules.append(f"/services/{name}/deploy/ @acme/sre {TEAMS[s % len(TEAMS)]}")
    rules += ["*.md @acme/docs", "/.github/ @acme/platform"]
    files[".github/CODEOWNERS"] = "\n".join(rules) + "\n"
    return files


def changed(files: dict[str, str], count: int, rev: int, rng: random.Random) -> dict[str, str]:
    """`count` files of `files` rewritten (every tenth a workload when there are enough)."""
    workloads = sorted(p for p in files if "/deploy/" in p)
    others = sorted(p for p in files if "/src/" in p or "/config/" in p)
    picked = rng.sample(workloads, min(len(workloads), count // 10))
    picked += rng.sample(others, min(len(others), count - len(picked)))
    out = {}
    for path in picked:
        if "/deploy/" in path:
            name = Path(path).stem
            out[path] = WORKLOAD.format(name=name, rev=rev, tag="2.0" if rev % 2 else "latest")
        else:
            out[path] = files[path] + f"# change {rev}\n"
    return out


def git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    result = subprocess.run(
        ["git", "-C", str(repo), *args],
        input=stdin,
        capture_output=True,
        check=True,
        env={**os.environ, **GIT_ENV},
    )
    return result.stdout.decode().strip()


def write(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        full = root / path
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_text(text)


def commit_on(repo: Path, base: str, branch: str, files: dict[str, str], message: str) -> str:
    git(repo, "checkout", "-q", "-B", branch, base)
    write(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD")


@dataclass(frozen=True)
class Variant:
    name: str
    head: str  # commit whose tree the plain check reads
    args: tuple[str, ...]  # after `ghapp check DIR`
    working_tree: bool = False  # PR mode reads the checkout of `head` as the head


def build_repository(root: Path, n_files: int) -> tuple[Path, list[Variant], dict[str, Path]]:
    """The generated repository, the variants, and a checkout per head commit."""
    rng = random.Random(20_000)
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    first = tree(n_files, rng)
    write(repo, first)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "A")
    a = git(repo, "rev-parse", "HEAD")
    heads = {"A": a}
    for label, count in (("B10", 10), ("B500", 500), ("Bhalf", n_files // 2)):
        heads[label] = commit_on(repo, a, label, changed(first, count, len(heads), rng), label)
    git(repo, "checkout", "-q", "main")
    checkouts = {}
    for label, sha in heads.items():
        checkouts[sha] = root / f"checkout-{label}"
        git(repo, "worktree", "add", "-q", "--detach", str(checkouts[sha]), sha)
    half = n_files // 2
    variants = [
        Variant("base == head (A..A)", a, ("--base", a, "--head", a)),
        Variant("10 files (A..B10)", heads["B10"], ("--base", a, "--head", heads["B10"])),
        Variant("500 files (A..B500)", heads["B500"], ("--base", a, "--head", heads["B500"])),
        Variant(
            f"{half} files (A..Bhalf)", heads["Bhalf"], ("--base", a, "--head", heads["Bhalf"])
        ),
        Variant(f"{half} files, working tree head", heads["Bhalf"], ("--base", a), True),
    ]
    return repo, variants, checkouts


def best_of(repeat: int, fn: Callable[[], Any]) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def cli_seconds(
    python: list[str], env: dict[str, str], directory: Path, args: tuple[str, ...], repeat: int
) -> float:
    """Wall time of `ghapp check DIR ARGS --format json` as a new process (output discarded)."""
    command = [*python, "-m", "ghapp", "check", str(directory), *args, "--format", "json"]

    def run() -> None:
        # Not from this checkout: `python -m` puts the working directory first on sys.path,
        # ahead of PYTHONPATH, and `--before` must import the other revision.
        result = subprocess.run(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            cwd=directory,
            check=False,
        )
        if result.returncode not in (0, 1):
            raise RuntimeError(f"{' '.join(command)}: {result.stderr.decode()[-500:]}")

    return best_of(repeat, run)


def in_process_seconds(repo: Path, checkout: Path, variant: Variant | None, repeat: int) -> float:
    """The same evaluation in this process: snapshots, evaluate, JSON (no start-up)."""
    catalog = default_catalog()

    def run() -> None:
        if variant is None:
            head: Any = DirectorySnapshot(checkout)
            base = None
        else:
            objects = GitObjects(repo)
            refs = dict(zip(variant.args[::2], variant.args[1::2], strict=True))
            base = GitSnapshot(repo, refs["--base"], objects)
            head = (
                DirectorySnapshot(checkout)
                if variant.working_tree
                else GitSnapshot(repo, refs["--head"], objects)
            )
        report = evaluate(head, base=base, catalog=catalog, today=date(2026, 1, 1))
        render_json(report)
        if variant is not None:
            objects.close()

    return best_of(repeat, run)


def ghapp_at(revision: str, root: Path) -> tuple[list[str], dict[str, str]]:
    """A command and environment that run the ghapp of `revision` (a worktree of this repo)."""
    where = root / f"ghapp-{revision[:12]}"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(where), revision],
        check=True,
        capture_output=True,
    )
    return [sys.executable], {**os.environ, "PYTHONPATH": str(where)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--before", metavar="REV", help="also time the ghapp of this revision")
    parser.add_argument("--before-repeat", type=int, default=1)
    args = parser.parse_args()
    if not 1_000 <= args.files <= 200_000:
        parser.error("--files must be between 1000 and 200000")
    root = Path(tempfile.mkdtemp(prefix="bench-pr-mode-"))
    before_tree: Path | None = None
    try:
        began = time.perf_counter()
        repo, variants, checkouts = build_repository(root, args.files)
        n = len(git(repo, "ls-files").splitlines())
        print(
            f"bench_pr_mode: generated {n} files, 4 commits in {time.perf_counter() - began:.0f} s"
            f"; best of {args.repeat} (before: {args.before_repeat}); python "
            f"{sys.version.split()[0]}, {os.cpu_count()} CPUs\n"
        )
        now = ([sys.executable], {**os.environ, "PYTHONPATH": str(ROOT)})
        then = None
        if args.before:
            then = ghapp_at(args.before, root)
            before_tree = Path(then[1]["PYTHONPATH"])
        plain: dict[str, tuple[float, float, float | None]] = {}
        for sha, checkout in checkouts.items():
            if any(v.head == sha for v in variants):
                cli = cli_seconds(*now, checkout, (), args.repeat)
                inproc = in_process_seconds(repo, checkout, None, args.repeat)
                old = cli_seconds(*then, checkout, (), args.before_repeat) if then else None
                plain[sha] = (cli, inproc, old)
        header = (
            "| variant | plain check s | PR mode s | PR / plain | in-process plain s "
            "| in-process PR s | PR / plain |"
        )
        rule = "|---|---:|---:|---:|---:|---:|---:|"
        if then:
            header += " before: plain s | before: PR mode s | before: PR / plain | PR speed-up |"
            rule += "---:|---:|---:|---:|"
        print(header)
        print(rule)
        worst = 0.0
        for variant in variants:
            checkout = checkouts[variant.head]
            directory = checkout if variant.working_tree else repo
            cli = cli_seconds(*now, directory, variant.args, args.repeat)
            inproc = in_process_seconds(repo, checkout, variant, args.repeat)
            p_cli, p_in, p_old = plain[variant.head]
            worst = max(worst, cli / p_cli)
            row = (
                f"| {variant.name} | {p_cli:.2f} | {cli:.2f} | {cli / p_cli:.2f}x "
                f"| {p_in:.2f} | {inproc:.2f} | {inproc / p_in:.2f}x |"
            )
            if then and p_old is not None:
                old = cli_seconds(*then, directory, variant.args, args.before_repeat)
                row += f" {p_old:.2f} | {old:.2f} | {old / p_old:.1f}x | {old / cli:.0f}x |"
            print(row, flush=True)
        verdict = "met" if worst <= 2.0 else "NOT met"
        print(f"\nworst PR / plain (new process each): {worst:.2f}x; target <= 2x: {verdict}")
    finally:
        if before_tree is not None:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(before_tree)],
                capture_output=True,
                check=False,
            )
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark: `ghapp owners --suggest` on a generated 20,000-file, 50,000-commit repository.

    .venv/bin/python benchmarks/bench_suggest.py [--files 20000] [--commits 50000] [--keep DIR]

The repository is written with one `git fast-import` (tests/gitrepos.py): 100 services of
10 modules, 20 teams of 5 people owning 5 services each (plus an umbrella team of everyone),
CODEOWNERS for half of the services and a deliberately ownerless line, manifests in some
services; commits spread over the last 400 days, 80% by the owning team, 3% by bots, one in 100
on a branch merged back. Then, each in its own process, best of `--repeat`:

- `git log --numstat` over the window alone: the floor (the history ghapp has to read);
- `ghapp owners --format json` (no suggestions): resolving every file, the baseline;
- `ghapp owners --suggest --format json`: every file answered, unowned ones with suggestions.

Reported: wall and CPU time (the machine may be shared: CPU time is the steadier figure), peak
RSS of ghapp's own process and of git, and the ratios of --suggest to the two others, all
measured in this run.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.gitrepos import History  # noqa: E402

SERVICES, MODULES = 100, 10
TEAMS, MEMBERS = 20, 5
BOTS = ("dependabot[bot] <49699333+dependabot[bot]@users.noreply.github.com>",)
# Runs one command in a fresh process: `ghapp ...` in-process (so the Python process's own
# peak is told apart from git's), anything else as a child. Prints seconds, own and child peaks.
MEASURE = """
import contextlib, io, resource, subprocess, sys, time
start = time.perf_counter()
if sys.argv[1] == "ghapp":
    from ghapp.cli import main
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(sys.argv[2:])
else:
    code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
seconds = time.perf_counter() - start
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
print(seconds, cpu, me.ru_maxrss, kids.ru_maxrss, code)
"""


def generate(root: Path, files: int, commits: int, seed: int = 7) -> dict[str, object]:
    """Write the repository and its --directory file; what was generated."""
    rng = random.Random(seed)
    per_module = max(1, files // (SERVICES * MODULES))
    paths = [
        f"services/svc{s:03d}/mod{m}/file{f:03d}.py"
        for s in range(SERVICES)
        for m in range(MODULES)
        for f in range(per_module)
    ]
    teams = {f"@acme/team{t:02d}": [f"dev{t:02d}{i}" for i in range(MEMBERS)] for t in range(TEAMS)}
    people = [m for ms in teams.values() for m in ms]
    owned_by = {s: f"@acme/team{s * TEAMS // SERVICES:02d}" for s in range(SERVICES)}
    codeowners = [f"/services/svc{s:03d}/ {owned_by[s]}" for s in range(0, SERVICES, 2)]
    codeowners.append("/services/svc001/mod9/")  # deliberately unowned
    manifests = {
        f"services/svc{s:03d}/catalog-info.yaml": "apiVersion: backstage.io/v1alpha1\n"
        f"kind: Component\nmetadata:\n  name: svc{s:03d}\n"
        f"spec:\n  type: service\n  owner: group:{owned_by[s].split('/')[1]}\n"
        for s in range(1, SERVICES, 10)
    }
    history = History(now=datetime.now(UTC).replace(microsecond=0))
    first: dict[str, str | bytes | None] = {p: "v0\n" for p in paths}
    first.update(manifests)
    first[".github/CODEOWNERS"] = "\n".join(codeowners) + "\n"
    history.commit("founder", first, days_ago=420, message="import")
    for n in range(commits - 1):
        version = n + 1
        days_ago = 400 * (1 - n / commits) + rng.random()
        service = rng.randrange(SERVICES)
        if rng.random() < 0.03:
            author = BOTS[0]
        elif rng.random() < 0.8:
            author = rng.choice(teams[owned_by[service]])
        else:
            author = rng.choice(people)
        touched = {
            f"services/svc{service:03d}/mod{rng.randrange(MODULES)}/file{rng.randrange(per_module):03d}.py": (
                f"v{version}\n" * rng.randint(1, 6)
            )
            for _ in range(rng.randint(1, 4))
        }
        if n % 100 == 99:
            history.commit(author, touched, days_ago=days_ago, branch="feature")
            history.merge(rng.choice(people), "feature", days_ago=days_ago)
        else:
            history.commit(author, touched, days_ago=days_ago)
    history.create(root)
    directory = {
        "teams": {
            **{t: {"members": ms} for t, ms in teams.items()},
            "@acme/engineering": {"members": people},
        },
        "emails": {f"{p}@acme.dev": p for p in people},
    }
    (root.parent / "directory.json").write_text(json.dumps(directory))
    return {"files": len(paths) + len(manifests) + 1, "commits": len(history.commits)}


def measure(argv: list[str], repeat: int) -> tuple[float, float, int, int]:
    """Best wall time and CPU time (s, the process and its children), and the largest peak RSS
    (KiB) of the process itself and of its children (git), over `repeat` fresh processes."""
    wall, cpu, own, child = float("inf"), float("inf"), 0, 0
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, "-c", MEASURE, *argv], capture_output=True, text=True, check=False
        )
        out = done.stdout.split()
        if done.returncode != 0 or len(out) != 5 or out[4] != "0":
            raise SystemExit(f"{' '.join(argv[:4])} failed: {done.stderr[-500:]}")
        wall, cpu = min(wall, float(out[0])), min(cpu, float(out[1]))
        own, child = max(own, int(out[2])), max(child, int(out[3]))
    return wall, cpu, own, child


def argv_is_ghapp(argv: list[str]) -> bool:
    return argv[0] == "ghapp"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--commits", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="write the repository here and keep it")
    parser.add_argument("--generate-into", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.generate_into:
        print(json.dumps(generate(args.generate_into, args.files, args.commits)))
        return
    work = Path(tempfile.mkdtemp(prefix="bench-suggest-"))
    root = (args.keep or work) / "repo"
    try:
        start = time.perf_counter()
        # In a process of its own: a forked child inherits its parent's peak RSS on Linux, so
        # the measured processes must come from one that never held the generated history.
        made = json.loads(
            subprocess.run(
                [sys.executable, __file__, "--generate-into", str(root),
                 "--files", str(args.files), "--commits", str(args.commits)],
                capture_output=True, text=True, check=True,
            ).stdout
        )  # fmt: skip
        print(
            f"generated {made['files']:,} files, {made['commits']:,} commits "
            f"in {time.perf_counter() - start:.1f} s ({root})"
        )
        ghapp = ["ghapp"]  # run in-process by MEASURE
        directory = str(root.parent / "directory.json")
        since = "--since=365 days ago"
        runs = {
            "git log --numstat (floor)": [
                "git", "-C", str(root), "log", "--no-merges", "--no-renames", "--numstat",
                "-z", since, "HEAD",
            ],
            "ghapp owners (no --suggest)": [*ghapp, "owners", "--repo", str(root), "--format",
                                            "json"],
            "ghapp owners --suggest": [*ghapp, "owners", "--repo", str(root), "--suggest",
                                       "--directory", directory, "--format", "json"],
        }  # fmt: skip
        results = {name: measure(argv, args.repeat) for name, argv in runs.items()}
        print(
            f"\n{'':32}{'wall (s)':>10}{'CPU (s)':>10}{'peak RSS (MiB)':>16}{'git peak (MiB)':>16}"
        )
        for name, (wall, cpu, own, child) in results.items():
            mine = f"{own / 1024:.0f}" if argv_is_ghapp(runs[name]) else "-"
            print(f"{name:32}{wall:>10.2f}{cpu:>10.2f}{mine:>16}{child / 1024:>16.0f}")
        floor, plain, suggest = (results[n] for n in runs)
        print(
            f"\n--suggest / git log alone: {suggest[0] / floor[0]:.1f}x wall, "
            f"{suggest[1] / floor[1]:.1f}x CPU    --suggest / owners without it: "
            f"{suggest[0] / plain[0]:.1f}x wall, {suggest[1] / plain[1]:.1f}x CPU"
        )
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

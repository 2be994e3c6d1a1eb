"""Hostile inputs through `ghapp check`: time, peak memory and outcome of each, with a timeout.

Each case builds a small repository in a temporary directory (a git repository with a base and a
head commit where the case needs a change) holding one hostile file beside a privileged
Kubernetes pod (`k8s/privileged`, an error) and an enforcing `.github/ghapp.yml`, then runs
`python -m ghapp check` in a child process under a wall-clock timeout and an address-space cap.
A robust ghapp reports the hostile file as a finding, still reports the privileged pod, exits
1 (policy failure) or 2 (input error, one line) and never prints a traceback.

`--before DIR` runs the same cases against another source tree (e.g. `git archive main` unpacked
in DIR) in the same run and prints both side by side with time ratios.

Usage: .venv/bin/python benchmarks/hostile_inputs.py [--before DIR] [--timeout 30] [--only NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.hostile import PRIVILEGED_POD, base_and_head, fan_out, padded, write  # noqa: E402

MEMORY_CAP = 3 * 1024**3  # bytes of address space a child may map before MemoryError

POLICY = "enforce: true\n"
DANGEROUS_WORKFLOW = """\
name: build
on: pull_request_target
permissions: write-all
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with: {ref: "${{ github.event.pull_request.head.sha }}"}
      - run: make test
"""
BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(8)
)  # nine levels of nine: 387,420,489 strings from about 600 bytes


def stars(n: int) -> str:
    return "*a" * n + "*b"


def nested_parens(depth: int) -> str:
    return "(" * depth + "github.event_name == 'push'" + ")" * depth


@dataclass(frozen=True)
class Case:
    name: str
    what: str
    base: dict[str, str]  # files of the base commit (empty: no git, check the directory)
    head: dict[str, str]  # files added on top for the head (or the directory's files)
    args: tuple[str, ...] = ()


def _workflow_with_paths(pattern: str) -> str:
    return (
        "on:\n  pull_request:\n    paths: ['" + pattern + "']\npermissions: {}\n"
        "jobs:\n  scan:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: gitleaks/gitleaks-action@v2\n"
    )


def _with_run(script: str) -> str:
    return DANGEROUS_WORKFLOW + f"      - run: {script}\n"


def _workflow_with_paths_list(count: int) -> str:
    patterns = "".join(f"      - 'dir{i}/**/*.py'\n" for i in range(count))
    return _workflow_with_paths("x").replace("    paths: ['x']\n", "    paths:\n" + patterns)


def _suppressed_pods(count: int) -> str:
    containers = "".join(
        f"    - {{name: c{i}, image: 'a:1', securityContext: {{privileged: true}}}}"
        "  # ghapp: ignore[k8s/privileged] lab\n"
        for i in range(count)
    )
    return "apiVersion: v1\nkind: Pod\nmetadata: {name: many}\nspec:\n  containers:\n" + containers


def _make_step(target: str) -> str:
    return (
        "on: pull_request\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        f"    steps:\n      - run: make {target}\n"
    )


def _make_bomb() -> str:
    lines = ["V0 = lol lol lol lol lol lol lol lol lol lol"]
    lines += [f"V{i} = " + " ".join([f"$(V{i - 1})"] * 10) for i in range(1, 12)]
    return "\n".join([*lines, "", "scan: $(V11)", "\tgitleaks detect", ""])


def _makefan_out() -> str:
    lines = []
    for level in range(8):
        for j in range(20):
            prerequisites = " ".join(f"t{level + 1}_{k}" for k in range(20)) if level < 7 else ""
            lines += [f"t{level}_{j}: {prerequisites}", "\techo hi"]
    return "\n".join(lines) + "\n"


COMMON = {".github/ghapp.yml": POLICY, "deploy/pod.yaml": PRIVILEGED_POD}

CASES: tuple[Case, ...] = (
    Case(
        "filter-glob-20-stars",
        "workflow `paths:` filter *a*a…*b (20 stars), 200-char changed file name",
        {**COMMON, ".github/workflows/scan.yml": _workflow_with_paths(stars(20))},
        {"a" * 200: "x\n"},
    ),
    Case(
        "config-glob-20-stars",
        "policy `owners.require: [*a*a…*b]` (20 stars), 200-char file name",
        {},
        {
            **COMMON,
            ".github/ghapp.yml": f"enforce: true\nowners:\n  require: ['{stars(20)}']\n",
            "CODEOWNERS": "/deploy/ @acme/platform\n",
            "a" * 200: "x\n",
        },
    ),
    Case(
        "workflow-3mb",
        "dangerous workflow padded with comments to 3 MB",
        {},
        {**COMMON, ".github/workflows/build.yml": padded(DANGEROUS_WORKFLOW, 3_000_000)},
    ),
    Case(
        "workflow-30mb",
        "dangerous workflow padded to 30 MB (over the read limit)",
        {},
        {**COMMON, ".github/workflows/build.yml": padded(DANGEROUS_WORKFLOW, 30_000_000)},
    ),
    Case(
        "policy-50mb",
        "enforcing policy padded to 50 MB",
        {},
        {**COMMON, ".github/ghapp.yml": padded(POLICY, 50_000_000)},
    ),
    Case(
        "k8s-3mb",
        "privileged pod padded to 3 MB",
        {},
        {**COMMON, "deploy/big.yaml": padded(PRIVILEGED_POD, 3_000_000)},
    ),
    Case(
        "invalid-date",
        "workflow `name: 2026-02-30` (unquoted, not a date)",
        {},
        {**COMMON, ".github/workflows/x.yml": "name: 2026-02-30\n" + DANGEROUS_WORKFLOW[12:]},
    ),
    Case(
        "huge-int",
        "manifest with a 5,000-digit integer",
        {},
        {
            **COMMON,
            "catalog-info.yaml": "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
            f"metadata: {{name: svc}}\nspec: {{owner: group:a, tier: {'9' * 5000}}}\n",
        },
    ),
    Case(
        "alias-bomb-workflow",
        "0.6 KB alias bomb as a workflow's branch filter",
        {},
        {
            **COMMON,
            ".github/workflows/x.yml": BOMB
            + DANGEROUS_WORKFLOW.replace(
                "on: pull_request_target", "on:\n  pull_request_target:\n    branches: *i"
            ),
        },
    ),
    Case(
        "alias-bomb-policy",
        "0.6 KB alias bomb in the policy",
        {},
        {**COMMON, ".github/ghapp.yml": BOMB + "enforce: true\nignore: *i\n"},
    ),
    Case(
        "alias-bomb-manifest",
        "0.6 KB alias bomb as a manifest's owner",
        {},
        {
            **COMMON,
            "catalog-info.yaml": BOMB + "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
            "metadata: {name: svc}\nspec: {owner: *i}\n",
        },
    ),
    Case(
        "alias-bomb-directory",
        "0.6 KB alias bomb as the --directory file",
        {},
        {**COMMON, "dir.yml": BOMB + "users: *i\n"},
        ("--directory", "{dir}/dir.yml"),
    ),
    Case(
        "if-400-parens",
        "`if:` with 400 nested parentheses",
        {},
        {
            **COMMON,
            ".github/workflows/x.yml": DANGEROUS_WORKFLOW.replace(
                "      - run: make test", f"      - if: {nested_parens(400)}\n        run: make"
            ),
        },
    ),
    Case(
        "deep-yaml-manifest",
        "manifest nested 100,000 flow sequences deep",
        {},
        {**COMMON, "catalog-info.yaml": "metadata: " + "[" * 100_000 + "]" * 100_000 + "\n"},
    ),
    Case(
        "deep-json-directory",
        "--directory JSON nested 100,000 arrays deep",
        {},
        {**COMMON, "dir.json": '{"users": ' + "[" * 100_000 + "]" * 100_000 + "}"},
        ("--directory", "{dir}/dir.json"),
    ),
    Case(
        "unclosed-expressions",
        "`run:` of 300,000 unclosed `${{`",
        {},
        {**COMMON, ".github/workflows/x.yml": _with_run("echo " + "${{" * 300_000)},
    ),
    Case(
        "long-command",
        "`run:` of one 1.5 MB command",
        {},
        {**COMMON, ".github/workflows/x.yml": _with_run("echo " + "x" * 1_500_000)},
    ),
    Case(
        "spaced-suppression",
        "suppression comment with 1,000,000 spaces before more text",
        {},
        {
            **COMMON,
            "deploy/pod.yaml": PRIVILEGED_POD.replace(
                "{privileged: true}", "{privileged: true}  # ghapp: ignore[x] a" + " " * 10**6 + "b"
            ),
        },
    ),
    Case(
        "reusable-fan-out",
        "7 workflows of 20 jobs each calling the next: 20**6 paths",
        {},
        {**COMMON, **fan_out(levels=6, width=20)},
    ),
    Case(
        "many-suppressions",
        "6,000 privileged containers, each with a suppression comment",
        {},
        {**COMMON, "deploy/many.yaml": _suppressed_pods(6000)},
    ),
    Case(
        "unclosed-quote",
        "`run:` of an unclosed quote with 100,000 escaped quotes",
        {},
        {**COMMON, ".github/workflows/x.yml": _with_run('echo "' + 'a \\" ' * 100_000)},
    ),
    Case(
        "make-variable-bomb",
        "Makefile V11 = ten V10s = ... (10**11 words), run by `make scan`",
        {},
        {**COMMON, "Makefile": _make_bomb(), ".github/workflows/a.yml": _make_step("scan")},
    ),
    Case(
        "make-target-fan-out",
        "Makefile targets of 20 prerequisites, 8 levels, run by `make t0_0`",
        {},
        {**COMMON, "Makefile": _makefan_out(), ".github/workflows/a.yml": _make_step("t0_0")},
    ),
    Case(
        "huge-filter-list",
        "`paths:` of 60,000 patterns, 3,000 changed files",
        {**COMMON, ".github/workflows/scan.yml": _workflow_with_paths_list(60_000)},
        {f"src/f{i}.txt": "x\n" for i in range(3000)},
    ),
)


@dataclass(frozen=True)
class Outcome:
    seconds: float
    peak_mb: float
    status: str  # exit code, "timeout" or a signal
    summary: str


def build(case: Case, where: Path) -> list[str]:
    """Write the case's repository; the `ghapp check` arguments that evaluate it."""
    args = [str(where)]
    if case.base:
        base_and_head(where, case.base, case.head)
        args += ["--base", "HEAD~1", "--head", "HEAD"]
    else:
        write(where, case.head)
    args += [a.replace("{dir}", str(where)) for a in case.args]
    return [*args, "--format", "json", "--today", "2026-01-15"]


# Every child caps its own address space and reports its peak resident memory (VmHWM: the high
# water mark of its own memory since exec) in the file named by $HOSTILE_PEAK when it exits; a
# child killed at the timeout is measured by polling the same figure while it runs.
PRELUDE = """\
import atexit, os, resource, sys
cap = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
def _peak():
    with open("/proc/self/status") as status, open(os.environ["HOSTILE_PEAK"], "w") as out:
        out.write(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
atexit.register(_peak)
"""
LAUNCH = (
    PRELUDE
    + """\
import runpy
sys.argv = ["ghapp", *sys.argv[2:]]
runpy.run_module("ghapp", run_name="__main__", alter_sys=True)
"""
)
# One core operation, timed inside the child (no start-up): prints seconds and outcome.
CORE = (
    PRELUDE
    + """\
import time
exec(sys.argv[2])
start = time.perf_counter()
try:
    outcome = repr(eval(sys.argv[3]))
except BaseException as exc:
    outcome = f"{type(exc).__name__}: {exc}"
print(f"{time.perf_counter() - start}\\t{' '.join(outcome.split())[:90]}")
"""
)
BOMB_EXPR = "BOMB + 'x: *i\\n'"
CORE_CASES: tuple[tuple[str, str, str], ...] = (
    (
        "filter_matches, *a…*b (20 stars) vs 200 a's",
        "from ghapp.core.workflows.parsing import filter_matches",
        "filter_matches(['*a' * 20 + '*b'], 'a' * 200)",
    ),
    (
        "glob_match, *a…*b (20 stars) vs 200 a's",
        "from ghapp.core.globs import glob_match",
        "glob_match('*a' * 20 + '*b', 'a' * 200)",
    ),
    (
        "load_documents(alias bomb), then str()",
        f"from ghapp.core.yamlnodes import load_documents\nBOMB = {BOMB!r}",
        f"len(str(load_documents({BOMB_EXPR})))",
    ),
    (
        "load_documents('name: 2026-02-30')",
        "from ghapp.core.yamlnodes import load_documents",
        "load_documents('name: 2026-02-30')",
    ),
    (
        "load_documents(5,000-digit integer)",
        "from ghapp.core.yamlnodes import load_documents",
        "len(str(load_documents('n: ' + '9' * 5000)))",
    ),
    (
        "may_run(400 nested parentheses)",
        "from ghapp.core.workflows.expressions import may_run",
        "may_run('(' * 400 + \"github.event_name == 'push'\" + ')' * 400, 'pull_request')",
    ),
)


def run(source: Path, args: list[str], timeout: float) -> Outcome:
    """`ghapp check ARGS` with `source` first on the path; wall time and peak RSS."""
    return _child(source, ["-c", LAUNCH, str(MEMORY_CAP), "check", *args], timeout, _summarise)


def run_core(source: Path, setup: str, expr: str, timeout: float) -> Outcome:
    """Time `expr` after `setup` in a child with `source` first on the path."""
    outcome = _child(source, ["-c", CORE, str(MEMORY_CAP), setup, expr], timeout, _core_outcome)
    seconds, _, summary = outcome.summary.partition("\t")
    if not summary:
        return outcome
    return Outcome(float(seconds), outcome.peak_mb, outcome.status, summary)


def _child(
    source: Path, argv: list[str], timeout: float, summarise: Callable[[str, str, str], str]
) -> Outcome:
    with tempfile.TemporaryDirectory() as tmp:
        peak_file = Path(tmp) / "peak"
        env = {**os.environ, "PYTHONPATH": str(source), "HOSTILE_PEAK": str(peak_file)}
        out, err = Path(tmp) / "out", Path(tmp) / "err"
        with out.open("wb") as stdout, err.open("wb") as stderr:
            start = time.perf_counter()
            # cwd too: `python -c` puts the working directory first on the path.
            child = subprocess.Popen(
                [sys.executable, *argv], stdout=stdout, stderr=stderr, env=env, cwd=source
            )
            status, polled = _wait(child, timeout)
            seconds = time.perf_counter() - start
        peak = int(peak_file.read_text()) if peak_file.exists() else polled
        summary = summarise(status, out.read_text(errors="replace"), err.read_text())
    return Outcome(seconds, peak / 1024, status, summary)


def vm_hwm(pid: int | str) -> int:
    """Peak resident memory of a process since it started its program, in KiB (0 if gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _core_outcome(status: str, out: str, err: str) -> str:
    if status == "timeout":
        return "no answer in the time limit"
    return out.strip() or f"TRACEBACK {(err.strip().splitlines() or [''])[-1][:90]}"


def _wait(child: subprocess.Popen[bytes], timeout: float) -> tuple[str, int]:
    """Exit status (or "timeout") and the peak memory seen while polling, in KiB."""
    deadline = time.monotonic() + timeout
    peak = 0
    while child.poll() is None:
        peak = max(peak, vm_hwm(child.pid))
        if time.monotonic() > deadline:
            child.kill()
            child.wait()
            return "timeout", peak
        time.sleep(0.02)
    code = child.returncode
    return (str(code) if code >= 0 else f"signal {-code}"), peak


def _summarise(status: str, out: str, err: str) -> str:
    if status == "timeout":
        return f"no answer in the time limit{' (traceback)' if 'Traceback' in err else ''}"
    if "Traceback" in err:
        last = err.strip().splitlines()[-1]
        return f"TRACEBACK {last[:90]}"
    if err.strip() and not out.strip():
        return err.strip().splitlines()[-1][:100]
    try:
        report = json.loads(out)
    except ValueError:
        return f"unreadable output {out[:60]!r}"
    errors = sorted({f["rule"] for f in report["findings"] if f["severity"] == "error"})
    kept = "privileged pod reported" if "k8s/privileged" in errors else "PRIVILEGED POD MISSING"
    others = [r for r in errors if r != "k8s/privileged"]
    return f"{report['conclusion']}; {kept}; errors: {', '.join(others) or 'none'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="another ghapp source tree to compare with")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per run")
    parser.add_argument("--only", action="append", help="run only the named case(s)")
    opts = parser.parse_args()
    sources: list[tuple[str, Path]] = [("after", ROOT)]
    if opts.before:
        sources.insert(0, ("before", opts.before.resolve()))
    cases = [c for c in CASES if not opts.only or c.name in opts.only]
    print(f"timeout {opts.timeout:.0f} s, address space capped at {MEMORY_CAP // 1024**3} GB\n")
    print("Core operations (timed inside the process, no start-up):")
    for what, setup, expr in CORE_CASES if not opts.only else ():
        results = [(label, run_core(src, setup, expr, opts.timeout)) for label, src in sources]
        _show(what, results)
    print("`ghapp check` on a repository holding the hostile file (wall time with start-up):")
    for case in cases:
        with tempfile.TemporaryDirectory() as tmp:
            args = build(case, Path(tmp))
            results = [(label, run(src, args, opts.timeout)) for label, src in sources]
        _show(f"{case.name}: {case.what}", results)


def _show(what: str, results: list[tuple[str, Outcome]]) -> None:
    print(f"  {what}")
    for label, r in results:
        print(
            f"    {label:6} {_seconds(r.seconds):>10} {r.peak_mb:7.0f} MB  exit {r.status:8} "
            f"{r.summary}"
        )
    if len(results) == 2:
        ratio = results[0][1].seconds / max(results[1][1].seconds, 1e-9)
        print(f"    time before/after: {ratio:,.1f}x")
    print()


def _seconds(value: float) -> str:
    return f"{value * 1e6:.0f} µs" if value < 0.01 else f"{value:.2f} s"


if __name__ == "__main__":
    main()

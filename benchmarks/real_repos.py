"""Real repositories: ghapp's findings and coverage beside zizmor's, as one markdown report.

    .venv/bin/python benchmarks/real_repos.py REPO_DIR [REPO_DIR ...] [--zizmor PATH]
        [--repeat N] [--sample N]

For each checked-out repository: its file count, `ghapp check DIR --format json` wall time
(median of --repeat runs, process start included), errors / warnings / notices and the most
frequent rules, what each scan category's coverage says (configured / on pull requests /
blocking, with the tools), and `zizmor --offline --format json DIR/.github/workflows` timed in
the same loop, runs interleaved. The second table compares, per rule the two tools share, how
many findings each raises on the workflows (ghapp's counted under `.github/workflows/` only, as
zizmor is given nothing else; waived ones apart). zizmor comes from --zizmor, else PATH; when there is none, the
zizmor columns say so and the rest is still produced. --sample N lists N findings per
repository, spread over the rules, for a reader to check against the files.

The repositories are only read; nothing of them is written anywhere.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CATEGORIES = ("sast", "secrets", "sca", "container", "iac")
# shared rule (zizmor's audit name) -> the ghapp rules that raise the same risk
SHARED: dict[str, tuple[str, ...]] = {
    "unpinned-uses": ("workflow/unpinned-action", "workflow/unpinned-github-action"),
    "excessive-permissions": (
        "workflow/excessive-permissions",
        "workflow/missing-permissions",
        "workflow/write-all-permissions",
    ),
    "artipacked": ("workflow/persist-credentials",),
    "cache-poisoning": ("workflow/cache-poisoning",),
    "dangerous-triggers": ("workflow/dangerous-trigger",),
    "template-injection": ("workflow/script-injection",),
    "github-env": ("workflow/github-env",),
}


def ghapp_command() -> list[str]:
    here = ROOT / ".venv" / "bin" / "ghapp"
    found = str(here) if here.exists() else shutil.which("ghapp")
    return [found] if found else [sys.executable, "-m", "ghapp"]


def timed(argv: Sequence[str]) -> tuple[float, str, int]:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    return time.perf_counter() - start, proc.stdout, proc.returncode


def file_count(repo: Path) -> int:
    proc = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "-z"], capture_output=True, check=False
    )
    if proc.returncode == 0:
        return proc.stdout.count(b"\0")
    return sum(1 for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts)


def zizmor_counts(output: str) -> Counter[str]:
    try:
        results = json.loads(output or "[]")
    except json.JSONDecodeError:
        return Counter()
    return Counter(str(r.get("ident")) for r in results if not r.get("ignored"))


def measure(repo: Path, zizmor: str | None, repeat: int) -> dict[str, Any]:
    ghapp_times: list[float] = []
    zizmor_times: list[float] = []
    report: dict[str, Any] = {}
    zz: Counter[str] | None = None
    workflows = repo / ".github" / "workflows"
    for _ in range(repeat):
        seconds, out, _ = timed([*ghapp_command(), "check", str(repo), "--format", "json"])
        ghapp_times.append(seconds)
        report = json.loads(out)
        if zizmor and workflows.is_dir():
            seconds, out, _ = timed([zizmor, "--offline", "--format", "json", str(workflows)])
            zizmor_times.append(seconds)
            zz = zizmor_counts(out)
    return {
        "name": repo.name,
        "files": file_count(repo),
        "ghapp_s": statistics.median(ghapp_times),
        "zizmor_s": statistics.median(zizmor_times) if zizmor_times else None,
        "report": report,
        "zizmor": zz,
    }


def coverage_cell(cov: dict[str, Any]) -> str:
    if not cov.get("configured"):
        return "no"
    marks = "/".join(
        "yes" if cov.get(k) else "no" for k in ("configured", "on_pull_request", "blocking")
    )
    return f"{marks} ({', '.join(cov.get('tools', []))})"


def summary_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    head = "| repo | files | ghapp s | zizmor s | errors/warnings/notices (waived) | top rules | "
    head += " | ".join(CATEGORIES) + " |"
    out = [head, "|" + "---|" * (6 + len(CATEGORIES))]
    for row in rows:
        everything = row["report"].get("findings", [])
        findings = [f for f in everything if not f.get("waived")]
        sev = Counter(f["severity"] for f in findings)
        top = Counter(f["rule"] for f in findings).most_common(3)
        waived = len(everything) - len(findings)
        cov = row["report"].get("coverage", {})
        zs = "n/a" if row["zizmor_s"] is None else f"{row['zizmor_s']:.2f}"
        cells = [
            row["name"],
            str(row["files"]),
            f"{row['ghapp_s']:.2f}",
            zs,
            f"{sev['error']}/{sev['warning']}/{sev['notice']} ({waived})",
            ", ".join(f"{rule.split('/', 1)[1]} {n}" for rule, n in top) or "-",
            *(coverage_cell(cov.get(c, {})) for c in CATEGORIES),
        ]
        out.append("| " + " | ".join(cells) + " |")
    return out


def shared_table(rows: Sequence[dict[str, Any]]) -> list[str]:
    out = [
        "| repo | " + " | ".join(SHARED) + " |",
        "|---|" + "---|" * len(SHARED),
    ]
    for row in rows:
        mine = Counter(
            (f["rule"], bool(f.get("waived")))
            for f in row["report"].get("findings", [])
            if (f["path"] or "").startswith(".github/workflows/")
        )
        cells = [row["name"]]
        for audit, rules in SHARED.items():
            ours = sum(mine[(r, False)] for r in rules)
            waived = sum(mine[(r, True)] for r in rules)
            theirs = "-" if row["zizmor"] is None else str(row["zizmor"][audit])
            cells.append(f"{ours}{f' (+{waived} waived)' if waived else ''} / {theirs}")
        out.append("| " + " | ".join(cells) + " |")
    return out


def sample(report: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """Up to n findings, round-robin over rules so that every rule is seen."""
    by_rule: dict[str, list[dict[str, Any]]] = {}
    for f in report.get("findings", []):
        by_rule.setdefault(f["rule"], []).append(f)
    picked: list[dict[str, Any]] = []
    while len(picked) < n and any(by_rule.values()):
        for rule in sorted(by_rule):
            if by_rule[rule] and len(picked) < n:
                picked.append(by_rule[rule].pop(0))
    return picked


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("repos", nargs="+", type=Path)
    parser.add_argument("--zizmor", help="zizmor executable (default: from PATH)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sample", type=int, default=0, help="findings to list per repo")
    args = parser.parse_args(argv)
    zizmor = args.zizmor or shutil.which("zizmor")
    if zizmor is None:
        print("note: zizmor not found (--zizmor PATH or on PATH): zizmor columns are n/a\n")
    rows = [measure(repo.resolve(), zizmor, max(1, args.repeat)) for repo in args.repos]
    print("\n".join(summary_table(rows)))
    print(
        "\nghapp / zizmor findings per shared rule (ghapp: under .github/workflows/; waived ones,"
        " which the repository accepted in its zizmor config or comments, apart: zizmor hides"
        " its ignored ones)\n"
    )
    print("\n".join(shared_table(rows)))
    for row in rows:
        for note in row["report"].get("notes", []):
            if note.startswith("Not reported"):
                print(f"\n{row['name']}: {note}")
    if args.sample:
        for row in rows:
            print(f"\n### {row['name']}: findings to verify\n")
            for f in sample(row["report"], args.sample):
                print(f"- {f['rule']} {f['path']}:{f['line']}: {f['message'][:160]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

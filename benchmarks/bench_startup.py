"""Benchmark: start-up as pre-commit and CI pay it, ghapp against zizmor in the same run.

    .venv/bin/python benchmarks/bench_startup.py [--repeat N] [--installs]

1. Whole processes, interleaved and repeated (median and best): `ghapp --version` against
   `zizmor --version`, and `ghapp check` of a directory holding 10 workflows (the first 10 of
   ../shared/fixtures/workflows, or 10 generated ones) against `zizmor --offline` on the same
   directory. zizmor is the peer: taken from PATH or this environment, else installed into a
   throwaway virtual environment (never a project dependency); without it only ghapp is timed.
2. Import time per command (`python -X importtime`, the sum of top-level imports).
3. With --installs: the light install (`pip install .`) and the app (`pip install '.[server]'`)
   into fresh virtual environments; their size on disk and `ghapp --version` / `ghapp check`
   time from each.

ghapp runs with compiled bytecode, as from an installed wheel (`PYTHONDONTWRITEBYTECODE` is
dropped for the runs and the package compiled first).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures" / "workflows"
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
WORKFLOW = """\
name: ci {i}
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
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - run: pip install -e . && pytest -q
      - uses: github/codeql-action/init@v3
      - uses: github/codeql-action/analyze@v3
"""


def workflows_repo(into: Path) -> Path:
    target = into / "repo" / ".github" / "workflows"
    target.mkdir(parents=True)
    sources = sorted(FIXTURES.glob("*.y*ml"))[:10] if FIXTURES.is_dir() else []
    if len(sources) == 10:
        for source in sources:
            shutil.copy(source, target / source.name)
    else:
        for i in range(10):
            (target / f"ci{i}.yml").write_text(WORKFLOW.format(i=i))
    return into / "repo"


def find_zizmor(scratch: Path) -> Path | None:
    found = shutil.which("zizmor") or shutil.which("zizmor", path=str(Path(sys.executable).parent))
    if found:
        return Path(found)
    venv = scratch / "zizmor-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    installed = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "zizmor"], capture_output=True
    )
    exe = venv / "bin" / "zizmor"
    return exe if installed.returncode == 0 and exe.exists() else None


def timed(argv: Sequence[str | Path]) -> float:
    start = time.perf_counter()
    subprocess.run(
        [str(a) for a in argv],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return time.perf_counter() - start


def compare(pairs: dict[str, list[list[str | Path]]], repeat: int) -> dict[str, list[float]]:
    """Run every command `repeat` times, interleaved so load drifts hit all alike."""
    samples: dict[str, list[float]] = {name: [] for name in pairs}
    for argv_list in pairs.values():  # warm-up: page cache, first-run costs
        for argv in argv_list:
            timed(argv)
    for _ in range(repeat):
        for name, argv_list in pairs.items():
            samples[name].append(sum(timed(argv) for argv in argv_list))
    return samples


def import_ms(python: Path, argv: Sequence[str]) -> float:
    code = f"from ghapp.cli import main\ntry:\n    main({list(argv)!r})\nexcept SystemExit:\n    pass\n"
    result = subprocess.run(
        [str(python), "-X", "importtime", "-c", code],
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    total = 0
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.split("|")
        if not name.startswith("  "):  # a top-level import (nested ones are indented)
            total += int(cumulative)
    return total / 1000


def site_packages_mb(venv: Path) -> float:
    """What the install added: site-packages without pip and setuptools, which every venv has."""
    (site,) = venv.glob("lib/python*/site-packages")
    bundled = ("pip", "setuptools", "_distutils_hack", "pkg_resources", "distutils-precedence")
    size = sum(
        f.stat().st_size
        for f in site.rglob("*")
        if f.is_file() and not f.relative_to(site).parts[0].startswith(bundled)
    )
    return size / 1e6


def row(name: str, values: list[float], peer: list[float] | None = None) -> str:
    median, best = statistics.median(values), min(values)
    ratio = f"{median / statistics.median(peer):.2f}x" if peer else ""
    return f"| {name} | {median * 1000:.0f} | {best * 1000:.0f} | {ratio} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--installs", action="store_true", help="also measure fresh installs")
    args = parser.parse_args()

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "ghapp")], env=ENV)
    ghapp = Path(sys.executable).with_name("ghapp")
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        repo = workflows_repo(scratch)
        zizmor = find_zizmor(scratch)
        pairs: dict[str, list[list[str | Path]]] = {
            "ghapp --version": [[ghapp, "--version"]],
            "ghapp check (10 workflows)": [[ghapp, "check", repo, "--quiet", "--fail-on", "never"]],
        }
        if zizmor is not None:
            pairs["zizmor --version"] = [[zizmor, "--version"]]
            pairs["zizmor --offline (10 workflows)"] = [[zizmor, "--offline", repo]]
        samples = compare(pairs, args.repeat)
        version = subprocess.run([str(zizmor), "--version"], capture_output=True, text=True).stdout
        print(
            f"## Start-up, {args.repeat} interleaved runs each (peer: {version.strip() or 'none'})\n"
        )
        print("| command | median ms | best ms | ratio to zizmor (median) |\n|---|---|---|---|")
        zv, zc = samples.get("zizmor --version"), samples.get("zizmor --offline (10 workflows)")
        print(row("ghapp --version", samples["ghapp --version"], zv))
        print(row("ghapp check (10 workflows)", samples["ghapp check (10 workflows)"], zc))
        if zv and zc:
            print(row("zizmor --version", zv))
            print(row("zizmor --offline (10 workflows)", zc))
        else:
            print("\nzizmor could not be found or installed: ghapp timed alone.")

        print("\n## Import time per command (ms, top-level imports)\n")
        print("| command | imports ms |\n|---|---|")
        for argv in (["--version"], ["check", str(repo), "--quiet"], ["serve", "--help"]):
            print(f"| ghapp {' '.join(argv[:1])} | {import_ms(Path(sys.executable), argv):.0f} |")

        if args.installs:
            print("\n## Fresh installs\n")
            print(
                "| install | MB added | imports of `check` ms | `ghapp --version` ms | `ghapp check` ms |"
            )
            print("|---|---|---|---|---|")
            for label, spec in (("pip install .", "."), ("pip install '.[server]'", ".[server]")):
                venv = scratch / label.replace(" ", "_").replace("'", "")
                subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
                subprocess.run(
                    [str(venv / "bin" / "pip"), "install", "--quiet", spec],
                    cwd=ROOT,
                    check=True,
                    capture_output=True,
                )
                exe = venv / "bin" / "ghapp"
                check = [exe, "check", repo, "--quiet", "--fail-on", "never"]
                times = compare({"v": [[exe, "--version"]], "c": [check]}, args.repeat)
                print(
                    f"| `{label}` | {site_packages_mb(venv):.1f} | "
                    f"{import_ms(venv / 'bin' / 'python', ['check', str(repo), '--quiet']):.0f} | "
                    f"{statistics.median(times['v']) * 1000:.0f} | "
                    f"{statistics.median(times['c']) * 1000:.0f} |"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`ghapp report`: one compliance row per service of several local repositories.

Each repository is evaluated as `ghapp check DIR` would (its own `.github/ghapp.yml` layered over
`--org-config`), in parallel processes; the rows come from `ghapp.core.compliance`, the formats
from `ghapp.render.compliance`. A progress bar goes to stderr when it is a terminal. Exit status:
0 when the report is written (non-compliant services are its content, not an error), 2 for a
usage error or when a repository could not be evaluated (it is listed under `errors`, and the
others are still reported).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ghapp.cli import UsageError
from ghapp.cli.check import add_policy_options, policy_inputs

if TYPE_CHECKING:
    from ghapp.core.compliance import ServiceRow

FORMATS = ("table", "csv", "json", "markdown", "html")
Outcome = tuple[str, "list[ServiceRow] | str"]  # repository, its rows or why it failed
_REMOTE = re.compile(r"[:/]([^/:]+)/([^/]+?)(?:\.git)?/?$")


def add_command(sub: Any) -> None:
    p = sub.add_parser(
        "report",
        help="compliance report: one row per service of several repositories",
        description="Evaluate each local repository under its own policy and report, per "
        "service, its owner, service record, CODEOWNERS validity, scan coverage, findings and "
        "whether it is compliant (no unwaived error).",
    )
    p.add_argument("dirs", nargs="+", metavar="DIR", help="repository directories")
    add_policy_options(p)
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("-o", "--output", type=Path, help="write the report here instead of stdout")
    p.add_argument(
        "-j",
        "--jobs",
        type=int,
        help="repositories evaluated at once, each in its own process (default: CPUs)",
    )
    p.set_defaults(run=run_report)


def run_report(args: argparse.Namespace) -> int:
    from ghapp.core.compliance import ComplianceReport, RepositoryError

    roots = [Path(d) for d in args.dirs]
    for root in roots:
        if not root.is_dir():
            raise UsageError(f"{root}: no such directory")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    inputs = policy_inputs(args)
    outcomes = evaluate_all(roots, inputs, args.jobs or os.cpu_count() or 1, sys.stderr)
    rows: list[ServiceRow] = []
    errors = []
    for repository, result in outcomes:
        if isinstance(result, str):
            errors.append(RepositoryError(repository, result))
        else:
            rows.extend(result)
    report = ComplianceReport(
        generated_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        services=tuple(sorted(rows, key=lambda r: (r.repository, r.path, r.service))),
        errors=tuple(errors),
    )
    write_output(render(report, args.format), args.output)
    for error in errors:
        print(f"ghapp: {error.repository}: not evaluated: {error.error}", file=sys.stderr)
    return 2 if errors else 0


def render(report: Any, fmt: str) -> str:
    from ghapp.render import compliance

    if fmt == "json":
        return compliance.render_json(report)
    if fmt == "csv":
        return compliance.render_csv(report.services)
    if fmt == "markdown":
        return compliance.render_markdown(report)
    if fmt == "html":
        return compliance.render_html(report)
    return compliance.render_table(report)


def write_output(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8", newline="")
    except OSError as exc:
        raise UsageError(f"{output}: cannot write: {exc.strerror or exc}") from None


def evaluate_all(
    roots: list[Path], inputs: dict[str, Any], jobs: int, progress_stream: IO[str]
) -> list[Outcome]:
    """Every repository's outcome, in the order given; `jobs` processes at once."""
    bar = ProgressBar(len(roots), progress_stream)
    outcomes: list[Outcome | None] = [None] * len(roots)
    try:
        if jobs == 1 or len(roots) == 1:
            for i, root in enumerate(roots):
                outcomes[i] = evaluate_repository(str(root), **inputs)
                bar.advance(outcomes[i][0])  # type: ignore[index]
        else:
            workers = min(jobs, len(roots))
            with ProcessPoolExecutor(max_workers=workers, mp_context=_context()) as pool:
                futures: dict[Future[Outcome], int] = {
                    pool.submit(evaluate_repository, str(root), **inputs): i
                    for i, root in enumerate(roots)
                }
                for future in as_completed(futures):
                    i = futures[future]
                    try:
                        outcomes[i] = future.result()
                    except Exception as exc:  # the process died (memory, a signal)
                        outcomes[i] = (repository_name(roots[i]), _reason(exc))
                    bar.advance(outcomes[i][0])  # type: ignore[index]
    finally:
        bar.close()
    return [o for o in outcomes if o is not None]


def _context() -> multiprocessing.context.BaseContext:
    # Fresh processes from a server, not forks of this one: a fork of a process with threads
    # (a test runner, an embedding program) can deadlock.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def evaluate_repository(
    root: str,
    *,
    today: date,
    org_config: str | None,
    repo_config: str | None,
    directory: Any,
) -> Outcome:
    """(repository, its service rows) or (repository, why it could not be evaluated); runs in
    a worker process, so its arguments and result pickle."""
    from ghapp.core.compliance import service_rows
    from ghapp.core.evaluate import evaluate
    from ghapp.rules import default_catalog
    from ghapp.sources import DirectorySnapshot

    name = repository_name(Path(root))
    try:
        report = evaluate(
            DirectorySnapshot(root),
            catalog=default_catalog(),
            today=today,
            org_config=org_config,
            repo_config=repo_config,
            directory=directory,
        )
    except Exception as exc:  # one repository's failure must not lose the others' rows
        return name, _reason(exc)
    return name, list(service_rows(name, report))


def repository_name(root: Path) -> str:
    """`owner/name` from the `origin` remote of a git checkout, else the directory's name."""
    resolved = root.resolve()
    try:
        url = subprocess.run(
            ["git", "-C", str(resolved), "config", "--get", "remote.origin.url"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        url = ""
    match = _REMOTE.search(url) if _is_network_remote(url) else None
    return f"{match[1]}/{match[2]}" if match else resolved.name


def _is_network_remote(url: str) -> bool:
    """A remote on a server (`https://host/…`, `ssh://…`, `git@host:…`), not a path on this
    machine (`/srv/git/shop`, `../shop`, `file:///…`), whose last parts name no repository."""
    if "://" in url:
        return not url.startswith("file://")
    head = url.split("/", 1)[0]
    return ":" in head and not url.startswith((".", "~"))


def _reason(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else 'no message'}"


class ProgressBar:
    """`[#####-----] 12/500 acme/shop` on one line of a terminal; silent when not a TTY."""

    def __init__(self, total: int, stream: IO[str]) -> None:
        self.total = total
        self.done = 0
        self.stream = stream
        self.enabled = total > 1 and _isatty(stream)

    def advance(self, label: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        width = shutil.get_terminal_size((80, 24)).columns
        filled = 20 * self.done // self.total
        from ghapp.render.escape import terminal

        bar = f"[{'#' * filled}{'-' * (20 - filled)}]"
        line = f"{bar} {self.done}/{self.total} {terminal(label)}"
        self.stream.write("\r" + line[: width - 1].ljust(width - 1))
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.done:
            width = shutil.get_terminal_size((80, 24)).columns
            self.stream.write("\r" + " " * (width - 1) + "\r")
            self.stream.flush()


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False

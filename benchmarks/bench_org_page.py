"""`/orgs/{org}` render time from the database for 20,000 services, against the peer: building
the same page from the stored reports (what the dashboard would do without its own tables).

The database is SQLite (a temp file): `--repos` repositories (default 2,000) of `--services`
services each (default 10), each saved through `EvaluationStore.save` as a default-branch
evaluation, so its report is stored (with 100 files and a few findings per service) and its
dashboard rows are written exactly as the app writes them; plus 90 days of snapshots. Timed
(median of `--runs`, in this process, after one warm-up):

- the page: `page_context` (queries, filters, counts, one page of rows) and the Jinja2 render,
  unfiltered and filtered by a team;
- the CSV export of every service;
- the peer: read every repository's latest default-branch report, parse it
  (`report_from_json`), cut it into rows (`service_rows`), then count and render as above.

Usage: .venv/bin/python benchmarks/bench_org_page.py [--repos 2000] [--services 10] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ghapp.app.checkrun import KIND_BRANCH, EvaluationRecord  # noqa: E402
from ghapp.core.compliance import service_rows  # noqa: E402
from ghapp.core.model import (  # noqa: E402
    CategoryCoverage,
    FileOwners,
    Finding,
    Report,
    Service,
    ServiceCoverage,
)
from ghapp.render.compliance import render_csv  # noqa: E402
from ghapp.store.service import Store  # noqa: E402
from ghapp.web.dashboard import Filters, page_context  # noqa: E402
from ghapp.web.templating import environment  # noqa: E402

TEAMS = ("payments", "web", "platform", "search", "data", "mobile", "identity", "growth")
RULES = ("k8s/privileged", "manifest/missing-oncall", "scan/missing-sca", "k8s/run-as-root")
TODAY = date(2025, 6, 1)


def report_of(repo: int, services: int) -> Report:
    """A repository's report: `services` services, their coverage, findings and files."""
    made, findings, files, coverage = [], [], [], []
    blocks = CategoryCoverage(True, True, True, ("codeql",))
    for n in range(services):
        name = f"svc-{repo:05d}-{n}"
        team = TEAMS[(repo + n) % len(TEAMS)]
        made.append(
            Service(
                name,
                f"services/{name}",
                f"services/{name}/catalog-info.yaml",
                owner=f"@acme/{team}",
                tier=str(1 + (repo + n) % 3),
                data=(("pci",), ("pii",), (), ("phi", "pii"))[(repo + n) % 4],
                oncall=(f"pagerduty:P{repo}{n}",) if (repo + n) % 5 else (),
                lifecycle="production",
                lines=(("owner", 9),),
            )
        )
        coverage.append(ServiceCoverage(name, {"sast": blocks, "secrets": blocks}))
        for k in range((repo + n) % 4):
            rule = RULES[(repo + n + k) % len(RULES)]
            severity = "error" if k % 2 == 0 else "warning"
            path = f"services/{name}/k8s/deployment.yaml"
            findings.append(Finding(rule, severity, f"{rule} in {name}", path=path, service=name))
        files += [
            FileOwners(f"services/{name}/src/f{k}.py", (f"@acme/{team}",), 2, "/services/", name)
            for k in range(100 // services)
        ]
    return Report(
        "failure",
        tuple(findings),
        services=tuple(made),
        files=tuple(files),
        service_coverage=tuple(coverage),
        codeowners_path=".github/CODEOWNERS",
    )


def seed(store: Store, repos: int, services: int) -> None:
    evaluations = store.evaluations
    start = datetime(2025, 6, 1, tzinfo=UTC)
    for i in range(repos):
        report = report_of(i, services)
        evaluations.save(
            EvaluationRecord(
                repository=f"acme/repo-{i:05d}",
                head_sha=f"{i:040x}",
                kind=KIND_BRANCH,
                evaluated_at=start,
                conclusion=report.conclusion,
                title="t",
                report=report.to_json(),
                ref="main",
                default_branch=True,
            )
        )
    for back in range(90, 0, -1):
        day = (TODAY - timedelta(days=back)).isoformat()
        evaluations.compliance.take_snapshot("acme", day, start.timestamp())


def timed(action: Callable[[], Any], runs: int) -> tuple[float, Any]:
    """Median seconds of `runs` calls after a warm-up, and the last result."""
    result = action()
    seconds = []
    for _ in range(runs):
        began = time.perf_counter()
        result = action()
        seconds.append(time.perf_counter() - began)
    return statistics.median(seconds), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repos", type=int, default=2000)
    parser.add_argument("--services", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{tmp}/bench.db")
        began = time.perf_counter()
        seed(store, args.repos, args.services)
        seeded = time.perf_counter() - began
        compliance = store.evaluations.compliance
        template = environment().get_template("dashboard.html")

        def page(filters: Filters) -> str:
            context = page_context(compliance, "acme", filters, 1, TODAY)
            return template.render(**context, user="octocat")

        def export() -> str:
            return render_csv(compliance.rows([e.id for e in compliance.entries("acme")]))

        def peer() -> int:
            rows = []
            for stored in store.evaluations.latest_default_branch():
                report = stored.report
                if report is not None:
                    rows += service_rows(stored.record.repository, report)
            return len(rows)

        total = len(compliance.entries("acme"))
        page_s, html = timed(lambda: page(Filters()), args.runs)
        team_s, _ = timed(lambda: page(Filters(owner="@acme/payments")), args.runs)
        csv_s, csv_text = timed(export, args.runs)
        peer_rows_s, peer_total = timed(peer, max(1, args.runs // 2))
        peer_s = peer_rows_s + page_s  # rows from reports, then the same counting and render
        db = Path(tmp, "bench.db").stat().st_size
    print(
        f"{args.repos} repositories x {args.services} services = {total} services "
        f"(peer read {peer_total}); seeded in {seeded:.1f}s; database {db / 1e6:.0f} MB"
    )
    print("\n| what | median | vs page |")
    print("|---|---:|---:|")
    print(f"| /orgs/acme page (context + render), all services | {page_s * 1000:.0f} ms | 1.00x |")
    print(f"| /orgs/acme?owner=@acme/payments | {team_s * 1000:.0f} ms | {team_s / page_s:.2f}x |")
    print(f"| services.csv, all {total} rows | {csv_s * 1000:.0f} ms | {csv_s / page_s:.2f}x |")
    print(f"| peer: page from stored reports | {peer_s * 1000:.0f} ms | {peer_s / page_s:.2f}x |")
    print(
        f"\npage HTML {len(html) / 1024:.0f} KiB; CSV {len(csv_text) / 1e6:.1f} MB; "
        f"target: page under 1 s -> {'met' if page_s < 1 else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

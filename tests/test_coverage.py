"""The coverage model (configured / on PRs / blocking per category, with tools, sources and
signals) and the `scan/…` findings a coverage policy produces for services."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from ghapp.core.context import Context
from ghapp.core.model import CATEGORIES, Service, Source
from ghapp.core.policy.policy import CoverageRequirement, Policy
from ghapp.core.snapshot import DictSnapshot
from ghapp.core.workflows.coverage import check_coverage, compute_coverage
from ghapp.core.workflows.hygiene import check_workflows
from ghapp.rules import default_catalog

PR = "on:\n  pull_request:\n  push:\n    branches: [main]\n"


def context(
    files: dict[str, str], policy: Policy | None = None, services: tuple[Service, ...] = ()
) -> Context:
    return Context(
        DictSnapshot(files),
        default_catalog(),
        policy or Policy(),
        date(2026, 1, 1),
        services=services,
    )


def workflow(on: str, steps: str, job: str = "") -> str:
    return f"{on}jobs:\n  scan:\n    runs-on: ubuntu-latest\n{job}    steps:\n{steps}"


def coverage_of(text: str, paths: list[str] | None = None, extra: dict[str, str] | None = None):
    files = {".github/workflows/scan.yml": text, **(extra or {})}
    return compute_coverage(context(files), paths)


def flags(cov, category: str) -> tuple[bool, bool, bool]:
    c = cov[category]
    return (c.configured, c.on_pull_request, c.blocking)


GITLEAKS = "      - uses: gitleaks/gitleaks-action@v2\n"


@pytest.mark.parametrize(
    ("case", "on", "steps", "job", "expected"),
    [
        ("blocking on PRs", PR, GITLEAKS, "", (True, True, True)),
        ("configured but push only", "on: push\n", GITLEAKS, "", (True, False, True)),
        (
            "schedule only",
            "on:\n  schedule:\n    - cron: '0 0 * * *'\n",
            GITLEAKS,
            "",
            (True, False, True),
        ),
        (
            "step continue-on-error",
            PR,
            GITLEAKS + "        continue-on-error: true\n",
            "",
            (True, True, False),
        ),
        (
            "job continue-on-error",
            PR,
            GITLEAKS,
            "    continue-on-error: true\n",
            (True, True, False),
        ),
        (
            "expression continue-on-error",
            PR,
            GITLEAKS + "        continue-on-error: ${{ matrix.x }}\n",
            "",
            (True, True, False),
        ),
        ("|| true", PR, "      - run: gitleaks detect || true\n", "", (True, True, False)),
        (
            "step guarded off PRs",
            PR,
            GITLEAKS + "        if: github.event_name != 'pull_request'\n",
            "",
            (True, False, True),
        ),
        (
            "job guarded off PRs",
            PR,
            GITLEAKS,
            "    if: ${{ github.event_name == 'push' }}\n",
            (True, False, True),
        ),
        (
            "pull_request closed only",
            "on:\n  pull_request:\n    types: [closed]\n",
            GITLEAKS,
            "",
            (True, False, True),
        ),
        ("pull_request_target", "on: pull_request_target\n", GITLEAKS, "", (True, True, True)),
        (
            "installing is not scanning",
            PR,
            "      - run: brew install gitleaks\n",
            "",
            (False, False, False),
        ),
    ],
)
def test_secrets_coverage_table(case: str, on: str, steps: str, job: str, expected: tuple) -> None:
    assert flags(coverage_of(workflow(on, steps, job)), "secrets") == expected, case


def test_all_five_categories_are_always_present() -> None:
    cov = compute_coverage(context({}))
    assert list(cov) == list(CATEGORIES)
    assert all(not c.configured and not c.signals for c in cov.values())


def test_sarif_upload_alone_covers_nothing() -> None:
    steps = "      - uses: github/codeql-action/upload-sarif@v3\n        with:\n          sarif_file: x.sarif\n"
    cov = coverage_of(workflow(PR, steps))
    assert not any(c.configured for c in cov.values())


@pytest.mark.parametrize(
    ("paths", "on_pr"),
    [
        (None, True),
        (["k8s/deploy.yaml"], True),
        (["src/app.py"], False),
        (["src/app.py", "k8s/svc.yaml"], True),
        ([], False),
    ],
)
def test_pull_request_path_filters_decide_for_the_changed_paths(
    paths: list[str] | None, on_pr: bool
) -> None:
    on = "on:\n  pull_request:\n    paths: ['k8s/**']\n"
    cov = coverage_of(workflow(on, "      - run: kube-linter lint k8s\n"), paths)
    assert flags(cov, "iac") == (True, on_pr, True)


def test_paths_ignore() -> None:
    on = "on:\n  pull_request:\n    paths-ignore: ['docs/**']\n"
    text = workflow(on, "      - uses: actions/dependency-review-action@v4\n")
    assert coverage_of(text, ["docs/a.md"])["sca"].on_pull_request is False
    assert coverage_of(text, ["docs/a.md", "go.mod"])["sca"].on_pull_request is True


def test_local_reusable_workflow_runs_with_the_callers_triggers() -> None:
    caller = "on: pull_request\njobs:\n  security:\n    uses: ./.github/workflows/reusable.yml\n"
    callee = workflow(
        "on: workflow_call\n", "      - uses: actions/checkout@v4\n      - run: semgrep ci\n"
    )
    cov = compute_coverage(
        context({".github/workflows/ci.yml": caller, ".github/workflows/reusable.yml": callee})
    )
    assert flags(cov, "sast") == (True, True, True)
    assert cov["sast"].tools == ("semgrep",)
    assert cov["sast"].sources == (Source(".github/workflows/reusable.yml", 7),)


def test_reusable_workflow_cycle_terminates() -> None:
    a = "on: pull_request\njobs:\n  x:\n    uses: ./.github/workflows/b.yml\n"
    b = "on: workflow_call\njobs:\n  y:\n    uses: ./.github/workflows/a.yml\n  z:\n    steps:\n      - run: tfsec .\n"
    cov = compute_coverage(context({".github/workflows/a.yml": a, ".github/workflows/b.yml": b}))
    assert flags(cov, "iac") == (True, True, True)


def test_remote_reusable_workflow_is_matched_by_name() -> None:
    text = (
        "on: [pull_request]\njobs:\n  osv:\n"
        "    uses: google/osv-scanner-action/.github/workflows/osv-scanner-reusable-pr.yml@v2\n"
    )
    cov = coverage_of(text)
    assert flags(cov, "sca") == (True, True, True)
    assert cov["sca"].sources == (Source(".github/workflows/scan.yml", 4),)


def test_sources_point_at_the_command_line_inside_a_run_block() -> None:
    steps = "      - name: scans\n        run: |\n          npm ci\n          npm audit --audit-level=high\n"
    cov = coverage_of(workflow(PR, steps))
    assert cov["sca"].sources == (Source(".github/workflows/scan.yml", 12),)


def test_one_step_can_cover_several_categories_and_tools_are_listed() -> None:
    steps = "      - uses: aquasecurity/trivy-action@0.28.0\n        with:\n          scan-type: fs\n          exit-code: 1\n"
    cov = coverage_of(workflow(PR, steps))
    assert flags(cov, "sca") == flags(cov, "secrets") == (True, True, True)
    assert cov["sca"].tools == ("trivy",)


def test_repository_signals_are_reported_but_do_not_count_as_scans() -> None:
    files = {
        ".github/dependabot.yml": "version: 2\nupdates: []\n",
        "renovate.json": "{}",
        "sonar-project.properties": "sonar.projectKey=x\n",
        ".pre-commit-config.yaml": (
            "repos:\n  - repo: https://github.com/gitleaks/gitleaks\n    rev: v8\n    hooks:\n"
            "      - id: gitleaks\n  - repo: https://github.com/Yelp/detect-secrets\n    rev: v1\n"
            "    hooks:\n      - id: detect-secrets\n"
        ),
    }
    cov = compute_coverage(context(files))
    assert cov["sca"].signals == (Source(".github/dependabot.yml", 1), Source("renovate.json", 1))
    assert cov["sast"].signals == (Source("sonar-project.properties", 1),)
    assert cov["secrets"].signals == (
        Source(".pre-commit-config.yaml", 5),
        Source(".pre-commit-config.yaml", 9),
    )
    assert not any(c.configured or c.on_pull_request for c in cov.values())


def test_broken_pre_commit_config_is_ignored() -> None:
    cov = compute_coverage(context({".pre-commit-config.yaml": "repos: [\n"}))
    assert cov["secrets"].signals == ()


# --- policy findings ------------------------------------------------------------------------

PAYMENTS = Service(
    name="payments", path="services/payments", manifest="services/payments/catalog-info.yaml",
    tier="1", data=("pci",), lines=(("tier", 7), ("data", 8)),
)  # fmt: skip
DOCS = Service(name="docs", path="docs", manifest="docs/catalog-info.yaml", tier="3")
POLICY = Policy(
    configured=True,
    coverage=(
        CoverageRequirement(categories=("sast", "secrets", "sca"), tiers=("1",)),
        CoverageRequirement(
            categories=("container",), data=("phi", "pci"), when_files=("Dockerfile",)
        ),
        CoverageRequirement(
            categories=("iac",), data=("phi", "pci"), when_files=("*.tf", "k8s/**")
        ),
    ),
)
REPO = {
    "services/payments/catalog-info.yaml": "x",
    "services/payments/Dockerfile": "FROM x",
    "services/payments/app.py": "",
    "docs/catalog-info.yaml": "x",
    "docs/index.md": "",
}


def findings_for(
    workflows: dict[str, str], policy: Policy = POLICY, services=(PAYMENTS, DOCS), repo=REPO
):
    ctx = context({**repo, **workflows}, policy, services)
    return sorted(check_coverage(ctx), key=lambda f: f.rule)


def test_no_policy_means_no_scan_findings() -> None:
    assert list(check_coverage(context(REPO, Policy(), (PAYMENTS,)))) == []


def test_missing_categories_are_findings_on_the_service_manifest() -> None:
    found = findings_for({})
    assert [f.rule for f in found] == [
        "scan/missing-container", "scan/missing-sast", "scan/missing-sca", "scan/missing-secrets",
    ]  # fmt: skip
    sast = found[1]
    assert (sast.path, sast.line, sast.service, sast.owners) == (
        PAYMENTS.manifest,
        7,
        "payments",
        (),
    )
    assert "configured ✗" in sast.message and "tier 1" in sast.message
    assert sast.fix and "github/codeql-action/analyze@" in sast.fix and "pull_request" in sast.fix
    assert sast.subject == "payments:sast"


def test_requirements_need_matching_files() -> None:
    repo = {**REPO, "services/payments/infra/main.tf": ""}
    rules = {f.rule for f in findings_for({}, repo=repo)}
    assert "scan/missing-iac" in rules
    assert "scan/missing-iac" not in {f.rule for f in findings_for({})}


def test_a_scan_not_on_pull_requests_is_reported_at_the_step() -> None:
    wf = {
        ".github/workflows/sec.yml": workflow(
            PR,
            "      - run: semgrep ci\n      - uses: actions/dependency-review-action@v4\n"
            "      - uses: aquasecurity/trivy-action@0.28.0\n        with:\n          image-ref: app\n"
            "          exit-code: '1'\n",
        ),
        ".github/workflows/leaks.yml": workflow("on: push\n", GITLEAKS),
    }
    (finding,) = findings_for(wf)
    assert finding.rule == "scan/not-on-pull-request"
    assert (finding.path, finding.line, finding.service) == (
        ".github/workflows/leaks.yml",
        6,
        "payments",
    )
    assert "configured ✓ (gitleaks)" in finding.message and "on pull requests ✗" in finding.message
    assert "not pull_request" in finding.message


def test_a_scan_that_cannot_block_is_reported_with_the_reason() -> None:
    wf = {
        ".github/workflows/sec.yml": workflow(
            PR,
            "      - run: semgrep ci || true\n      - uses: actions/dependency-review-action@v4\n"
            + GITLEAKS
            + "      - run: trivy image --exit-code 1 app\n",
        ),
    }
    (finding,) = findings_for(wf)
    assert finding.rule == "scan/not-blocking"
    assert (finding.path, finding.line) == (".github/workflows/sec.yml", 9)
    assert "blocking ✗" in finding.message and "|| true" in finding.message
    assert finding.fix and finding.fix.startswith("Remove `|| true`")


def test_a_tool_soft_by_default_gets_a_configure_fix() -> None:
    wf = {
        ".github/workflows/sec.yml": workflow(
            PR,
            "      - run: semgrep ci\n      - uses: actions/dependency-review-action@v4\n"
            + GITLEAKS
            + "      - uses: aquasecurity/trivy-action@0.28.0\n        with:\n          image-ref: app\n",
        ),
    }
    (finding,) = findings_for(wf)
    assert finding.rule == "scan/not-blocking"
    assert finding.fix and finding.fix.startswith("Configure trivy to fail on findings (exit-code")


def test_path_filtered_scan_must_run_for_the_service_files() -> None:
    on = "on:\n  pull_request:\n    paths: ['docs/**']\n"
    wf = {
        ".github/workflows/sec.yml": workflow(
            PR,
            "      - run: semgrep ci\n      - uses: actions/dependency-review-action@v4\n"
            "      - run: trivy image --exit-code 1 app\n",
        ),
        ".github/workflows/leaks.yml": workflow(on, GITLEAKS),
    }
    (finding,) = findings_for(wf)
    assert finding.rule == "scan/not-on-pull-request"
    assert "path filters exclude" in finding.message


def test_requirement_without_pr_or_blocking_accepts_a_scheduled_soft_scan() -> None:
    policy = Policy(
        configured=True,
        coverage=(CoverageRequirement(("secrets",), on_pull_request=False, blocking=False),),
    )
    wf = {
        ".github/workflows/leaks.yml": workflow(
            "on: push\n", "      - run: gitleaks detect || true\n"
        )
    }
    assert findings_for(wf, policy) == []


def test_without_services_the_repository_is_judged_by_unscoped_requirements() -> None:
    policy = Policy(configured=True, coverage=(
        CoverageRequirement(("secrets",)), CoverageRequirement(("sast",), tiers=("1",)),
    ))  # fmt: skip
    (finding,) = findings_for({}, policy, services=(), repo={"a.py": ""})
    assert (finding.rule, finding.service, finding.path) == ("scan/missing-secrets", None, None)
    assert finding.message.startswith("This repository")


# --- real workflows -------------------------------------------------------------------------


def test_every_real_workflow_is_evaluated_without_crashing(shared_fixtures: Path) -> None:
    files = sorted((shared_fixtures / "workflows").iterdir())
    assert files
    everything: dict[str, str] = {}
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        name = f".github/workflows/{path.name}"
        everything[name] = text
        ctx = context({name: text}, POLICY)
        cov = compute_coverage(ctx)
        assert set(cov) == set(CATEGORIES)
        assert all(s.path == name for c in cov.values() for s in c.sources)
        list(check_coverage(ctx))
        list(check_workflows(ctx))
    together = compute_coverage(context(everything), ["src/a.py"])
    assert all(together[c].configured for c in CATEGORIES)


def test_blocking_is_judged_among_pull_request_scans_when_there_are_any() -> None:
    soft_pr = workflow(PR, "      - run: gitleaks detect || true\n")
    hard_push = workflow("on: push\n", GITLEAKS)
    files = {".github/workflows/a.yml": soft_pr, ".github/workflows/b.yml": hard_push}
    assert flags(compute_coverage(context(files)), "secrets") == (True, True, False)


def test_the_source_is_the_step_that_scans_not_the_set_up_before_it() -> None:
    steps = (
        "      - uses: aquasecurity/setup-trivy@v0.2.0\n"  # line 9
        "      - name: cache the database\n"
        "        run: trivy image --download-db-only\n"  # line 11
        "      - run: |\n"
        "          curl -sfL https://example.invalid/install.sh | sh -s -- -b /usr/local/bin\n"
        "          trivy --version\n"
        "          trivy image --exit-code 1 app:1\n"  # line 15
    )
    cov = coverage_of(workflow(PR, steps))
    assert flags(cov, "container") == (True, True, True)
    assert cov["container"].sources == (Source(".github/workflows/scan.yml", 15),)
    assert not cov["secrets"].configured  # an image's secret scan is not repository secret scanning


def test_trivy_scanner_selection_decides_the_category() -> None:
    steps = (
        "      - uses: aquasecurity/trivy-action@0.28.0\n        with:\n          scan-type: fs\n"
        "          scanners: vuln\n          exit-code: '1'\n"
    )
    cov = coverage_of(workflow(PR, steps))
    assert flags(cov, "sca") == (True, True, True)
    assert not cov["secrets"].configured


GOLANGCI_ACTION = (
    "      - uses: golangci/golangci-lint-action@v9\n"
    "        with:\n          working-directory: api\n"
)


@pytest.mark.parametrize(
    ("config_path", "config", "sast"),
    [
        (".golangci.yml", 'version: "2"\nlinters:\n  enable:\n    - gosec\n', True),
        ("api/.golangci.yaml", "linters:\n  enable-all: true\n", True),
        (".golangci.toml", '[linters]\ndefault = "all"\ndisable = ["gosec"]\n', False),
        (".golangci.yml", "linters:\n  enable:\n    - errcheck\n", False),
        ("other/.golangci.yml", "linters:\n  enable: [gosec]\n", False),
    ],
)
def test_golangci_lint_is_a_sast_scan_only_when_its_config_enables_gosec(
    config_path: str, config: str, sast: bool
) -> None:
    cov = coverage_of(workflow(PR, GOLANGCI_ACTION), extra={config_path: config})
    assert flags(cov, "sast") == ((True, True, True) if sast else (False, False, False))


def test_golangci_lint_through_make_reads_the_config_its_command_names() -> None:
    makefile = "lint:\n\tcd api; golangci-lint run --config ../lint/golangci.yml ./...\n"
    cov = coverage_of(
        workflow(PR, "      - run: make lint\n"),
        extra={"Makefile": makefile, "lint/golangci.yml": "linters:\n  enable: [gosec]\n"},
    )
    assert flags(cov, "sast") == (True, True, True)
    assert cov["sast"].sources == (Source("Makefile", 2),)


def test_golangci_lint_with_gosec_on_the_command_line_needs_no_config() -> None:
    cov = coverage_of(workflow(PR, "      - run: golangci-lint run -E gosec ./...\n"))
    assert flags(cov, "sast") == (True, True, True)


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        ("      - uses: fossas/fossa-action@v2\n", (True, True, False)),
        (
            "      - uses: fossas/fossa-action@v2\n        with:\n          run-tests: true\n",
            (True, True, True),
        ),
        ("      - run: fossa analyze && fossa test\n", (True, True, True)),
    ],
)
def test_fossa_is_dependency_scanning_that_blocks_only_when_it_tests(
    step: str, expected: tuple[bool, bool, bool]
) -> None:
    assert flags(coverage_of(workflow(PR, step)), "sca") == expected

"""Scans a workflow runs through `make`, repository scripts and package.json scripts are real
scans: credited to the file and line that runs the tool, with each level's failure semantics."""

from __future__ import annotations

from datetime import date

import pytest

from ghapp.core.context import Context
from ghapp.core.model import Service, Source
from ghapp.core.policy.policy import CoverageRequirement, Policy
from ghapp.core.snapshot import DictSnapshot
from ghapp.core.workflows.coverage import check_coverage, compute_coverage, find_sites
from ghapp.core.workflows.makefiles import expand, read_makefile
from ghapp.rules import default_catalog

PR = "on: pull_request\n"
SCHEDULE = "on:\n  schedule:\n    - cron: '0 0 * * 0'\n  workflow_dispatch: {}\n"


def workflow(run: str, on: str = PR, step: str = "") -> str:
    return (
        f"{on}permissions: {{}}\njobs:\n  scan:\n    runs-on: ubuntu-latest\n    steps:\n"
        f"      - uses: actions/checkout@v4\n      - run: {run}\n{step}"
    )


def context(files: dict[str, str], policy: Policy | None = None, services=()) -> Context:
    return Context(
        DictSnapshot(files), default_catalog(), policy or Policy(), date(2026, 1, 1),
        services=services,
    )  # fmt: skip


def coverage(files: dict[str, str]):
    return compute_coverage(context(files))


def flags(cov, category: str) -> tuple[bool, bool, bool]:
    c = cov[category]
    return (c.configured, c.on_pull_request, c.blocking)


# --- make ---------------------------------------------------------------------------------


def test_workflow_make_target_script_chain_credits_the_script_line() -> None:
    """The argo-cd pattern: workflow -> `make snyk-report` -> hack/snyk-report.sh -> snyk."""
    files = {
        ".github/workflows/snyk.yml": workflow("make snyk-report", SCHEDULE),
        "Makefile": ".PHONY: snyk-report\nsnyk-report:\n\t./hack/snyk-report.sh $(target_branch)\n",
        "hack/snyk-report.sh": (
            "#!/usr/bin/env bash\nset -e\nnpm install snyk --location=global\n"
            "snyk test --all-projects || [ $? == 1 ]\nsnyk container test app:1\n"
            "snyk iac test manifests/install.yaml\n"
        ),
    }
    cov = coverage(files)
    assert flags(cov, "sca") == (True, False, False)
    assert cov["sca"].sources == (Source("hack/snyk-report.sh", 4),)
    assert flags(cov, "container") == (True, False, True)
    assert cov["container"].sources == (Source("hack/snyk-report.sh", 5),)
    assert cov["iac"].tools == ("snyk",)
    (site,) = [s for s in find_sites(context(files)) if "sca" in s.categories]
    assert site.via == (Source(".github/workflows/snyk.yml", 11), Source("Makefile", 3))
    assert site.why_not_blocking == "`|| [ $? == 1 ]` swallows its failure (hack/snyk-report.sh:4)"


def test_scheduled_make_scan_is_not_on_pull_requests_never_missing() -> None:
    files = {
        ".github/workflows/weekly.yml": workflow("make verify-security", SCHEDULE),
        "Makefile": "verify-security:\n\ttrivy fs --scanners vuln --exit-code 1 .\n",
        "app.go": "",
    }
    policy = Policy(configured=True, coverage=(CoverageRequirement(("sca",)),))
    (finding,) = check_coverage(context(files, policy))
    assert finding.rule == "scan/not-on-pull-request"
    assert (finding.path, finding.line) == (".github/workflows/weekly.yml", 11)
    assert "not pull_request" in finding.message
    assert "trivy runs at Makefile:2" in finding.message


def test_prerequisites_sub_makes_variables_and_directory() -> None:
    files = {
        ".github/workflows/ci.yml": workflow("make -C build BUILD_IN_CONTAINER=false check"),
        "build/Makefile": (
            "GOVULNCHECK := $(abspath bin/govulncheck)\n"
            "TRIVY ?= $(shell which trivy)\n"
            "check: lint vulns\n\t@echo done\n"
            "lint:\n\t-golangci-lint run\n"
            "vulns: $(GOVULNCHECK)\n\t$(MAKE) images\n\t$(GOVULNCHECK) ./...\n"
            "images:\n\t$(TRIVY) image --exit-code 1 app:1\n"
            "$(GOVULNCHECK):\n\tgo install golang.org/x/vuln/cmd/govulncheck@latest\n"
        ),
    }
    cov = coverage(files)
    assert cov["sca"].sources == (Source("build/Makefile", 9),)
    assert cov["container"].sources == (Source("build/Makefile", 11),)
    assert flags(cov, "container") == (True, True, True)


def test_make_default_goal_includes_and_ignored_errors() -> None:
    files = {
        ".github/workflows/ci.yml": workflow("make"),
        "Makefile": "include mk/security.mk\n.DEFAULT_GOAL := scan\n",
        "mk/security.mk": "all:\n\techo all\nscan:\n\t-gitleaks detect --source .\n",
    }
    cov = coverage(files)
    assert cov["secrets"].sources == (Source("mk/security.mk", 4),)
    assert flags(cov, "secrets") == (True, True, False)
    (site,) = find_sites(context(files))
    assert site.why_not_blocking == (
        "make ignores its failure (`-` before the recipe line) (mk/security.mk:4)"
    )


def test_a_recipe_line_fails_by_its_last_command() -> None:
    files = {
        ".github/workflows/ci.yml": workflow("make scan"),
        "Makefile": (
            "scan:\n\tgovulncheck ./... ; echo checked\n"
            "\tgovulncheck ./... && R1=$$? || R1=$$?; \\\n"
            '\tif [ "$$R1" -ne 0 ]; then exit 1; fi\n'
        ),
    }
    sites = find_sites(context(files))
    assert [(s.source.line, s.blocking) for s in sites] == [(2, False), (3, True)]
    assert "not the last command of its Makefile recipe line" in (sites[0].why_not_blocking or "")


def test_make_cycles_and_missing_targets_end_quietly() -> None:
    files = {
        ".github/workflows/ci.yml": workflow("make a missing"),
        "Makefile": "a: b\n\t$(MAKE) b\nb: a\n\t$(MAKE) a\n\ttfsec .\n",
    }
    cov = coverage(files)
    assert cov["iac"].sources == (Source("Makefile", 5),)


def test_make_without_a_makefile_or_an_unknown_tool_is_no_scan() -> None:
    assert not coverage({".github/workflows/ci.yml": workflow("make scan")})["sca"].configured
    files = {".github/workflows/ci.yml": workflow("make x"), "Makefile": "x:\n\t$(FOO) fs .\n"}
    assert not any(c.configured for c in coverage(files).values())


def test_make_expansion() -> None:
    variables = {"A": "$(B)/x", "B": "root", "C": "$$HOME", "D": "$(notdir a/b/c)"}
    assert expand("$(A) ${B} $@ $(C) $(D) $(wildcard *.go)", variables, {"@": "t"}) == (
        "root/x root t $HOME c "
    )
    assert expand("$(A)", {"A": "$(A)"}, {}) == ""


def test_makefile_recipes_keep_their_lines_and_continuations() -> None:
    text = (
        "# c\nX = 1\n\nbuild: dep ; echo inline\n\techo a \\\n\t  b\n\n\techo c\nother:\n\techo d\n"
    )
    files = {"Makefile": text}
    mk = read_makefile("Makefile", files.get)
    assert mk is not None and mk.default_goal == "build"
    rule = mk.rules["build"]
    assert rule.prerequisites == ("dep",)
    assert [(r.line, r.text) for r in rule.recipe] == [
        (4, "echo inline"), (5, "echo a \\\n  b"), (8, "echo c"),
    ]  # fmt: skip


# --- scripts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "run",
    [
        "./hack/scan.sh",
        "bash hack/scan.sh",
        "sh -e ./hack/scan.sh",
        "source hack/scan.sh",
        '"${GITHUB_WORKSPACE}/hack/scan.sh"',
        "${{ github.workspace }}/hack/scan.sh",
        "cd hack && ./scan.sh",
    ],
)
def test_repository_scripts_are_followed(run: str) -> None:
    files = {
        ".github/workflows/ci.yml": workflow(run),
        "hack/scan.sh": "#!/bin/bash\nset -euo pipefail\ngitleaks detect --source .\necho ok\n",
    }
    cov = coverage(files)
    assert flags(cov, "secrets") == (True, True, True)
    assert cov["secrets"].sources == (Source("hack/scan.sh", 3),)


def test_scripts_calling_scripts_with_variables_and_cycles() -> None:
    """The cluster-api pattern: a script names its tool through a variable."""
    files = {
        ".github/workflows/ci.yml": workflow("bash scripts/a.sh"),
        "scripts/a.sh": "#!/bin/sh\n. scripts/a.sh\nscripts/b.sh\n",
        "scripts/b.sh": (
            "#!/usr/bin/env bash\nset -o errexit\nREPO_ROOT=$(git rev-parse --show-toplevel)\n"
            'TRIVY="${REPO_ROOT}/hack/tools/bin/trivy/${VERSION}/trivy"\n'
            "cat <<EOF\ntrivy image not-a-command\nEOF\n"
            '"${TRIVY}" image -q --exit-code 1 app:dev && R1=$? || R1=$?\n'
            'if [ "$R1" -ne "0" ]; then\n  exit 1\nfi\n'
        ),
    }
    cov = coverage(files)
    assert flags(cov, "container") == (True, True, True)
    assert cov["container"].sources == (Source("scripts/b.sh", 8),)


def test_a_script_without_set_e_fails_only_by_its_last_command() -> None:
    files = {
        ".github/workflows/ci.yml": workflow("./scan.sh"),
        "scan.sh": "#!/bin/sh\ncheckov -d .\necho done\n",
    }
    (site,) = find_sites(context(files))
    assert not site.blocking
    assert site.why_not_blocking == (
        "the script does not `set -e` and it is not its last command (scan.sh:2)"
    )


def test_the_workflow_shell_around_a_delegating_command_counts() -> None:
    files = {
        ".github/workflows/ci.yml": workflow("make scan || true"),
        "Makefile": "scan:\n\ttfsec .\n",
    }
    (site,) = find_sites(context(files))
    assert site.source == Source("Makefile", 2)
    assert site.why_not_blocking == "`|| true` swallows its failure (.github/workflows/ci.yml:8)"


def test_non_shell_and_absent_scripts_are_not_read() -> None:
    files = {
        ".github/workflows/ci.yml": workflow("./tools/scan && ./gone.sh && ./gradlew build"),
        "tools/scan": "#!/usr/bin/env python3\nimport os\nos.system('gitleaks detect')\n",
        "gradlew": "#!/bin/sh\ngitleaks detect\n",
    }
    assert not coverage(files)["secrets"].configured


def test_step_working_directory_is_where_scripts_and_makefiles_are_found() -> None:
    text = workflow("make scan", step="        working-directory: ./services/api\n")
    files = {
        ".github/workflows/ci.yml": text.replace("      - run: make scan\n", "")
        + "      - run: make scan\n        working-directory: ./services/api\n",
        "services/api/Makefile": "scan:\n\tbandit -r .\n",
    }
    assert coverage(files)["sast"].sources == (Source("services/api/Makefile", 2),)


# --- package.json -------------------------------------------------------------------------


@pytest.mark.parametrize("run", ["npm run audit", "yarn audit:ci", "pnpm run audit:ci", "npm test"])
def test_package_json_scripts_are_followed(run: str) -> None:
    files = {
        ".github/workflows/ci.yml": workflow(run),
        "package.json": (
            '{\n  "name": "app",\n  "scripts": {\n    "audit": "npm audit --audit-level=high",\n'
            '    "audit:ci": "npm run audit",\n    "test": "jest && npm run audit:ci"\n  }\n}\n'
        ),
    }
    cov = coverage(files)
    assert cov["sca"].tools == ("npm-audit",)
    assert cov["sca"].sources == (Source("package.json", 4),)
    assert flags(cov, "sca") == (True, True, True)


def test_yarn_audit_is_the_tool_not_a_script_and_broken_package_json_is_ignored() -> None:
    files = {".github/workflows/ci.yml": workflow("yarn audit && npm run scan")}
    cov = coverage({**files, "package.json": "{not json"})
    assert cov["sca"].sources == (Source(".github/workflows/ci.yml", 8),)


def test_a_delegated_scan_counts_for_a_service_policy() -> None:
    payments = Service(name="payments", path="", manifest="catalog-info.yaml", tier="1")
    files = {
        ".github/workflows/ci.yml": workflow("make security"),
        "Makefile": "security:\n\tsemgrep ci\n\tgitleaks detect\n\tosv-scanner -r .\n",
        "catalog-info.yaml": "x",
    }
    policy = Policy(
        configured=True,
        coverage=(CoverageRequirement(("sast", "secrets", "sca"), tiers=("1",)),),
    )
    assert list(check_coverage(context(files, policy, (payments,)))) == []


# --- local composite actions --------------------------------------------------------------


def test_local_composite_actions_are_followed() -> None:
    files = {
        ".github/workflows/ci.yml": workflow("echo hi").replace(
            "actions/checkout@v4", "./.github/actions/security"
        ),
        ".github/actions/security/action.yml": (
            "name: security\nruns:\n  using: composite\n  steps:\n"
            "    - uses: gitleaks/gitleaks-action@v2\n"
            "    - shell: bash\n      run: |\n        echo scanning\n        make scan\n"
            "    - uses: ./.github/actions/security\n"
        ),
        "Makefile": "scan:\n\tosv-scanner -r .\n",
    }
    cov = coverage(files)
    assert cov["secrets"].sources == (Source(".github/actions/security/action.yml", 5),)
    assert cov["sca"].sources == (Source("Makefile", 2),)
    (site,) = [s for s in find_sites(context(files)) if "sca" in s.categories]
    assert site.via == (
        Source(".github/workflows/ci.yml", 7),
        Source(".github/actions/security/action.yml", 9),
    )

"""Renderers: the check-run summary stays under GitHub's byte cap; SARIF is well formed."""

from __future__ import annotations

import json

from ghapp.core.model import CategoryCoverage, FileOwners, Finding, Report, Service
from ghapp.render import render_sarif, render_text
from ghapp.rules import default_catalog


def report(findings: int = 3, message: str = "container runs privileged") -> Report:
    return Report(
        conclusion="failure",
        findings=tuple(
            Finding(
                rule="config/invalid",
                severity="error",
                message=message,
                path=f"k8s/{i}.yaml",
                line=i + 1,
                owners=("@acme/payments",),
                new=i % 2 == 0,
            )
            for i in range(findings)
        ),
        coverage={
            "sast": CategoryCoverage(configured=True, on_pull_request=True, tools=("codeql",))
        },
        services=(
            Service(
                name="payments",
                path="services/payments",
                manifest="services/payments/catalog-info.yaml",
                owner="@acme/payments",
                tier="1",
                data=("pci",),
            ),
        ),
        files=(
            FileOwners("services/payments/a.py", ("@acme/payments",), 3, "/services/payments/"),
            FileOwners("tools/x.sh", (), None, None),
        ),
        policy_configured=True,
    )


def test_sarif_has_rules_results_and_locations() -> None:
    sarif = json.loads(render_sarif(report(), default_catalog()))
    run = sarif["runs"][0]
    assert sarif["version"] == "2.1.0"
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["config/invalid"]
    first = run["results"][0]
    assert first["level"] == "error"
    assert first["locations"][0]["physicalLocation"]["region"] == {"startLine": 1}
    assert first["properties"]["owners"] == ["@acme/payments"]


def test_text_report_shows_ownership_services_coverage_and_findings() -> None:
    text = render_text(report())
    assert text.startswith("ghapp check: FAILURE")
    assert "Ownership: 2 files, 1 unowned" in text
    assert "unowned: tools/x.sh" in text
    assert "payments" in text and "tier=1" in text
    assert "owner: @acme/payments" in text


def test_text_totals_say_how_many_are_waived_so_the_counts_add_up() -> None:
    from dataclasses import replace

    base = report(findings=3)
    waived = replace(base.findings[0], waived=True, waiver="until 2099-01-01")
    text = render_text(replace(base, findings=(waived, *base.findings[1:])))
    # three errors: one waived, one new, one existing
    assert "Findings: 3 errors, 0 warnings, 0 notices (1 new, 1 waived)" in text
    assert "(1 new)" in render_text(report(findings=2))

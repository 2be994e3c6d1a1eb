"""The check-run summary: what blocks first, one consistent count, and a cut that keeps what matters."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from ghapp.core.model import (
    AppliedWaiver,
    CategoryCoverage,
    FileOwners,
    Finding,
    OwnerSource,
    PolicyInfo,
    Report,
    Service,
    ServiceCoverage,
)
from ghapp.render.markdown import SUMMARY_LIMIT, render_markdown, title_of
from ghapp.render.sections import Counts
from tests.markdown import github_html

DETAILS = "https://ghapp.example.com/acme/shop/checks/abc123"
PAYMENTS = Service(
    name="payments",
    path="services/payments",
    manifest="services/payments/catalog-info.yaml",
    owner="@acme/payments",
    oncall=("pagerduty:PX1",),
    tier="1",
    data=("pci",),
)
CODEOWNERS_SOURCE = OwnerSource("codeowners", ".github/CODEOWNERS", 3, "/services/payments/")


def finding(
    n: int,
    *,
    severity: str = "error",
    new: bool = True,
    waived: bool = False,
    owner: str = "@acme/payments",
    **changes: Any,
) -> Finding:
    values: dict[str, Any] = {
        "rule": "k8s/privileged",
        "severity": severity,
        "message": f"container `api-{n}` runs privileged",
        "path": f"services/payments/k8s/deploy-{n}.yaml",
        "line": n + 1,
        "owners": (owner,) if owner else (),
        "fix": "Set `privileged: false`.",
        "subject": f"api-{n}",
        "new": new,
        "waived": waived,
        "owner_source": CODEOWNERS_SOURCE,
    }
    if waived:
        values["waiver_detail"] = AppliedWaiver(
            "k8s/privileged", "@acme/security", "vendor image", "2099-01-01", ".github/ghapp.yml"
        )
    values.update(changes)
    return Finding(**values)


def report(*findings: Finding, services: int = 1, conclusion: str = "failure") -> Report:
    extra = tuple(
        Service(name=f"svc-{i}", path=f"services/svc-{i}", manifest=f"services/svc-{i}/c.yaml")
        for i in range(services - 1)
    )
    coverage = {
        "sast": CategoryCoverage(True, True, True, ("codeql",)),
        "secrets": CategoryCoverage(True, True, False, ("gitleaks",)),
    }
    return Report(
        conclusion=conclusion,  # type: ignore[arg-type]
        findings=findings,
        coverage=coverage,
        services=(PAYMENTS, *extra),
        files=tuple(
            FileOwners(f"{s.path}/main.py", ("@acme/payments",), 3, "/services/", s.name)
            for s in (PAYMENTS, *extra)
        ),
        policy_configured=True,
        policy=PolicyInfo(configured=True, enforce=conclusion != "neutral"),
        service_coverage=tuple(
            ServiceCoverage(s.name, coverage, ("sast", "secrets")) for s in (PAYMENTS, *extra)
        ),
        compared_to_base=True,
    )


def mixed() -> Report:
    return report(
        finding(1, owner="@acme/payments"),
        finding(2, owner="@acme/platform"),
        finding(3, severity="warning"),
        finding(4, severity="notice", owner=""),
        finding(5, new=False),
        finding(6, new=False, rule="k8s/latest-tag"),
        finding(7, waived=True),
    )


def headings(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("#### ")]


def test_sections_come_in_order_blocking_other_scans_existing_waived() -> None:
    text = render_markdown(mixed(), details_url=DETAILS)
    assert headings(text) == [
        "#### What blocks this pull request (2)",
        "#### Other new findings (2)",
        "#### Security scans and ownership of the services this pull request touches",
        "#### Existing findings (2): already on the base, they never block",
        "#### Waived findings (1)",
    ]


def test_title_and_summary_count_the_same_findings() -> None:
    rep = mixed()
    assert title_of(rep) == "2 blocking · 4 new · 2 existing · 1 waived"
    text = render_markdown(rep)
    assert text.startswith("### ❌ 2 blocking · 4 new · 2 existing · 1 waived")
    counts = Counts.of(rep.findings)
    listed = len(re.findall(r"^- ", text, flags=re.M))  # blocking + other + existing items
    assert listed == counts.new + counts.existing
    assert counts.new + counts.existing + counts.waived == len(rep.findings)


def test_blocking_findings_are_grouped_by_owner_with_location_and_fix() -> None:
    text = render_markdown(mixed())
    blocking = text.split("#### What blocks")[1].split("####")[0]
    assert blocking.index("**@acme/payments** · 1") < blocking.index(
        "`services/payments/k8s/deploy-1.yaml:2`"
    )
    assert blocking.index("**@acme/platform** · 1") < blocking.index("deploy-2.yaml:3")
    assert "**Fix:** Set `privileged: false`" in blocking
    assert "container `api-1` runs privileged" in blocking


def test_scans_section_shows_coverage_and_the_ownership_record_of_touched_services() -> None:
    text = render_markdown(mixed())
    assert "| payments | **✅ blocks** | **⚠️ advisory** | ❌ missing |" in text
    assert "| payments | `@acme/payments` | pagerduty:PX1 | 1 | pci |" in text


def test_existing_findings_are_counted_per_rule_and_owner_with_the_list_collapsed() -> None:
    text = render_markdown(mixed())
    existing = text.split("#### Existing findings")[1].split("####")[0]
    assert "| `k8s/privileged` | @acme/payments | 1 |" in existing
    assert "<details><summary>List all 2 existing findings</summary>" in existing


def test_waived_findings_show_approver_reason_and_expiry() -> None:
    text = render_markdown(mixed())
    assert "| vendor image | 2099\\-01\\-01 |" in text
    assert "@&#8203;acme/security" in text  # the approver is named, never pinged


def test_many_other_new_findings_are_collapsed() -> None:
    rep = report(*(finding(i, severity="warning") for i in range(12)))
    text = render_markdown(rep)
    assert "<details><summary>Show 12 warnings and notices</summary>" in text


def test_report_only_says_errors_would_block() -> None:
    rep = report(finding(1), conclusion="neutral")
    assert title_of(rep) == "1 errors · 1 new · 0 existing · report only"
    assert "they would block, but ghapp only reports here" in render_markdown(rep)


def test_no_findings_title() -> None:
    assert title_of(report()) == "No problems found"


def test_thousands_of_findings_keep_sections_1_and_3_and_say_what_was_cut() -> None:
    rep = report(
        *(finding(i) for i in range(5)),
        *(finding(i, severity="warning", owner=f"@acme/team-{i % 40}") for i in range(3000)),
        *(finding(i, new=False, rule=f"k8s/rule-{i % 30}") for i in range(4000)),
        *(finding(i, waived=True) for i in range(800)),
        services=60,
    )
    text = render_markdown(rep, details_url=DETAILS)
    assert len(text.encode("utf-8")) <= SUMMARY_LIMIT
    blocking = text.split("#### What blocks")[1].split("####")[0]
    assert all(f"deploy-{i}.yaml:{i + 1}`" in blocking for i in range(5))
    assert all(f"| svc\\-{i} |" in text for i in range(59))  # every touched service
    assert text.count("| svc\\-0 |") == 2  # in both tables
    assert headings(text)[:3] == [
        "#### What blocks this pull request (5)",
        "#### Other new findings (3000)",
        "#### Security scans and ownership of the services this pull request touches",
    ]
    assert f"not shown here to fit GitHub's size limit: see the [details page]({DETAILS})" in text
    assert "more waived findings not shown" in text  # cut from the least important first


def test_blocking_alone_over_the_limit_keeps_the_first_findings_and_the_scans() -> None:
    rep = report(*(finding(i, message="ü" * 400) for i in range(2000)), services=3)
    text = render_markdown(rep, details_url=DETAILS)
    assert len(text.encode("utf-8")) <= SUMMARY_LIMIT
    assert "deploy-0.yaml:1`" in text and "| svc\\-1 |" in text
    assert "more blocking findings not shown" in text


@pytest.mark.parametrize("limit", [2_000, 10_000, SUMMARY_LIMIT])
def test_summary_always_fits_and_never_splits_a_character(limit: int) -> None:
    rep = report(*(finding(i, message="ünïcödé " * 30, new=i % 3 == 0) for i in range(600)))
    data = render_markdown(rep, max_bytes=limit, details_url=DETAILS).encode("utf-8")
    assert len(data) <= limit
    data.decode("utf-8")


def test_pull_request_text_is_inert_in_the_summary() -> None:
    hostile = "evil`` @victim <img src=x onerror=alert(1)> [x](https://e.vil)"
    rep = report(
        finding(
            1,
            path=f"services/payments/{hostile}.yaml",
            message=f"container `{hostile}` in {hostile}",
            owner="@victim",
            owner_source=OwnerSource(
                "manifest", "services/payments/catalog-info.yaml", 9, validated=False
            ),
        ),
        finding(2, new=False, owner="@victim", owner_source=OwnerSource("check", validated=False)),
    )
    service = Service(
        name=hostile,
        path="services/payments",
        manifest="services/payments/catalog-info.yaml",
        owner="@victim",
        oncall=(hostile,),
    )
    rep = dataclasses.replace(rep, services=(service,))
    html = github_html(render_markdown(rep))
    assert "<img" not in html and "<a " not in html
    outside_code = re.sub(r"<code>.*?</code>", "", html, flags=re.S)
    assert "@victim" not in outside_code  # a manifest's owner is never a live mention

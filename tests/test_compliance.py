"""Compliance rows per service (ghapp.core.compliance), from whole-repository evaluations of small
repositories held in memory: what a row says, who owns it, what fails, and the summary."""

from __future__ import annotations

from datetime import date

from ghapp.core.compliance import (
    ComplianceReport,
    RepositoryError,
    ServiceRow,
    csv_columns,
    flatten,
    service_rows,
)
from ghapp.core.evaluate import evaluate
from ghapp.core.snapshot import DictSnapshot
from ghapp.rules import default_catalog
from tests.orgrepos import ORG_REPOS, SCANNING_WORKFLOW, deployment, manifest

TODAY = date(2025, 6, 1)


def rows(files: dict[str, str], repository: str = "acme/repo", **options: str) -> list[ServiceRow]:
    report = evaluate(DictSnapshot(files), catalog=default_catalog(), today=TODAY, **options)
    return list(service_rows(repository, report))


def test_a_repository_without_manifests_is_one_service_named_after_it() -> None:
    (row,) = rows(ORG_REPOS["web"], "acme/web")
    assert (row.repository, row.service, row.path) == ("acme/web", "web", "")
    assert (row.owner, row.owner_source) == ("@acme/web", ".github/CODEOWNERS:1")
    assert row.codeowners_valid and row.unowned_files == 0
    assert row.compliant and row.failing == ()


def test_each_manifest_is_a_row_with_its_record_and_its_own_findings() -> None:
    cart, payments = rows(ORG_REPOS["shop"], "acme/shop")
    assert (payments.service, payments.path) == ("payments", "services/payments")
    assert payments.owner == "@acme/payments"  # group:default/payments, as CODEOWNERS names it
    assert payments.owner_source == "services/payments/catalog-info.yaml:13"
    assert (payments.tier, payments.data, payments.oncall) == ("1", ("pci",), ("pagerduty:P12",))
    assert payments.lifecycle == "production"
    assert payments.failing == ("k8s/privileged",) and not payments.compliant
    assert payments.count("error") == 1
    assert cart.compliant and cart.count("error") == 0  # payments' container is not cart's


def test_a_waived_error_leaves_the_service_compliant() -> None:
    (ledger,) = rows(ORG_REPOS["ledger"], "acme/ledger")
    assert ledger.oncall == () and ledger.compliant
    assert ledger.count("error") == 0  # waived findings are not counted


def test_the_repositorys_own_findings_count_for_every_service() -> None:
    files = dict(ORG_REPOS["shop"])
    files[".github/CODEOWNERS"] += "/docs/ docs@\n"  # an invalid owner: a CODEOWNERS error
    cart, payments = rows(files, "acme/shop")
    for row in (cart, payments):
        assert "codeowners/invalid-owner" in row.failing
        assert not row.codeowners_valid
    assert cart.failing == ("codeowners/invalid-owner",)


def test_coverage_is_scoped_to_each_services_files() -> None:
    only_payments = SCANNING_WORKFLOW.replace(
        "  pull_request:\n", "  pull_request:\n    paths: ['services/payments/**']\n"
    )
    files = {**ORG_REPOS["shop"], ".github/workflows/ci.yml": only_payments}
    cart, payments = rows(files, "acme/shop")
    assert payments.coverage_of("sast").on_pull_request
    assert cart.coverage_of("sast").configured and not cart.coverage_of("sast").on_pull_request


def test_the_policy_of_the_repository_decides() -> None:
    files = {
        "catalog-info.yaml": manifest("api", "web", 3, "pii"),
        "k8s/deployment.yaml": deployment("api", privileged=True),
    }
    assert rows(files)[0].failing == ("k8s/privileged",)
    relaxed = "version: 1\nseverities:\n  k8s/privileged: warning\n"
    assert rows({**files, ".github/ghapp.yml": relaxed})[0].compliant
    strict_org = "version: 1\nmanifests:\n  required: [owner, tier, oncall]\n"
    assert rows(files, org_config=strict_org)[0].failing == (
        "k8s/privileged",
        "manifest/missing-oncall",
    )


def test_owner_falls_back_to_who_owns_most_of_the_services_files() -> None:
    files = {
        ".github/CODEOWNERS": "* @acme/web\n/svc/ @acme/data\n/svc/README.md @acme/docs\n",
        "svc/catalog-info.yaml": manifest("svc", "data", 2).replace(
            "  owner: group:default/data\n", ""
        ),
        "svc/a.py": "",
        "svc/b.py": "",
        "svc/README.md": "",
        "svc/new/c.py": "",
    }
    (row,) = rows(files)
    assert (row.owner, row.owner_source) == ("@acme/data", ".github/CODEOWNERS:2")


def test_unowned_files_are_counted_per_service() -> None:
    files = {
        ".github/CODEOWNERS": "/a/ @acme/a\n",
        "a/catalog-info.yaml": manifest("a", "a", 2),
        "b/catalog-info.yaml": manifest("b", "b", 2),
        "b/one.py": "",
        "b/two.py": "",
    }
    a, b = rows(files)
    assert (a.unowned_files, b.unowned_files) == (0, 3)
    assert b.owner == "group:default/b"  # as written: CODEOWNERS names no team `b`


def test_rows_read_back_from_their_json() -> None:
    for row in rows(ORG_REPOS["shop"], "acme/shop"):
        assert ServiceRow.from_json(row.to_json()) == row
    assert ServiceRow.from_json({"repository": "a/b", "service": "b", "tier": None}) == ServiceRow(
        "a/b", "b", findings=(("error", 0), ("warning", 0), ("notice", 0))
    )


def test_the_summary_counts_services_by_owner_and_by_failing_rule() -> None:
    all_rows = [
        *rows(ORG_REPOS["shop"], "acme/shop"),
        *rows(ORG_REPOS["ledger"], "acme/ledger"),
        *rows(ORG_REPOS["web"], "acme/web"),
    ]
    report = ComplianceReport("2025-06-01T00:00:00Z", tuple(all_rows))
    data = report.to_json()
    assert data["version"] == 1 and "errors" not in data
    assert data["summary"] == {
        "services": 4,
        "compliant": 3,
        "by_owner": {
            "@acme/payments": {"services": 2, "compliant": 1},
            "@acme/web": {"services": 2, "compliant": 2},
        },
        "by_rule": {"k8s/privileged": 1},
    }
    broken = ComplianceReport("t", (), (RepositoryError("acme/x", "OSError: gone"),))
    assert broken.to_json()["errors"] == [{"repository": "acme/x", "error": "OSError: gone"}]


def test_csv_columns_are_the_json_keys_flattened_with_dots() -> None:
    columns = csv_columns()
    assert columns[:5] == ["repository", "service", "path", "owner", "owner_source"]
    assert "codeowners.unowned_files" in columns
    assert "coverage.sast.on_pull_request" in columns and "coverage.iac.blocking" in columns
    assert columns[-3:] == ["findings.notice", "compliant", "failing"]
    flat = flatten({"a": {"b": [1, 2], "c": None, "d": True}})
    assert flat == {"a.b": "1;2", "a.c": "", "a.d": "true"}

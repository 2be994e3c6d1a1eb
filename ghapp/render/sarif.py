"""SARIF 2.1.0 for GitHub code scanning (`upload-sarif`).

What code scanning reads, beyond the schema: `properties.security-severity` and the `security`
tag rank alerts (critical >= 9.0, high >= 7.0, medium >= 4.0, else low), `problem.severity`
ranks the others; `help.markdown` is the rule's help panel; `partialFingerprints` match an alert
across uploads when lines move; `baselineState` and `suppressions` say what is new and what was
waived; `automationDetails.id` is the analysis category.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from ghapp import __version__
from ghapp.core.catalog import Catalog, Rule
from ghapp.core.model import Finding, Report
from ghapp.core.policy.suppressions import INLINE_PREFIX

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT_KEY = "ghapp/v1"
DEFAULT_AUTOMATION_ID = "ghapp/"
_LEVELS = {"error": "error", "warning": "warning", "notice": "note"}
_PROBLEM_SEVERITY = {"error": "error", "warning": "warning", "notice": "recommendation"}
# Rules without their own `security_severity` rank by their ghapp severity.
_DEFAULT_SECURITY_SEVERITY = {"error": 5.0, "warning": 3.0, "notice": 1.0}


def render_sarif(
    report: Report, catalog: Catalog, *, automation_id: str = DEFAULT_AUTOMATION_ID
) -> str:
    """The report as one SARIF run; `automation_id` ("category/" or "category/run") keeps
    analyses of different directories or workflows apart in code scanning."""
    return json.dumps(sarif_document(report, catalog, automation_id), indent=2, ensure_ascii=False)


def sarif_document(
    report: Report, catalog: Catalog, automation_id: str = DEFAULT_AUTOMATION_ID
) -> dict[str, Any]:
    rule_ids = sorted({f.rule for f in report.findings})
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    driver: dict[str, Any] = {
        "name": "ghapp",
        "version": __version__,
        "semanticVersion": __version__,
        "rules": [_rule(rule_id, catalog.rules.get(rule_id)) for rule_id in rule_ids],
    }
    uri = information_uri()
    if uri:
        driver["informationUri"] = uri
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": driver},
                "automationDetails": {"id": automation_id},
                "columnKind": "unicodeCodePoints",
                "results": [
                    _result(f, index[f.rule], report.compared_to_base) for f in report.findings
                ],
                **_invocations(report),
            }
        ],
    }


def _invocations(report: Report) -> dict[str, Any]:
    """The report's notes (e.g. what was not reported) as tool execution notifications."""
    if not report.notes:
        return {}
    notes = [{"level": "note", "message": {"text": note}} for note in report.notes]
    return {"invocations": [{"executionSuccessful": True, "toolExecutionNotifications": notes}]}


def fingerprint(finding: Finding) -> str:
    """A hash of what makes a finding the same problem across commits (not its line)."""
    return hashlib.sha256("\0".join(finding.fingerprint).encode("utf-8")).hexdigest()[:32]


@lru_cache(maxsize=1)
def information_uri() -> str | None:
    """The project's repository URL, from the installed package's metadata ([project.urls])."""
    from importlib import metadata

    try:
        urls = metadata.metadata("ghapp").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return None
    by_label = dict(u.split(", ", 1) for u in urls if ", " in u)
    return by_label.get("Repository") or by_label.get("Homepage")


def _rule(rule_id: str, rule: Rule | None) -> dict[str, Any]:
    if rule is None:
        return {"id": rule_id, "shortDescription": {"text": rule_id}}
    score = rule.security_severity or _DEFAULT_SECURITY_SEVERITY[rule.severity]
    return {
        "id": rule_id,
        "name": rule_id.replace("/", ".").replace("-", "_"),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.rationale},
        "help": {
            "text": f"{rule.rationale}\n\nFix: {rule.fix}\n\n{rule.docs}",
            "markdown": f"{rule.rationale}\n\n**Fix:** {rule.fix}\n\n[Documentation]({rule.docs})",
        },
        "helpUri": rule.docs,
        "defaultConfiguration": {"level": _LEVELS[rule.severity]},
        "properties": {
            "tags": list(rule.tags),
            "security-severity": f"{score:.1f}",
            "problem.severity": _PROBLEM_SEVERITY[rule.severity],
            "precision": "high",
        },
    }


def _result(f: Finding, rule_index: int, baseline: bool) -> dict[str, Any]:
    text = f.message + (f" Owners: {' '.join(f.owners)}." if f.owners else "")
    if f.waived:
        text += f" (waived: {f.waiver})"
    result: dict[str, Any] = {
        "ruleId": f.rule,
        "ruleIndex": rule_index,
        "level": _LEVELS.get(f.severity, "note"),
        "message": {"text": text},
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint(f)},
        "properties": {"owners": list(f.owners), "new": f.new, "waived": f.waived},
    }
    if f.service:
        result["properties"]["service"] = f.service
    if f.fix:
        result["properties"]["fix"] = f.fix
    if f.path:
        region: dict[str, Any] = {"startLine": f.line or 1}
        if f.line and f.column:
            region["startColumn"] = f.column
        result["locations"] = [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": quote(f.path), "uriBaseId": "%SRCROOT%"},
                    "region": region,
                }
            }
        ]
    if baseline:
        result["baselineState"] = "new" if f.new else "unchanged"
    if f.waived:
        inline = (f.waiver or "").startswith(INLINE_PREFIX)
        result["suppressions"] = [
            {
                "kind": "inSource" if inline else "external",
                "status": "accepted",
                "justification": f.waiver or "",
            }
        ]
    return result

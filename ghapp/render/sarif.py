"""SARIF 2.1.0 for code-scanning upload."""

from __future__ import annotations

import json
from typing import Any

from ghapp import __version__
from ghapp.core.catalog import Catalog
from ghapp.core.model import Report


def render_sarif(report: Report, catalog: Catalog) -> str:
    """SARIF 2.1.0 for code-scanning upload."""
    rule_ids = sorted({f.rule for f in report.findings})
    rules = []
    for rule_id in rule_ids:
        rule = catalog.rules.get(rule_id)
        entry: dict[str, Any] = {"id": rule_id}
        if rule is not None:
            entry.update(
                name=rule.title,
                shortDescription={"text": rule.title},
                fullDescription={"text": rule.rationale},
                help={"text": rule.fix},
                helpUri=rule.docs,
                defaultConfiguration={"level": _sarif_level(rule.severity)},
            )
        rules.append(entry)
    results = []
    for f in report.findings:
        result: dict[str, Any] = {
            "ruleId": f.rule,
            "level": _sarif_level(f.severity),
            "message": {
                "text": f.message + (f" Owners: {' '.join(f.owners)}." if f.owners else "")
            },
            "properties": {"owners": list(f.owners), "new": f.new, "waived": f.waived},
        }
        if f.path:
            location: dict[str, Any] = {"artifactLocation": {"uri": f.path}}
            if f.line:
                location["region"] = {"startLine": f.line}
            result["locations"] = [{"physicalLocation": location}]
        if f.waived:
            result["suppressions"] = [{"kind": "external", "justification": f.waiver or ""}]
        results.append(result)
    sarif = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "ghapp",
                        "version": __version__,
                        "informationUri": "https://github.com/ghapp/ghapp",
                        "rules": rules,
                    }
                },
                "results": results,
                **_invocations(report),
            }
        ],
    }
    return json.dumps(sarif, indent=2, ensure_ascii=False)


def _invocations(report: Report) -> dict[str, Any]:
    """The report's notes (e.g. what was not reported) as tool execution notifications."""
    if not report.notes:
        return {}
    notes = [{"level": "note", "message": {"text": note}} for note in report.notes]
    return {"invocations": [{"executionSuccessful": True, "toolExecutionNotifications": notes}]}


def _sarif_level(severity: str) -> str:
    return {"error": "error", "warning": "warning"}.get(severity, "note")

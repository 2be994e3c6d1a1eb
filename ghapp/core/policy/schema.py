"""JSON Schema of `.github/ghapp.yml`. Published as schema/ghapp.schema.json for editors
(a test keeps the two identical)."""

from __future__ import annotations

from typing import Any

CATEGORY = {"enum": ["sast", "secrets", "sca", "container", "iac"]}
FIELD = {
    "enum": [
        "owner",
        "oncall",
        "tier",
        "data",
        "runbook",
        "dashboard",
        "slo",
        "lifecycle",
        "system",
    ]
}
STRINGS = {"type": "array", "items": {"type": "string", "minLength": 1}}
TEAM = {"type": "string", "pattern": "^@[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9_][A-Za-z0-9_.-]*$"}
FIELDS = {"type": "array", "items": FIELD}
SEVERITY_OR_OFF = {"enum": ["error", "warning", "notice", "off"]}

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://ghapp.dev/schema/ghapp.schema.json",
    "title": "ghapp configuration (.github/ghapp.yml)",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "version": {"const": 1, "description": "Configuration format version."},
        "enforce": {
            "type": "boolean",
            "description": "false: report only (the check is never 'failure').",
        },
        "severities": {
            "type": "object",
            "description": "Override a rule's severity, or turn it off.",
            "propertyNames": {"pattern": "^(codeowners|manifest|scan|workflow|k8s|config)/"},
            "additionalProperties": SEVERITY_OR_OFF,
        },
        "ignore": {**STRINGS, "description": "Path globs no check reports on."},
        "owners": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "require": {**STRINGS, "description": "Path globs whose files must have an owner."},
            },
        },
        "manifests": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "required": {**FIELDS, "description": "Fields every service manifest needs."},
                "by_tier": {"type": "object", "additionalProperties": FIELDS},
                "by_data": {"type": "object", "additionalProperties": FIELDS},
                "owner_teams": {
                    "type": "object",
                    "description": "Manifest group owner (`open-source`, `group:default/open-source`)"
                    " -> the GitHub team(s) it is, for manifest/owner-mismatch.",
                    "additionalProperties": {
                        "oneOf": [TEAM, {"type": "array", "items": TEAM, "minItems": 1}]
                    },
                },
            },
        },
        "kubernetes": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "pod_security": {
                    "enum": ["baseline", "restricted"],
                    "description": "restricted: also require the Pod Security Standard's"
                    " restricted settings (seccomp profile, capabilities.drop: [ALL], no"
                    " automounted service-account token). Default baseline.",
                },
            },
        },
        "test_fixtures": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "report": {
                    "type": "boolean",
                    "description": "Report Kubernetes and manifest findings under test directories"
                    " (test/, tests/, testdata/, e2e/, fixtures/, __fixtures__/ at any depth);"
                    " default false: they are counted in a note.",
                },
            },
        },
        "coverage": {
            "type": "array",
            "description": "Scan categories services must have, by tier, data class and files.",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["categories"],
                "properties": {
                    "categories": {"type": "array", "items": CATEGORY, "minItems": 1},
                    "tiers": {"type": "array", "items": {"type": ["string", "integer"]}},
                    "data": {"type": "array", "items": {"enum": ["phi", "pci", "pii"]}},
                    "when_files": STRINGS,
                    "on_pull_request": {"type": "boolean"},
                    "blocking": {"type": "boolean"},
                },
            },
        },
        "waivers": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["rule", "reason", "approved_by"],
                "properties": {
                    "rule": {"type": "string", "minLength": 1},
                    "path": {"type": "string"},
                    "service": {"type": "string"},
                    "reason": {"type": "string", "minLength": 1},
                    "approved_by": {"type": "string", "minLength": 1},
                    "until": {"type": "string", "format": "date"},
                },
            },
        },
        "workflows": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "tag_pinned_actions": {
                    "type": "array",
                    "items": {"type": "string", "pattern": "^[^@\\s]+/[^@\\s]+$"},
                    "description": "`uses:` names (`*` matches within one path segment) that "
                    "must be referenced by tag, never reported as unpinned; added to the "
                    "built-in list (the SLSA generator's reusable workflows).",
                },
            },
        },
        "publish": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "review_comments": {"type": "boolean"},
                "request_reviews": {"type": "boolean"},
                "labels": {"type": "boolean"},
                "summary_comment": {"type": "boolean"},
            },
        },
        "commands": {
            "type": "object",
            "description": "Who may run which comment command.",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "teams": STRINGS,
                    "permission": {"enum": ["read", "triage", "write", "maintain", "admin"]},
                    "enabled": {"type": "boolean"},
                },
            },
        },
        "locked": {
            **STRINGS,
            "description": "Org default only: top-level keys repositories may not override.",
        },
    },
}

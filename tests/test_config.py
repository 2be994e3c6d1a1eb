"""`.github/ghapp.yml`: schema validation with lines, org layering and locks, waivers."""

from __future__ import annotations

import json
from datetime import date

import pytest

from ghapp.core.policy.policy import parse_policy
from ghapp.core.policy.schema import CONFIG_SCHEMA
from tests.conftest import ROOT


def test_no_config_anywhere_is_report_only() -> None:
    policy, problems = parse_policy(None)
    assert not policy.configured
    assert problems == ()


def test_empty_file_is_a_configured_default_policy() -> None:
    policy, problems = parse_policy("")
    assert policy.configured and policy.enforce
    assert problems == ()


def test_full_config_becomes_policy_values() -> None:
    policy, problems = parse_policy(
        """
version: 1
enforce: false
severities: {k8s/cpu-limit-missing: off, workflow/unpinned-action: error}
ignore: ["vendor/**"]
owners: {require: ["services/**"]}
manifests:
  required: [owner, tier]
  by_tier: {"1": [oncall]}
coverage:
  - categories: [sast, secrets]
    tiers: [1]
    blocking: false
publish: {review_comments: true}
"""
    )
    assert problems == ()
    assert policy.severities == {
        "k8s/cpu-limit-missing": "off",
        "workflow/unpinned-action": "error",
    }
    assert policy.enforce is False
    assert policy.ignore == ("vendor/**",)
    assert policy.require_owners == ("services/**",)
    assert policy.manifests.always == ("owner", "tier")
    assert policy.manifests.by_tier == {"1": ("oncall",)}
    (requirement,) = policy.coverage
    assert requirement.categories == ("sast", "secrets")
    assert requirement.tiers == ("1",)
    assert requirement.on_pull_request is True and requirement.blocking is False
    assert requirement.line == 11
    assert policy.publish == {"review_comments": True}


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("version: 2\n", 1, "version"),
        ("ignore: [a]\nbogus: 1\n", 1, "'bogus' was unexpected"),
        (
            "coverage:\n  - categories: [sast]\n  - categories: [nope]\n",
            3,
            "coverage.1.categories.0",
        ),
        ("waivers:\n  - rule: x\n    reason: r\n", 2, "'approved_by' is a required property"),
        ("severities:\n  k8s/x: fatal\n", 2, "severities.k8s/x"),
        ("coverage: [1\n", 2, "invalid YAML"),
        ("- a\n- b\n", 1, "must be a YAML mapping"),
    ],
)
def test_invalid_config_is_a_finding_with_the_line(text: str, line: int, needle: str) -> None:
    policy, problems = parse_policy(text)
    assert problems, "an invalid config must be reported"
    assert any(
        p.rule == "config/invalid" and p.line == line and needle in p.message for p in problems
    ), problems
    assert policy.coverage == ()  # an invalid layer contributes nothing; no silent partial policy


def test_repo_config_is_layered_over_the_org_default() -> None:
    policy, problems = parse_policy(
        "severities: {k8s/a: warning}\nignore: [x/**]\n",
        org_text="severities: {k8s/a: error, k8s/b: notice}\nignore: [org/**]\nenforce: false\n",
    )
    assert problems == ()
    assert policy.severities == {"k8s/a": "warning", "k8s/b": "notice"}  # mappings merge
    assert policy.ignore == ("x/**",)  # lists are replaced
    assert policy.enforce is False  # inherited


def test_org_locked_keys_cannot_be_overridden() -> None:
    policy, problems = parse_policy(
        "enforce: false\ncoverage: []\n",
        org_text="locked: [enforce, coverage]\ncoverage:\n  - categories: [sast]\n",
    )
    assert policy.enforce is True
    assert [c.categories for c in policy.coverage] == [("sast",)]
    assert [(p.rule, p.line) for p in problems] == [
        ("config/locked-key", 1),
        ("config/locked-key", 2),
    ]


def test_waivers_expire() -> None:
    text = """
waivers:
  - {rule: k8s/a, reason: r, approved_by: "@o/sec", until: 2026-01-31}
  - {rule: k8s/b, reason: r, approved_by: "@o/sec", until: 2025-12-31}
  - {rule: k8s/c, reason: r, approved_by: "@o/sec"}
"""
    policy, problems = parse_policy(text, today=date(2026, 1, 1))
    assert [w.rule for w in policy.waivers] == ["k8s/a", "k8s/c"]
    assert policy.waivers[0].until == date(2026, 1, 31)
    assert [(p.rule, p.line) for p in problems] == [("config/expired-waiver", 4)]
    assert "expired on 2025-12-31" in problems[0].message


def test_published_json_schema_matches_the_code() -> None:
    published = json.loads((ROOT / "schema" / "ghapp.schema.json").read_text())
    assert published == CONFIG_SCHEMA


def test_bundled_example_config_is_valid() -> None:
    text = (ROOT / "examples" / "acme-shop" / ".github" / "ghapp.yml").read_text()
    policy, problems = parse_policy(text, today=date(2026, 1, 1))
    assert policy.configured
    assert [p.rule for p in problems] == ["config/expired-waiver"]  # deliberate


def test_manifest_owner_teams_map_groups_to_one_or_more_github_teams() -> None:
    policy, problems = parse_policy(
        "manifests:\n  owner_teams:\n    open-source: '@acme/engineering'\n"
        "    group:default/ops: ['@acme/sre', '@acme/oncall']\n"
    )
    assert problems == ()
    assert dict(policy.owner_teams) == {
        "open-source": ("@acme/engineering",),
        "group:default/ops": ("@acme/sre", "@acme/oncall"),
    }


def test_manifest_owner_teams_must_be_team_handles() -> None:
    _, problems = parse_policy("manifests:\n  owner_teams:\n    open-source: engineering\n")
    assert [(p.rule, p.line) for p in problems] == [("config/invalid", 3)]

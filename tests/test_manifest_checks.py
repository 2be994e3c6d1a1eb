"""The `manifest/…` checks: required fields by policy, malformed values, duplicates, CODEOWNERS."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from textwrap import dedent
from types import MappingProxyType
from typing import Any

import pytest

from ghapp.core.context import Context
from ghapp.core.manifests.checks import (
    FIELD_RULES,
    check_manifests,
    is_valid_owner,
    required_fields,
)
from ghapp.core.manifests.services import discover_services
from ghapp.core.model import Finding, Service
from ghapp.core.policy.policy import ManifestRequirements, Policy
from ghapp.core.snapshot import DictSnapshot
from ghapp.rules import default_catalog

COMPLETE = dedent(
    """\
    kind: Component
    metadata:
      name: payments
      annotations:
        pagerduty.com/service-id: PABC123
        ghapp.dev/tier: "1"
        ghapp.dev/data-classification: pci
        ghapp.dev/runbook: https://wiki.example.com/payments
      links:
        - url: https://grafana.example.com/d/payments
          type: dashboard
    spec:
      owner: group:default/payments
      lifecycle: production
      system: checkout
    """
)


@dataclass(frozen=True)
class Match:
    owners: tuple[str, ...]
    line: int = 1
    pattern: str = "*"


class StubCodeOwners:
    """CODEOWNERS as {directory prefix: owners}; the longest matching prefix wins."""

    def __init__(self, rules: Mapping[str, tuple[str, ...]]) -> None:
        self.by_prefix = rules
        self.rules = tuple(Match(owners, pattern=prefix) for prefix, owners in rules.items())

    def owners_of(self, path: str) -> Match | None:
        hits = [prefix for prefix in self.by_prefix if path.startswith(prefix)]
        return Match(self.by_prefix[max(hits, key=len)]) if hits else None


def run(
    files: dict[str, str],
    *,
    requirements: ManifestRequirements | None = None,
    codeowners: Mapping[str, tuple[str, ...]] | None = None,
    changed: frozenset[str] | None = None,
) -> list[Finding]:
    catalog = default_catalog()
    snapshot = DictSnapshot(files)
    services, parse_findings = discover_services(snapshot, catalog)
    assert [f.rule for f in parse_findings] == []
    ctx = Context(
        snapshot=snapshot,
        catalog=catalog,
        policy=Policy(manifests=requirements or ManifestRequirements()),
        today=date(2025, 1, 1),
        codeowners=StubCodeOwners(codeowners) if codeowners is not None else None,  # type: ignore[arg-type]
        services=services,
        changed=changed,
    )
    return list(check_manifests(ctx))


def requiring(*fields: str) -> ManifestRequirements:
    return ManifestRequirements(always=fields, by_tier={}, by_data={})


def rules(findings: list[Finding]) -> list[str]:
    return [f.rule for f in findings]


TEAM: Mapping[str, tuple[str, ...]] = {"": ("@acme/payments",)}


def test_complete_manifest_has_no_findings_under_the_default_policy() -> None:
    assert run({"svc/catalog-info.yaml": COMPLETE}, codeowners=TEAM) == []


def test_every_field_required_and_present_passes() -> None:
    everything = requiring(*FIELD_RULES, "slo")
    text = COMPLETE.replace("  links:", "    ghapp.dev/slo: https://slo.example.com/p\n  links:")
    assert run({"catalog-info.yaml": text}, requirements=everything, codeowners=TEAM) == []


# --- required fields -------------------------------------------------------------------------

BARE_BACKSTAGE = (
    "kind: Component\nmetadata:\n  name: bare\n  annotations: {}\nspec:\n  type: service\n"
)
BARE_OPSLEVEL = "version: 1\nservice:\n  name: bare\n"
BARE_CORTEX = "openapi: 3.0.1\ninfo:\n  x-cortex-tag: bare\n"


@pytest.mark.parametrize(
    ("field", "rule", "line", "fix_mentions"),
    [
        ("owner", "manifest/missing-owner", 5, "spec.owner: group:"),
        (
            "oncall",
            "manifest/missing-oncall",
            4,
            'metadata.annotations["pagerduty.com/service-id"]',
        ),
        ("tier", "manifest/missing-tier", 4, 'metadata.annotations["ghapp.dev/tier"]'),
        ("data", "manifest/missing-data-classification", 4, "ghapp.dev/data-classification"),
        ("runbook", "manifest/missing-runbook", 2, "type: runbook"),
        ("dashboard", "manifest/missing-dashboard", 4, "type: dashboard"),
        ("slo", "manifest/missing-slo", 4, "ghapp.dev/slo"),
        ("lifecycle", "manifest/missing-lifecycle", 5, "spec.lifecycle"),
        ("system", "manifest/missing-system", 5, "spec.system"),
    ],
)
def test_each_required_field_has_its_own_rule(
    field: str, rule: str, line: int, fix_mentions: str
) -> None:
    findings = run(
        {"svc/catalog-info.yaml": BARE_BACKSTAGE}, requirements=requiring(field), codeowners=TEAM
    )
    assert len(findings) == 1
    finding = findings[0]
    assert (finding.rule, finding.path, finding.line) == (rule, "svc/catalog-info.yaml", line)
    assert (finding.service, finding.subject, finding.owners) == ("bare", f"bare:{field}", ())
    assert finding.fix is not None and fix_mentions in finding.fix
    assert finding.suggestion is None


@pytest.mark.parametrize(
    ("name", "text", "field", "fix_mentions"),
    [
        ("opslevel.yml", BARE_OPSLEVEL, "owner", "service.owner"),
        ("opslevel.yml", BARE_OPSLEVEL, "oncall", "category: incidents"),
        ("opslevel.yml", BARE_OPSLEVEL, "tier", "service.tier: tier_1"),
        ("opslevel.yml", BARE_OPSLEVEL, "runbook", "category: runbooks"),
        ("cortex.yaml", BARE_CORTEX, "owner", "x-cortex-owners"),
        ("cortex.yaml", BARE_CORTEX, "oncall", "x-cortex-oncall"),
        ("cortex.yaml", BARE_CORTEX, "data", "x-cortex-custom-metadata"),
        ("cortex.yaml", BARE_CORTEX, "runbook", "type: RUNBOOK"),
    ],
)
def test_fix_text_speaks_the_manifests_own_format(
    name: str, text: str, field: str, fix_mentions: str
) -> None:
    findings = run({name: text}, requirements=requiring(field), codeowners=TEAM)
    assert rules(findings) == [FIELD_RULES[field]]
    assert findings[0].fix is not None and fix_mentions in findings[0].fix
    assert findings[0].line == 2  # the `service:` / `info:` block


def test_tier_and_data_raise_the_requirements() -> None:
    text = COMPLETE.replace("    pagerduty.com/service-id: PABC123\n", "")
    text = text.replace("    ghapp.dev/runbook: https://wiki.example.com/payments\n", "")
    findings = run({"catalog-info.yaml": text}, codeowners=TEAM)
    # Default policy: tier 1 needs oncall, runbook, data; PCI needs oncall, tier, runbook.
    assert rules(findings) == ["manifest/missing-oncall", "manifest/missing-runbook"]
    assert "tier 1 services must" in findings[0].message


def test_data_class_requirements_apply_without_a_tier() -> None:
    text = "kind: Component\nmetadata:\n  name: p\n  tags: [phi]\nspec:\n  owner: payments\n"
    findings = run({"catalog-info.yaml": text}, codeowners=TEAM)
    assert rules(findings) == [
        "manifest/missing-oncall",
        "manifest/missing-tier",
        "manifest/missing-runbook",
    ]
    assert "PHI data" in findings[1].message


@pytest.mark.parametrize("key", ["1", "tier-1", "tier_1"])
def test_by_tier_keys_are_normalised_like_manifest_tiers(key: str) -> None:
    requirements = ManifestRequirements(
        always=(), by_tier=MappingProxyType({key: ("slo",)}), by_data={}
    )
    service = Service(name="s", path="", manifest="catalog-info.yaml", tier="1")
    assert required_fields(service, requirements) == {"slo": "tier 1 services"}


def test_invalid_tier_applies_no_tier_requirements() -> None:
    service = Service(name="s", path="", manifest="catalog-info.yaml", tier="gold")
    assert required_fields(service, ManifestRequirements(always=())) == {}


def test_data_none_satisfies_a_data_requirement() -> None:
    text = COMPLETE.replace("data-classification: pci", "data-classification: none")
    assert run({"catalog-info.yaml": text}, codeowners=TEAM) == []


# --- malformed values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "rule", "line"),
    [
        ('ghapp.dev/tier: "1"', "ghapp.dev/tier: gold", "manifest/invalid-tier", 6),
        ("data-classification: pci", "data-classification: pci-dss", "manifest/invalid-data-classification", 7),
        ("data-classification: pci", "data-classification: 'none, pci'", "manifest/invalid-data-classification", 7),
        ("owner: group:default/payments", "owner: payments team", "manifest/invalid-owner", 13),
        ("owner: group:default/payments", "owner: [a, b]", "manifest/invalid-owner", 13),
        ("owner: group:default/payments", "owner: component:payments", "manifest/invalid-owner", 13),
    ],
)  # fmt: skip
def test_malformed_values(old: str, new: str, rule: str, line: int) -> None:
    findings = run({"catalog-info.yaml": COMPLETE.replace(old, new)}, codeowners=TEAM)
    assert [(f.rule, f.line) for f in findings] == [(rule, line)]


def test_data_classes_named_by_the_policy_are_valid() -> None:
    text = COMPLETE.replace("data-classification: pci", "data-classification: 'pci,gdpr'")
    assert rules(run({"catalog-info.yaml": text}, codeowners=TEAM)) == [
        "manifest/invalid-data-classification"
    ]
    requirements = ManifestRequirements(by_data={"gdpr": ("oncall",)})
    assert run({"catalog-info.yaml": text}, requirements=requirements, codeowners=TEAM) == []


@pytest.mark.parametrize(
    ("owner", "source", "valid"),
    [
        ("payments", "backstage", True),
        ("group:payments", "backstage", True),
        ("group:default/payments", "backstage", True),
        ("user:alice", "backstage", True),
        ("@acme/payments", "backstage", True),
        ("@alice", "backstage", True),
        ("team@example.com", "backstage", True),
        ("orders_team", "opslevel", True),
        ("Platform Team", "cortex", True),  # Cortex group names come from the identity provider
        ("payments team", "backstage", False),
        ("component:payments", "backstage", False),
        ("group:", "backstage", False),
        ("a, b", "backstage", False),
        ("a, b", "cortex", False),
        ("x" * 64, "backstage", False),
    ],
)
def test_owner_reference_forms(owner: str, source: str, valid: bool) -> None:
    assert is_valid_owner(owner, source) is valid


# --- duplicates ---------------------------------------------------------------------------------


def component(name: str) -> str:
    return f"kind: Component\nmetadata:\n  name: {name}\nspec:\n  owner: payments\n"


@pytest.mark.parametrize(
    ("files", "duplicates"),
    [
        ({"a/catalog-info.yaml": component("svc"), "b/catalog-info.yaml": component("SVC")},
         [("b/catalog-info.yaml", 1)]),
        ({"catalog-info.yaml": component("svc") + "---\n" + component("svc")},
         [("catalog-info.yaml", 7)]),
        # One service described for two tools in one directory is not a duplicate ...
        ({"a/catalog-info.yaml": component("svc"), "a/opslevel.yml": "service:\n  name: svc\n"}, []),
        # ... but the same name in another directory is.
        ({"a/catalog-info.yaml": component("svc"), "b/opslevel.yml": "service:\n  name: svc\n"},
         [("b/opslevel.yml", 1)]),
        ({"a/catalog-info.yaml": component("one"), "b/catalog-info.yaml": component("two")}, []),
    ],
)  # fmt: skip
def test_duplicate_service_names(files: dict[str, str], duplicates: list[tuple[str, int]]) -> None:
    findings = [f for f in run(files, codeowners=TEAM) if f.rule == "manifest/duplicate-name"]
    assert [(f.path, f.line) for f in findings] == duplicates


# --- CODEOWNERS consistency ----------------------------------------------------------------------

GROUPS = """\
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: open-source
  annotations:
    github.com/team-slug: acme/engineering
spec:
  type: team
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: payments
spec:
  type: team
"""
LOCATION = """\
apiVersion: backstage.io/v1alpha1
kind: Location
metadata:
  name: org
spec:
  targets: [./org/groups.yaml, https://example.com/elsewhere.yaml]
"""


@pytest.mark.parametrize(
    ("files", "codeowners", "expected"),
    [
        # The Group entity says open-source is the GitHub team engineering: they agree.
        ({"catalog-info.yaml": GROUPS}, {"": ("@acme/engineering",)}, []),
        # ... and that it is not the team that CODEOWNERS names: a real disagreement.
        ({"catalog-info.yaml": GROUPS}, {"": ("@acme/billing",)}, ["manifest/owner-mismatch"]),
        # Group entities in a file a Location targets count too.
        (
            {"catalog-info.yaml": LOCATION, "org/groups.yaml": GROUPS},
            {"": ("@acme/billing",)},
            ["manifest/owner-mismatch"],
        ),
        (
            {"catalog-info.yaml": LOCATION, "org/groups.yaml": GROUPS},
            {"": ("@acme/engineering",)},
            [],
        ),
        # A Group entity without the annotation maps nothing.
        (
            {"catalog-info.yaml": GROUPS.replace("open-source", "other")},
            {"": ("@acme/billing",)},
            [],
        ),
    ],
)
def test_owner_mismatch_maps_groups_through_backstage_group_entities(
    files: dict[str, str], codeowners: dict[str, tuple[str, ...]], expected: list[str]
) -> None:
    found = run(
        {
            **files,
            "svc/catalog-info.yaml": component("svc").replace("payments", "group:open-source"),
        },
        codeowners=codeowners,
    )
    assert rules(found) == expected
    if expected:
        assert "acme/engineering per its Group entity" in found[0].message


@pytest.mark.parametrize(
    ("mapping", "codeowners", "expected"),
    [
        ({"open-source": ("@acme/engineering",)}, ("@acme/engineering",), []),
        ({"group:default/open-source": ("@acme/eng", "@acme/ops")}, ("@acme/ops",), []),
        (
            {"group:open-source": ("@acme/engineering",)},
            ("@acme/billing",),
            ["manifest/owner-mismatch"],
        ),
    ],
)
def test_owner_mismatch_maps_groups_through_the_policy(
    mapping: dict[str, tuple[str, ...]], codeowners: tuple[str, ...], expected: list[str]
) -> None:
    catalog = default_catalog()
    text = component("svc").replace("payments", "group:open-source")
    snapshot = DictSnapshot({"svc/catalog-info.yaml": text})
    services, _ = discover_services(snapshot, catalog)
    ctx = Context(
        snapshot=snapshot,
        catalog=catalog,
        policy=Policy(owner_teams=MappingProxyType(mapping)),
        today=date(2025, 1, 1),
        codeowners=StubCodeOwners({"": codeowners}),  # type: ignore[arg-type]
        services=services,
    )
    assert rules(list(check_manifests(ctx))) == expected


@pytest.mark.parametrize(
    ("owner", "codeowners", "expected"),
    [
        ("group:default/payments", {"svc/": ("@acme/payments",)}, []),
        ("payments", {"svc/": ("@acme/billing", "@acme/Payments")}, []),
        ("user:alice", {"svc/": ("@alice",)}, []),
        # A group is not a team: with no team of its name anywhere in CODEOWNERS (and no Group
        # entity or policy mapping) its team is unknown, so no disagreement can be shown.
        ("group:payments", {"svc/": ("@acme/billing",)}, []),
        ("group:open-source", {"": ("@acme/engineering",)}, []),
        # ... but a team of that name owning other paths is a real disagreement.
        (
            "group:payments",
            {"svc/": ("@acme/billing",), "pay/": ("@acme/payments",)},
            ["manifest/owner-mismatch"],
        ),
        ("user:alice", {"svc/": ("@bob",)}, ["manifest/owner-mismatch"]),
        ("group:payments", {"other/": ("@acme/billing",)}, []),  # no rule: nothing to compare
        ("group:payments", None, []),  # no CODEOWNERS file
        ("group:payments", {"svc/": ()}, []),  # a rule without owners unowns the path
    ],
)
def test_owner_mismatch_compares_team_slugs(
    owner: str, codeowners: dict[str, tuple[str, ...]] | None, expected: list[str]
) -> None:
    text = component("svc").replace("owner: payments", f"owner: {owner}")
    findings = run({"svc/catalog-info.yaml": text}, codeowners=codeowners)
    assert rules(findings) == expected
    if expected:
        assert findings[0].line == 5 and "@" in findings[0].message


@pytest.mark.parametrize(
    ("codeowners", "expected"),
    [
        (None, ["manifest/no-owner"]),
        ({"other/": ("@acme/x",)}, ["manifest/no-owner"]),
        ({"svc/": ()}, ["manifest/no-owner"]),
        ({"svc/": ("@acme/payments",)}, ["manifest/missing-owner"]),
    ],
)
def test_no_owner_anywhere_replaces_missing_owner(
    codeowners: dict[str, tuple[str, ...]] | None, expected: list[str]
) -> None:
    text = "kind: Component\nmetadata:\n  name: svc\nspec:\n  type: service\n"
    assert rules(run({"svc/catalog-info.yaml": text}, codeowners=codeowners)) == expected


def test_no_owner_is_reported_even_when_the_policy_does_not_require_an_owner() -> None:
    text = "service:\n  name: svc\n"
    findings = run({"opslevel.yml": text}, requirements=requiring())
    assert [(f.rule, f.line, f.service) for f in findings] == [("manifest/no-owner", 1, "svc")]


# --- whole-check properties ----------------------------------------------------------------------


def test_pull_request_evaluation_still_checks_every_service_deterministically() -> None:
    files = {
        "a/catalog-info.yaml": component("a").replace("owner: payments", "owner: bad owner"),
        "b/opslevel.yml": "service:\n  name: b\n  tier: gold\n",
    }
    whole = run(files)
    in_pr = run(files, changed=frozenset({"README.md"}))
    assert whole == in_pr == run(files)
    assert rules(whole) == ["manifest/invalid-owner", "manifest/invalid-tier", "manifest/no-owner"]


def test_every_manifest_rule_in_the_catalog_is_produced_somewhere() -> None:
    """Each rule in rules/manifest.yaml is reachable (parse rules via discovery, the rest here)."""
    files: dict[str, Any] = {
        "bad-yaml/catalog-info.yaml": "a: [\n",
        "list/catalog-info.yaml": "- a\n",
        "noname/catalog-info.yaml": "kind: Component\n",
        "kind/catalog-info.yaml": "kind: Widget\n",
        "link/catalog-info.yaml": component("l").replace(
            "spec:", "  annotations:\n    ghapp.dev/runbook: wiki/x\nspec:"
        ),
        "dup/catalog-info.yaml": component("l"),
        "values/catalog-info.yaml": component("v").replace("owner: payments", "owner: a b")
        + "  tier: gold\n",
        "data/catalog-info.yaml": component("d") + "  tier: 1\n",
        "mismatch/catalog-info.yaml": component("m").replace("payments", "group:billing"),
        "orphan/opslevel.yml": "service:\n  name: o\n",
        "ownerless/opslevel.yml": "service:\n  name: w\n",
    }
    catalog = default_catalog()
    snapshot = DictSnapshot(files)
    services, parse_findings = discover_services(snapshot, catalog)
    ctx = Context(
        snapshot=snapshot,
        catalog=catalog,
        policy=Policy(manifests=requiring(*FIELD_RULES)),
        today=date(2025, 1, 1),
        codeowners=StubCodeOwners(  # type: ignore[arg-type]
            {
                "mismatch/": ("@acme/payments",),
                "ownerless/": ("@acme/w",),
                "billing/": ("@acme/billing",),
            }
        ),
        services=services,
    )
    ctx_data = Context(
        snapshot=snapshot,
        catalog=catalog,
        policy=Policy(),
        today=date(2025, 1, 1),
        services=(Service(name="x", path="", manifest="x/catalog-info.yaml", data=("hipaa",)),),
    )
    produced = {
        f.rule for f in (*parse_findings, *check_manifests(ctx), *check_manifests(ctx_data))
    }
    declared = {rule for rule in catalog.rules if rule.startswith("manifest/")}
    assert produced == declared

"""Service manifests: discovery, field conventions per tool, nearest-manifest-wins, owner slugs."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import date
from textwrap import dedent
from typing import Any

import pytest

from ghapp.core.context import Context
from ghapp.core.manifests.checks import check_manifests
from ghapp.core.manifests.services import (
    ServiceIndex,
    discover_services,
    normalise_tier,
    owner_team_slug,
    owner_user,
    owners_match,
    service_of,
)
from ghapp.core.model import Finding, Service
from ghapp.core.policy.policy import Policy
from ghapp.core.snapshot import DictSnapshot
from ghapp.core.yamlnodes import MAX_YAML_BYTES
from ghapp.rules import default_catalog

PAYMENTS = dedent(
    """\
    apiVersion: backstage.io/v1alpha1
    kind: Component
    metadata:
      name: payments
      annotations:
        pagerduty.com/service-id: PABC123
        ghapp.dev/tier: "1"
        ghapp.dev/data-classification: "PCI, pii"
      links:
        - url: https://wiki.example.com/payments/runbook
          title: Payments runbook
        - url: https://grafana.example.com/d/payments
          title: Payments
          type: dashboard
    spec:
      type: service
      owner: group:default/payments
      lifecycle: production
      system: checkout
    """
)


def discover(files: Mapping[str, str | bytes]) -> tuple[tuple[Service, ...], tuple[Finding, ...]]:
    return discover_services(DictSnapshot(files), default_catalog())


def only_service(files: Mapping[str, str | bytes]) -> Service:
    services, findings = discover(files)
    assert findings == ()
    assert len(services) == 1
    return services[0]


def backstage(annotations: str = "", metadata: str = "", spec: str = "") -> str:
    """A Component with the given extra YAML lines (already indented for their block)."""
    text = "kind: Component\nmetadata:\n  name: svc\n"
    text += f"  annotations:\n{annotations}" if annotations else ""
    text += metadata
    return text + "spec:\n  owner: team-a\n" + spec


# --- flavours --------------------------------------------------------------------------------


def test_backstage_component_maps_every_field_with_its_line() -> None:
    service = only_service({"services/payments/catalog-info.yaml": PAYMENTS})
    assert service == Service(
        name="payments",
        path="services/payments",
        manifest="services/payments/catalog-info.yaml",
        source="backstage",
        owner="group:default/payments",
        oncall=("pagerduty:PABC123",),
        tier="1",
        data=("pci", "pii"),
        lifecycle="production",
        system="checkout",
        runbook="https://wiki.example.com/payments/runbook",
        dashboard="https://grafana.example.com/d/payments",
        line=1,
        lines=service.lines,
    )
    assert {f: service.line_of(f) for f in ("owner", "oncall", "tier", "data", "runbook")} == {
        "owner": 17,
        "oncall": 6,
        "tier": 7,
        "data": 8,
        "runbook": 10,
    }
    assert service.line_of("spec") == 15  # where missing spec fields go


def test_opslevel_service_maps_owner_tier_tools_and_tags() -> None:
    text = dedent(
        """\
        version: 1
        service:
          name: Order Processor
          owner: orders_team
          tier: tier_2
          lifecycle: generally_available
          tags:
            - key: pci
              value: "true"
            - key: ghapp.dev/escalation
              value: "#orders-oncall"
          tools:
            - name: PagerDuty
              category: incidents
              url: https://acme.pagerduty.com/services/P1
            - name: Runbook
              category: runbooks
              url: https://wiki.example.com/orders
            - name: Grafana
              category: metrics
              url: https://grafana.example.com/d/orders
        """
    )
    service = only_service({"orders/opslevel.yml": text})
    assert (service.name, service.source, service.path) == ("Order Processor", "opslevel", "orders")
    assert (service.owner, service.tier, service.lifecycle) == (
        "orders_team",
        "2",
        "generally_available",
    )
    assert service.data == ("pci",)
    assert service.oncall == (
        "escalation:#orders-oncall",
        "incidents:https://acme.pagerduty.com/services/P1",
    )
    assert service.runbook == "https://wiki.example.com/orders"
    assert service.dashboard == "https://grafana.example.com/d/orders"
    assert service.line_of("tier") == 5


def test_cortex_descriptor_maps_tag_owners_oncall_links_and_groups() -> None:
    text = dedent(
        """\
        openapi: 3.0.1
        info:
          title: Chat Service
          x-cortex-tag: chat-service
          x-cortex-type: service
          x-cortex-groups:
            - tier:1
            - PCI:true
          x-cortex-owners:
            - type: email
              email: chat@example.com
            - type: group
              name: acme/chat
              provider: GITHUB
          x-cortex-oncall:
            pagerduty:
              id: ASDF1234
              type: SCHEDULE
          x-cortex-link:
            - name: Chat runbook
              type: RUNBOOK
              url: https://wiki.example.com/chat
          x-cortex-slos:
            datadog:
              - id: abc
          x-cortex-custom-metadata:
            lifecycle: production
        """
    )
    service = only_service({"chat/cortex.yaml": text})
    assert (service.name, service.source) == ("chat-service", "cortex")
    assert service.owner == "@acme/chat"  # a GitHub-provided group is a GitHub team handle
    assert (service.tier, service.data, service.oncall) == ("1", ("pci",), ("pagerduty:ASDF1234",))
    assert (service.runbook, service.slo, service.lifecycle) == (
        "https://wiki.example.com/chat",
        "datadog",
        "production",
    )


def test_cortex_owner_falls_back_to_email_and_skips_non_service_entities() -> None:
    owned = "info:\n  x-cortex-tag: a\n  x-cortex-owners:\n    - type: email\n      email: a@x.io\n"
    assert only_service({"cortex.yaml": owned}).owner == "a@x.io"
    team = "info:\n  x-cortex-tag: payments-team\n  x-cortex-type: team\n"
    assert discover({"cortex.yaml": team}) == ((), ())


def test_opslevel_component_key_and_repository_records() -> None:
    assert only_service({"opslevel.yml": "version: 1\ncomponent:\n  name: c\n"}).name == "c"
    assert discover({"opslevel.yml": "version: 1\nrepository:\n  owner: team-a\n"}) == ((), ())


# --- field conventions -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "tier"),
    [
        (1, "1"),
        ("1", "1"),
        ("tier1", "1"),
        ("tier-1", "1"),
        ("tier_2", "2"),
        ("Tier 3", "3"),
        ("TIER-01", "1"),
        (0, "0"),
        ("critical", "1"),
        ("mission-critical", "1"),
        ("high", "2"),
        ("medium", "3"),
        ("low", "4"),
        ("gold", None),
        ("-1", None),
        (True, None),
        (1.5, None),
        (100, None),
        (None, None),
    ],
)
def test_tier_normalisation(value: Any, tier: str | None) -> None:
    assert normalise_tier(value) == tier


@pytest.mark.parametrize(
    ("extra", "tier"),
    [
        ({"annotations": '    ghapp.dev/tier: "tier-2"\n'}, "2"),
        ({"metadata": "  labels:\n    tier: tier1\n"}, "1"),
        ({"spec": "  tier: 3\n"}, "3"),
        ({"metadata": "  tags: [java, tier-2]\n"}, "2"),
        ({"metadata": "  tags: [java, tier:3]\n"}, "3"),
        # The annotation is explicit and wins over a label.
        ({"annotations": "    ghapp.dev/tier: 1\n", "metadata": "  labels:\n    tier: '3'\n"}, "1"),
        # An unrecognised value is kept as written, for manifest/invalid-tier.
        ({"spec": "  tier: gold\n"}, "gold"),
        ({"metadata": "  tags: [java]\n"}, None),
    ],
)
def test_backstage_tier_sources(extra: dict[str, str], tier: str | None) -> None:
    assert only_service({"catalog-info.yaml": backstage(**extra)}).tier == tier


@pytest.mark.parametrize(
    ("extra", "data"),
    [
        ({"annotations": '    ghapp.dev/data-classification: "PHI, pci"\n'}, ("pci", "phi")),
        ({"annotations": "    ghapp.dev/data-classification: none\n"}, ("none",)),
        ({"metadata": "  labels:\n    data-classification: pii\n"}, ("pii",)),
        ({"metadata": "  labels:\n    pci: 'true'\n    phi: 'false'\n"}, ("pci",)),
        ({"metadata": "  tags: [pii, phi, java]\n"}, ("phi", "pii")),
        ({"metadata": "  tags: [java]\n"}, ()),
    ],
)
def test_backstage_data_classification_sources(
    extra: dict[str, str], data: tuple[str, ...]
) -> None:
    assert only_service({"catalog-info.yaml": backstage(**extra)}).data == data


@pytest.mark.parametrize(
    ("annotations", "oncall"),
    [
        ("    pagerduty.com/service-id: P123\n", ("pagerduty:P123",)),
        # The integration key can open incidents: its presence counts, its value is not copied.
        ("    pagerduty.com/integration-key: 0123abcd\n", ("pagerduty:integration-key",)),
        ("    opsgenie.com/team: payments\n", ("opsgenie:payments",)),
        ('    opsgenie.com/component-selector: "tag:payments"\n', ("opsgenie:tag:payments",)),
        ("    ghapp.dev/escalation: '#payments-oncall'\n", ("escalation:#payments-oncall",)),
        (
            "    opsgenie.com/team: t\n    ghapp.dev/escalation: x@example.com\n",
            ("escalation:x@example.com", "opsgenie:t"),
        ),
        ("    pagerduty.com/service-id: ''\n", ()),
    ],
)
def test_backstage_oncall_annotations(annotations: str, oncall: tuple[str, ...]) -> None:
    assert only_service({"catalog-info.yaml": backstage(annotations)}).oncall == oncall


@pytest.mark.parametrize(
    ("extra", "field", "value"),
    [
        (
            {"annotations": "    ghapp.dev/runbook: https://r.example\n"},
            "runbook",
            "https://r.example",
        ),
        (
            {"metadata": "  links:\n    - url: https://r.example\n      title: On-call Runbook\n"},
            "runbook",
            "https://r.example",
        ),
        (
            {"metadata": "  links:\n    - url: https://r.example\n      icon: runbook\n"},
            "runbook",
            "https://r.example",
        ),
        (
            {"metadata": "  links:\n    - url: https://d.example\n      type: dashboard\n"},
            "dashboard",
            "https://d.example",
        ),
        (
            {"annotations": "    ghapp.dev/dashboard: https://d.example\n"},
            "dashboard",
            "https://d.example",
        ),
        (
            {"annotations": "    grafana/dashboard-selector: \"tags @> 'svc'\"\n"},
            "dashboard",
            "tags @> 'svc'",
        ),
        ({"annotations": "    ghapp.dev/slo: https://s.example\n"}, "slo", "https://s.example"),
        (
            {"metadata": "  links:\n    - url: https://s.example\n      title: SLOs\n"},
            "slo",
            "https://s.example",
        ),
        (
            {"metadata": "  links:\n    - url: https://docs.example\n      title: Docs\n"},
            "runbook",
            None,
        ),
        # "slow" mentions no SLO: words are matched whole.
        (
            {"metadata": "  links:\n    - url: https://x.example\n      title: slow queries\n"},
            "slo",
            None,
        ),
    ],
)
def test_backstage_link_conventions(extra: dict[str, str], field: str, value: str | None) -> None:
    assert getattr(only_service({"catalog-info.yaml": backstage(**extra)}), field) == value


def test_backstage_skips_other_kinds_and_reads_every_document() -> None:
    text = PAYMENTS + dedent(
        """\
        ---
        apiVersion: backstage.io/v1alpha1
        kind: System
        metadata: {name: checkout}
        ---
        kind: Location
        spec: {targets: [./a.yaml]}
        ---
        kind: Component
        metadata: {name: payments-worker}
        spec: {owner: payments}
        """
    )
    services, findings = discover({"catalog-info.yaml": text})
    assert findings == ()
    assert [(s.name, s.line) for s in services] == [("payments", 1), ("payments-worker", 28)]


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rule", "line"),
    [
        ("kind: Component\nmetadata: [\n", "manifest/invalid-yaml", 3),
        ("kind: Component\n  name: x\n bad", "manifest/invalid-yaml", 2),
        ("- just\n- a list\n", "manifest/not-a-mapping", 1),
        ("kind: Component\nmetadata:\n  title: no name\n", "manifest/missing-name", 1),
        ("kind: Component\nmetadata:\n  name: {a: b}\n", "manifest/missing-name", 1),
        ("kind: Componnet\nmetadata:\n  name: x\n", "manifest/unknown-kind", 1),
        ("apiVersion: v1\nmetadata:\n  name: x\n", "manifest/unknown-kind", 1),
        ("a: &a [*a, *a]\n", "manifest/invalid-yaml", None),
    ],
)
def test_malformed_manifest_is_a_finding_with_a_line(
    text: str, rule: str, line: int | None
) -> None:
    services, findings = discover({"svc/catalog-info.yaml": text})
    assert services == ()
    assert [(f.rule, f.path) for f in findings] == [(rule, "svc/catalog-info.yaml")]
    if line is not None:
        assert findings[0].line == line
    assert findings[0].fix


@pytest.mark.parametrize(
    ("name", "text", "rule"),
    [
        ("opslevel.yml", "version: 1\nservices: []\n", "manifest/unknown-kind"),
        ("opslevel.yml", "version: 1\nservice:\n  owner: a\n", "manifest/missing-name"),
        ("cortex.yaml", "openapi: 3.0.1\n", "manifest/unknown-kind"),
        ("cortex.yaml", "info:\n  title: no tag\n", "manifest/missing-name"),
    ],
)
def test_malformed_opslevel_and_cortex(name: str, text: str, rule: str) -> None:
    services, findings = discover({name: text})
    assert (services, [f.rule for f in findings]) == ((), [rule])


def test_one_bad_document_does_not_hide_the_others() -> None:
    text = "kind: Widget\n---\n- a list\n---\nkind: Component\nmetadata: {name: ok}\n"
    services, findings = discover({"catalog-info.yaml": text})
    assert [s.name for s in services] == ["ok"]
    assert [(f.rule, f.line) for f in findings] == [
        ("manifest/unknown-kind", 1),
        ("manifest/not-a-mapping", 3),
    ]


def test_oversized_manifest_is_reported_without_parsing() -> None:
    huge = "kind: Component\n" + "#" * MAX_YAML_BYTES
    services, findings = discover({"catalog-info.yaml": huge})
    assert services == () and [f.rule for f in findings] == ["manifest/invalid-yaml"]
    assert "bytes" in findings[0].message


def test_invalid_utf8_does_not_crash() -> None:
    service = only_service({"catalog-info.yaml": b"kind: Component\nmetadata:\n  name: caf\xe9\n"})
    assert service.name == "caf\ufffd"


@pytest.mark.parametrize(
    ("url", "suggestion"),
    [
        ("wiki.example.com/runbook", "  ghapp.dev/runbook: https://wiki.example.com/runbook"),
        ("docs/RUNBOOK.md", None),
        ("ftp://wiki.example.com/runbook", None),
        ("javascript:alert(1)", None),
    ],
)
def test_runbook_that_is_not_an_http_url_is_invalid_link(url: str, suggestion: str | None) -> None:
    text = f"kind: Component\nmetadata:\n  name: svc\n  annotations:\n  ghapp.dev/runbook: {url}\n"
    text = text.replace("  annotations:\n  ", "  annotations:\n    ")
    services, findings = discover({"catalog-info.yaml": text})
    assert services[0].runbook == url  # kept, so manifest/missing-runbook does not also fire
    assert [(f.rule, f.line, f.service) for f in findings] == [("manifest/invalid-link", 5, "svc")]
    expected = None if suggestion is None else "  " + suggestion
    assert findings[0].suggestion == expected


def test_grafana_selector_is_not_checked_as_a_url() -> None:
    notes = "    grafana/dashboard-selector: \"title == 'svc'\"\n"
    assert only_service({"catalog-info.yaml": backstage(notes)}).dashboard == "title == 'svc'"


# --- discovery and nearest manifest ------------------------------------------------------------


def test_manifest_file_names_and_roots() -> None:
    files = {
        "catalog-info.yaml": backstage(),
        "a/catalog-info.yml": backstage().replace("name: svc", "name: a"),
        "b/opslevel.yaml": "service:\n  name: b\n",
        "c/cortex.yml": "info:\n  x-cortex-tag: c\n",
        "d/Catalog-Info.yaml": backstage(),  # names are case-sensitive, like git paths
        "e/catalog-info.yaml.bak": backstage(),
    }
    services, _ = discover(files)
    assert [(s.name, s.path, s.source) for s in services] == [
        ("svc", "", "backstage"),
        ("a", "a", "backstage"),
        ("b", "b", "opslevel"),
        ("c", "c", "cortex"),
    ]


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("README.md", "root"),
        ("services/x.py", "root"),
        ("services/payments/src/app.py", "payments"),
        ("services/payments/catalog-info.yaml", "payments"),
        ("services/payments/api/v1/spec.yaml", "payments-api"),
        ("services/payments-v2/app.py", "root"),  # a sibling with a common prefix is not inside
        ("services/payments/apix/a.py", "payments"),
    ],
)
def test_nearest_manifest_wins(path: str, service: str) -> None:
    def component(name: str) -> str:
        return f"kind: Component\nmetadata:\n  name: {name}\n"

    services, _ = discover(
        {
            "catalog-info.yaml": component("root"),
            "services/payments/catalog-info.yaml": component("payments"),
            "services/payments/api/catalog-info.yaml": component("payments-api"),
        }
    )
    found = service_of(services, path)
    assert found is not None and found.name == service


def test_no_manifest_above_means_no_service() -> None:
    services, _ = discover({"a/catalog-info.yaml": "kind: Component\nmetadata: {name: a}\n"})
    assert service_of(services, "b/file.py") is None
    assert service_of((), "a/file.py") is None


def test_backstage_wins_over_other_tools_in_the_same_directory() -> None:
    services, _ = discover(
        {
            "svc/cortex.yaml": "info:\n  x-cortex-tag: from-cortex\n",
            "svc/opslevel.yml": "service:\n  name: from-opslevel\n",
            "svc/catalog-info.yaml": "kind: Component\nmetadata: {name: from-backstage}\n",
        }
    )
    assert [s.source for s in services] == ["backstage", "opslevel", "cortex"]
    found = service_of(services, "svc/main.go")
    assert found is not None and found.name == "from-backstage"


def test_service_of_is_fast_for_100k_paths() -> None:
    services = tuple(
        Service(name=f"s{i}", path=f"services/s{i}", manifest=f"services/s{i}/catalog-info.yaml")
        for i in range(500)
    )
    paths = [f"services/s{i % 600}/src/pkg/mod{i}.py" for i in range(100_000)]
    start = time.perf_counter()
    hits = sum(service_of(services, p) is not None for p in paths)
    elapsed = time.perf_counter() - start
    assert hits == sum(1 for i in range(100_000) if i % 600 < 500)
    assert elapsed < 2.0, f"{elapsed:.2f}s for 100k lookups"
    index = ServiceIndex(services)
    assert index.service_of("services/s7/a.py") == services[7]


# --- owners ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("owner", "slug"),
    [
        ("payments", "payments"),
        ("group:payments", "payments"),
        ("group:default/payments", "payments"),
        ("Group:Default/Payments", "payments"),
        ("@acme/payments", "payments"),
        ("@Acme/Payments-Team", "payments-team"),
        ("orders_team", "orders-team"),  # punctuation folded as GitHub team slugs do
        ("Payments Team", "payments-team"),
        ("user:alice", None),
        ("user:default/alice", None),
        ("@alice", None),
        ("alice@example.com", None),
        ("@acme/", None),
    ],
)
def test_owner_team_slug(owner: str, slug: str | None) -> None:
    assert owner_team_slug(owner) == slug


@pytest.mark.parametrize(
    ("owner", "user"),
    [("user:alice", "alice"), ("user:default/Alice", "alice"), ("@alice", "alice"),
     ("@acme/team", None), ("group:alice", None), ("alice", None)],
)  # fmt: skip
def test_owner_user(owner: str, user: str | None) -> None:
    assert owner_user(owner) == user


@pytest.mark.parametrize(
    ("manifest_owner", "codeowner", "same"),
    [
        ("group:default/payments", "@acme/payments", True),
        ("payments", "@acme/PAYMENTS", True),
        ("orders_team", "@acme/orders-team", True),
        ("group:payments", "@acme/payments-eng", False),
        ("user:alice", "@alice", True),
        ("user:alice", "@acme/alice", False),
        ("alice", "@alice", False),  # a bare name is a group in Backstage
        ("pay@example.com", "PAY@example.com", True),
        ("@acme/payments", "@acme/payments", True),
    ],
)
def test_owners_match_by_team_slug_user_or_email(
    manifest_owner: str, codeowner: str, same: bool
) -> None:
    assert owners_match(manifest_owner, codeowner) is same


ODD_VALUES = ["[]", "{}", "~", "0", "true", "[1, {a: b}]", "{url: 5}", "''", "[[x]]"]
FLAVOURS = {
    "catalog-info.yaml": PAYMENTS + "  tier: VALUE\n",
    "opslevel.yml": dedent(
        """\
        version: 1
        service:
          name: o
          owner: team
          tier: tier_1
          tags: [{key: pci, value: 'true'}, 'tier:1']
          tools: [{name: PD, category: incidents, url: 'https://x'}]
        """
    ),
    "cortex.yaml": dedent(
        """\
        info:
          x-cortex-tag: c
          x-cortex-groups: [tier-1, pci]
          x-cortex-owners: [{type: group, name: a/b, provider: GITHUB}]
          x-cortex-oncall: {pagerduty: {id: P1, type: SERVICE}}
          x-cortex-link: [{name: rb, type: RUNBOOK, url: 'https://x'}]
          x-cortex-slos: {datadog: [1]}
          x-cortex-custom-metadata: {tier: 1}
        """
    ),
}


@pytest.mark.parametrize("name", sorted(FLAVOURS))
@pytest.mark.parametrize("odd", ODD_VALUES)
def test_a_value_of_the_wrong_type_never_raises(name: str, odd: str) -> None:
    """Replace each value in turn (one line at a time) with a value of another YAML type."""
    lines = FLAVOURS[name].splitlines()
    for i, line in enumerate(lines):
        key, colon, _ = line.partition(":")
        if not colon:
            continue
        mutated = [*lines[:i], f"{key}: {odd}", *lines[i + 1 :]]
        services, findings = discover({f"x/{name}": "\n".join(mutated) + "\n"})
        ctx = Context(
            snapshot=DictSnapshot({}),
            catalog=default_catalog(),
            policy=Policy(),
            today=date(2025, 1, 1),
            services=services,
        )
        checked = list(check_manifests(ctx))
        assert all(f.rule.startswith("manifest/") for f in (*findings, *checked))

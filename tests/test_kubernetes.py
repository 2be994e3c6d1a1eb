"""Kubernetes manifest checks: fixtures with inline expectations, then the finer points.

Every `tests/data/k8s/*.yaml` fixture marks the lines that must be reported with
`# ruleid: k8s/<id>[, k8s/<id>...]` and lines that must not with `# ok: k8s/<id>`; the single
parametrised test asserts exactly the marked (rule, line) pairs are reported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

import pytest

from ghapp.core.context import Context
from ghapp.core.kubernetes.checks import check_kubernetes
from ghapp.core.kubernetes.podspec import tag_of
from ghapp.core.kubernetes.workloads import manifest_candidates
from ghapp.core.model import Finding
from ghapp.core.policy.policy import Policy
from ghapp.core.snapshot import DictSnapshot
from ghapp.core.yamlnodes import MAX_YAML_BYTES
from ghapp.rules import catalog_dir, load_catalog

FIXTURES = Path(__file__).parent / "data" / "k8s"
# The shipped k8s rules file alone, so that a rules file being edited elsewhere cannot break these.
CATALOG = load_catalog([catalog_dir() / "k8s.yaml"])
_ANNOTATION = re.compile(r"#\s*(ruleid|ok):\s*([^#]+)")


def check(files: Mapping[str, str | bytes], policy: Policy | None = None) -> list[Finding]:
    ctx = Context(
        snapshot=DictSnapshot(files),
        catalog=CATALOG,
        policy=policy or Policy(),
        today=date(2024, 6, 1),
    )
    return list(check_kubernetes(ctx))


RESTRICTED = Policy(pod_security="restricted")


def expectations(text: str) -> tuple[set[tuple[str, int]], set[tuple[str, int]]]:
    """The (rule, line) pairs a fixture marks as `ruleid` (expected) and `ok` (forbidden)."""
    marked: dict[str, set[tuple[str, int]]] = {"ruleid": set(), "ok": set()}
    for number, line in enumerate(text.splitlines(), start=1):
        for kind, rules in _ANNOTATION.findall(line):
            marked[kind].update((rule.strip(), number) for rule in rules.split(","))
    return marked["ruleid"], marked["ok"]


def pairs(findings: Sequence[Finding], rule: str | None = None) -> set[tuple[str, int | None]]:
    return {(f.rule, f.line) for f in findings if rule is None or f.rule == rule}


POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  containers:
    - name: app
      image: app:1.0
"""
HARDENED_CONTAINER = """\
      livenessProbe: {tcpSocket: {port: 80}}
      readinessProbe: {tcpSocket: {port: 80}}
      resources: {limits: {cpu: 100m, memory: 64Mi}}
      securityContext:
        runAsNonRoot: true
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
"""


@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("*.yaml")), ids=lambda p: p.name)
def test_fixture_reports_exactly_the_marked_lines(fixture: Path) -> None:
    text = fixture.read_text()
    expected, forbidden = expectations(text)
    assert expected, "a fixture must mark at least one finding"
    policy = RESTRICTED if fixture.name.startswith("restricted") else None
    found = pairs(check({f"deploy/{fixture.name}": text}, policy))
    assert found == expected
    assert not found & forbidden


def test_every_workload_rule_has_a_fixture_example() -> None:
    marked = set().union(*(expectations(p.read_text())[0] for p in FIXTURES.glob("*.yaml")))
    notices = {rule for rule, r in CATALOG.rules.items() if r.severity == "notice"}
    k8s_rules = {rule for rule in CATALOG.rules if rule.startswith("k8s/")} - notices
    assert k8s_rules <= {rule for rule, _ in marked}


def test_container_security_context_overrides_pod_field_by_field() -> None:
    manifest = """\
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  securityContext:
    runAsNonRoot: true
  containers:
    - name: a
      image: app:1.0
      securityContext:
        runAsNonRoot: false
    - name: b
      image: app:1.0
      securityContext:
        readOnlyRootFilesystem: true
"""
    root = [f for f in check({"p.yaml": manifest}) if f.rule == "k8s/run-as-root"]
    assert [(f.subject, f.line) for f in root] == [("Pod/p container a", 11)]
    assert root[0].suggestion == "        runAsNonRoot: true"


def test_non_zero_run_as_user_is_enough_without_run_as_non_root() -> None:
    manifest = POD.format(name="p") + "      securityContext: {runAsUser: 1000}\n"
    assert not pairs(check({"p.yaml": manifest}), "k8s/run-as-root")


def test_cronjob_pod_spec_is_found_under_job_template_and_needs_no_probes() -> None:
    manifest = """\
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  jobTemplate:
    spec:
      template:
        spec:
          hostNetwork: true
          containers: [{name: run, image: "run:1"}]
"""
    findings = check({"c.yaml": manifest})
    assert ("k8s/host-network", 9) in pairs(findings)
    assert {f.subject for f in findings if f.rule == "k8s/cpu-limit-missing"} == {
        "CronJob/nightly container run"
    }
    assert not {f.rule for f in findings} & {
        "k8s/liveness-probe-missing",
        "k8s/readiness-probe-missing",
    }


def test_list_items_are_checked_like_documents() -> None:
    manifest = """\
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: settings}
  - apiVersion: v1
    kind: Pod
    metadata: {name: listed}
    spec:
      containers: [{name: app, image: "app:1"}]
"""
    findings = check({"l.yaml": manifest})
    assert findings
    assert {f.subject for f in findings} == {"Pod/listed container app"}


def test_every_document_of_a_multi_document_file_is_checked() -> None:
    manifest = "---\n".join(POD.format(name=n) for n in ("one", "two", "three"))
    subjects = {f.subject for f in check({"m.yaml": manifest})}
    assert subjects == {f"Pod/{n} container app" for n in ("one", "two", "three")}


def test_malformed_document_does_not_hide_the_others_in_its_file() -> None:
    broken = POD.format(name="broken") + "      resources: [unclosed\n"
    manifest = POD.format(name="one") + "---\n" + broken + "--- # last\n" + POD.format(name="two")
    findings = check({"m.yaml": manifest})
    (notice,) = [f for f in findings if f.rule == "k8s/unparseable"]
    assert notice.line == 19  # where the parser gave up: the next document's `---`
    assert {f.subject for f in findings} - {"parse"} == {
        "Pod/one container app",
        "Pod/two container app",
    }
    assert max(f.line or 0 for f in findings if f.subject == "Pod/two container app") == 26


def test_non_workload_documents_are_not_parsed() -> None:
    service = "apiVersion: v1\nkind: Service\nmetadata: {name: containers}\nspec: [unclosed\n"
    manifest = service + "---\n" + POD.format(name="p")
    findings = check({"m.yaml": manifest})
    assert "k8s/unparseable" not in {f.rule for f in findings}
    assert {f.line for f in findings} == {12}  # the container line, counted from the file's top


def test_file_with_a_yaml_directive_is_parsed_whole() -> None:
    manifest = "%YAML 1.1\n---\n" + POD.format(name="a") + "---\n" + POD.format(name="b")
    subjects = {f.subject for f in check({"d.yaml": manifest})}
    assert subjects == {"Pod/a container app", "Pod/b container app"}


def test_unrendered_helm_template_is_skipped_silently() -> None:
    template = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "chart.fullname" . }}
spec:
  template:
    spec:
      containers:
        {{- range .Values.containers }}
        - name: {{ .name }}
        {{- end }}
"""
    assert check({"deploy/standalone.yaml": template}) == []


def test_helm_chart_templates_and_values_are_not_read() -> None:
    paths = ["chart/Chart.yaml", "chart/values.yaml", "chart/templates/deploy.yaml", "k/d.yaml"]
    assert manifest_candidates(paths) == ["k/d.yaml"]


def test_malformed_manifest_gives_an_unparseable_notice_at_the_line() -> None:
    broken = POD.format(name="p") + "      resources: [unclosed\n"
    findings = check({"bad.yaml": broken})
    assert [(f.rule, f.severity, f.path) for f in findings] == [
        ("k8s/unparseable", "notice", "bad.yaml")
    ]
    assert findings[0].line is not None and findings[0].line >= 9


def test_malformed_yaml_that_is_not_a_manifest_is_ignored() -> None:
    assert check({"notes.yaml": "key: [unclosed\n"}) == []


def test_heavily_aliased_document_is_checked_without_expanding_it() -> None:
    # 10**8 leaves if walked as a tree; the checks only read fixed paths, so this stays cheap.
    bomb = POD.format(name="p") + HARDENED_CONTAINER + "  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
    for level in range(1, 9):
        bomb += f"  a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 10) + "]\n"
    assert check({"bomb.yaml": bomb}) == []


def test_containers_shared_through_an_alias_are_checked_in_each_workload() -> None:
    manifest = """\
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Pod
    metadata: {name: one}
    spec:
      containers: &shared
        - name: app
          image: app
  - apiVersion: v1
    kind: Pod
    metadata: {name: two}
    spec:
      containers: *shared
"""
    tags = [f for f in check({"a.yaml": manifest}) if f.rule == "k8s/image-tag-latest"]
    assert [(f.subject, f.line) for f in tags] == [
        ("Pod/one container app", 10),
        ("Pod/two container app", 10),
    ]


@pytest.mark.parametrize(
    ("image", "tag"),
    [
        ("nginx", ""),
        ("nginx:latest", "latest"),
        ("nginx:1.25", "1.25"),
        ("localhost:5000/team/app", ""),
        ("localhost:5000/team/app:v2", "v2"),
        ("ghcr.io/org/app:", ""),
    ],
)
def test_tag_of_ignores_registry_port(image: str, tag: str) -> None:
    assert tag_of(image) == tag


@pytest.mark.parametrize(
    ("image", "reported"),
    [
        ("nginx@sha256:" + "a" * 64, False),
        ("nginx:latest@sha256:" + "a" * 64, False),
        ("nginx:1.25", False),
        ("nginx", True),
        ("nginx:latest", True),
        ("'{{ .Values.image }}'", False),
        ("${IMAGE}", False),
    ],
)
def test_digest_pinned_and_templated_images_are_not_reported(image: str, reported: bool) -> None:
    manifest = POD.format(name="p").replace("image: app:1.0", f"image: {image}")
    assert bool(pairs(check({"p.yaml": manifest}), "k8s/image-tag-latest")) is reported


def test_init_containers_need_no_probes_or_resources_but_are_held_to_security_checks() -> None:
    manifest = (
        """\
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  initContainers:
    - name: setup
      image: setup:1
      securityContext:
        runAsNonRoot: true
        allowPrivilegeEscalation: true
        readOnlyRootFilesystem: true
  containers:
    - name: app
      image: app:1.0
"""
        + HARDENED_CONTAINER
    )
    init = [f for f in check({"p.yaml": manifest}) if "init container" in f.subject]
    assert [(f.rule, f.line, f.subject) for f in init] == [
        ("k8s/privilege-escalation-allowed", 10, "Pod/p init container setup")
    ]
    assert init[0].suggestion == "        allowPrivilegeEscalation: false"


def test_hardened_container_has_no_findings() -> None:
    assert check({"p.yaml": POD.format(name="p") + HARDENED_CONTAINER}) == []


def test_limit_without_request_is_enough_because_the_request_defaults_to_it() -> None:
    manifest = POD.format(name="p") + "      resources: {limits: {cpu: 1, memory: 1Gi}}\n"
    rules = {f.rule for f in check({"p.yaml": manifest})}
    assert not rules & {"k8s/cpu-request-missing", "k8s/memory-request-missing"}


def test_suggestion_keeps_indentation_and_trailing_comment() -> None:
    manifest = POD.format(name="p") + (
        "      securityContext:\n        privileged:   true   # needed for the demo\n"
    )
    (privileged,) = [f for f in check({"p.yaml": manifest}) if f.rule == "k8s/privileged"]
    assert privileged.suggestion == "        privileged:   false   # needed for the demo"


def test_flow_style_settings_get_no_suggestion() -> None:
    manifest = POD.format(name="p") + "      securityContext: {privileged: true}\n"
    (privileged,) = [f for f in check({"p.yaml": manifest}) if f.rule == "k8s/privileged"]
    assert privileged.line == 9
    assert privileged.suggestion is None


def test_missing_settings_carry_no_suggestion() -> None:
    findings = check({"p.yaml": POD.format(name="p")})
    assert findings
    assert all(f.suggestion is None for f in findings)


def test_subject_is_stable_when_lines_move() -> None:
    manifest = POD.format(name="p")
    before = {f.fingerprint for f in check({"p.yaml": manifest})}
    after = check({"p.yaml": "# a new comment\n\n" + manifest})
    assert {f.fingerprint for f in after} == before
    assert all(f.line is not None and f.line > 2 for f in after)


def test_findings_name_the_workload_and_are_unowned() -> None:
    findings = check({"p.yaml": POD.format(name="payments-api")})
    assert all(f.message.startswith("Pod/payments-api container app ") for f in findings)
    assert all(f.owners == () and f.path == "p.yaml" for f in findings)


def test_output_is_sorted_by_path_line_and_rule() -> None:
    files = {f"svc{i}/p.yaml": POD.format(name=f"p{i}") for i in (3, 1, 2)}
    findings = check(files)
    keys = [(f.path, f.line, f.rule, f.subject) for f in findings]
    assert keys == sorted(keys)
    assert findings == check(dict(reversed(list(files.items()))))


def test_kustomize_patches_are_not_checked_as_workloads() -> None:
    patch = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec:\n  template:\n"
    patch += "    spec:\n      containers:\n        - name: api\n          image: api:2\n"
    kustomization = "resources: [../base]\npatches:\n  - path: patch.yaml\n"
    kustomization += "patchesStrategicMerge: [more/patch2.yaml]\n"
    files = {
        "overlays/prod/kustomization.yaml": kustomization,
        "overlays/prod/patch.yaml": patch,
        "overlays/prod/more/patch2.yaml": patch,
    }
    assert check(files) == []
    assert check({"overlays/prod/patch.yaml": patch}) != []


def test_container_without_image_is_a_fragment_and_is_not_checked() -> None:
    manifest = POD.format(name="p").replace("      image: app:1.0\n", "")
    assert check({"p.yaml": manifest}) == []


def test_file_over_the_size_limit_gets_a_notice_without_being_parsed() -> None:
    big = POD.format(name="p") + "#" * MAX_YAML_BYTES + "\n"
    findings = check({"big.yaml": big})
    assert [(f.rule, f.path) for f in findings] == [("k8s/file-too-large", "big.yaml")]


class _ReadRecorder(DictSnapshot):
    def __init__(self, files: Mapping[str, str | bytes]) -> None:
        super().__init__(files)
        self.reads: list[str] = []

    def read(self, path: str) -> bytes | None:
        self.reads.append(path)
        return super().read(path)


def test_only_plausible_yaml_files_are_read() -> None:
    pod = POD.format(name="p")
    snapshot = _ReadRecorder(
        {
            "src/app.py": "x = 1\n",
            ".github/workflows/ci.yml": pod,
            "docker-compose.yml": pod,
            "catalog-info.yaml": pod,
            "k8s/pod.yml": pod,
        }
    )
    ctx = Context(snapshot=snapshot, catalog=CATALOG, policy=Policy(), today=date(2024, 6, 1))
    findings = list(check_kubernetes(ctx))
    assert snapshot.reads == ["k8s/pod.yml"]
    assert {f.path for f in findings} == {"k8s/pod.yml"}


@pytest.mark.parametrize(
    ("document", "rules"),
    [
        ("just a string", set()),
        ("[1, 2, 3]", set()),
        ("apiVersion: v1\nkind: Pod\nspec: [containers]", set()),
        ("apiVersion: v1\nkind: Pod\nspec: {containers: [1, null, {name: x}]}", set()),
        ("apiVersion: v1\nkind: Deployment\nspec: {template: null}\n# containers", set()),
        ("apiVersion: v1\nkind: [Pod]\nspec: {containers: []}", set()),
        ("apiVersion: v1\nkind: List\nitems: {containers: 1}", set()),
        ("kind: Pod\nspec: {containers: [{image: x}]}\n# apiVersion", set()),
        (
            "apiVersion: v1\nkind: Pod\nspec: {volumes: [null, {hostPath: null}], containers: []}",
            {"k8s/host-path-volume"},
        ),
        (
            "apiVersion: v1\nkind: Pod\nspec: {containers: [{image: 7, resources: [], "
            "securityContext: {capabilities: {add: [null, 3]}, runAsUser: true}}]}",
            {
                "k8s/liveness-probe-missing",
                "k8s/readiness-probe-missing",
                "k8s/cpu-limit-missing",
                "k8s/cpu-request-missing",
                "k8s/memory-limit-missing",
                "k8s/memory-request-missing",
                "k8s/run-as-root",
                "k8s/privilege-escalation-allowed",
                "k8s/writable-root-filesystem",
            },
        ),
    ],
)
def test_odd_documents_do_not_crash(document: str, rules: set[str]) -> None:
    assert {f.rule for f in check({"odd.yaml": document})} == rules


def test_crlf_files_report_the_same_lines_and_suggestions() -> None:
    manifest = "---\n".join(
        POD.format(name=n) + "      securityContext:\n        privileged: true\n" for n in "ab"
    )
    unix = check({"u.yaml": manifest})
    windows = check({"u.yaml": manifest.replace("\n", "\r\n")})
    assert [(f.rule, f.line, f.suggestion) for f in windows] == [
        (f.rule, f.line, f.suggestion) for f in unix
    ]
    assert ("k8s/privileged", 21, "        privileged: false") in {
        (f.rule, f.line, f.suggestion) for f in windows
    }

"""Kubernetes inputs real repositories have: JSON manifests, OpenShift DeploymentConfigs,
kustomize patches, Helm test pods, build-tool images, the restricted Pod Security profile."""

from __future__ import annotations

import json
from datetime import date
from types import MappingProxyType

import pytest

from ghapp.core.context import Context
from ghapp.core.evaluate import evaluate
from ghapp.core.kubernetes.checks import check_kubernetes
from ghapp.core.kubernetes.workloads import image_name
from ghapp.core.model import Finding
from ghapp.core.policy.policy import Policy
from ghapp.core.snapshot import DictSnapshot
from ghapp.rules import default_catalog

SECURE = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
}
HARDENED = """\
          livenessProbe: {httpGet: {path: /, port: 80}}
          readinessProbe: {httpGet: {path: /, port: 80}}
          resources: {limits: {cpu: 100m, memory: 64Mi}}
          securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true}
"""
BASE = (
    """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: repo-server}
spec:
  template:
    spec:
      securityContext: {runAsNonRoot: true}
      containers:
        - name: repo-server
          image: example.com/repo-server:2.0
"""
    + HARDENED
)


def check(files: dict[str, str], policy: Policy | None = None) -> list[Finding]:
    ctx = Context(
        snapshot=DictSnapshot(files),
        catalog=default_catalog(),
        policy=policy or Policy(),
        today=date(2026, 1, 1),
    )
    return list(check_kubernetes(ctx))


def found(findings: list[Finding]) -> set[tuple[str, str | None, int | None]]:
    return {(f.rule, f.path, f.line) for f in findings}


def test_a_json_manifest_is_checked_with_its_lines() -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": "nginx", "securityContext": SECURE,
             "livenessProbe": {"tcpSocket": {"port": 80}},
             "readinessProbe": {"tcpSocket": {"port": 80}},
             "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}
        ]}}},
    }  # fmt: skip
    text = json.dumps(deployment, indent=2)
    image_line = next(i for i, t in enumerate(text.splitlines(), 1) if '"image"' in t)
    assert found(check({"deploy/web.json": text})) == {
        ("k8s/image-tag-latest", "deploy/web.json", image_line)
    }


def test_json_that_is_not_a_manifest_is_never_reported() -> None:
    pod_words = json.dumps({"apiVersion": "x", "kind": "y", "containers": "{{ broken"})
    files = {
        "package.json": json.dumps({"name": "x", "apiVersion": 1, "kind": 2, "containers": 3}),
        "dashboards/big.json": "[" + "0," * 1_100_000 + "0]",  # over the YAML size limit
        "schemas/pod.json": pod_words,
        "web/node_modules/lib/deploy.json": pod_words,
    }
    assert check(files) == []


def test_an_openshift_deployment_config_is_a_workload() -> None:
    dc = BASE.replace("apps/v1", "apps.openshift.io/v1").replace("Deployment", "DeploymentConfig")
    dc = dc.replace("repo-server:2.0", "repo-server:latest")
    assert [f.rule for f in check({"openshift/dc.yaml": dc})] == ["k8s/image-tag-latest"]


KUSTOMIZATION = "resources: [../base]\npatches:\n  - path: sidecar.yaml\n"


def patch(containers: str) -> str:
    return (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: repo-server}\n"
        "spec:\n  template:\n    spec:\n      containers:\n" + containers
    )


def test_a_patch_that_adds_a_complete_container_is_checked_in_its_base_pod() -> None:
    sidecar = "        - name: plugin\n          image: example.com/plugin\n"
    findings = check(
        {
            "base/deploy.yaml": BASE,
            "overlay/kustomization.yaml": KUSTOMIZATION,
            "overlay/sidecar.yaml": patch(sidecar),
        }
    )
    on_patch = {f.rule for f in findings if f.path == "overlay/sidecar.yaml"}
    # The base pod's `runAsNonRoot: true` applies: no run-as-root claim for the sidecar.
    assert "k8s/run-as-root" not in on_patch
    assert {"k8s/image-tag-latest", "k8s/liveness-probe-missing", "k8s/cpu-limit-missing"} <= (
        on_patch
    )
    assert all(f.path == "overlay/sidecar.yaml" for f in findings)


def test_a_patch_that_changes_a_base_container_is_not_checked() -> None:
    bump = "        - name: repo-server\n          image: example.com/repo-server:2.1\n"
    files = {
        "base/deploy.yaml": BASE,
        "overlay/kustomization.yaml": KUSTOMIZATION,
        "overlay/sidecar.yaml": patch(bump),
    }
    assert check(files) == []


def test_a_patch_whose_base_is_not_in_the_repository_is_not_checked() -> None:
    sidecar = "        - name: plugin\n          image: example.com/plugin\n"
    files = {"overlay/kustomization.yaml": KUSTOMIZATION, "overlay/sidecar.yaml": patch(sidecar)}
    assert check(files) == []


HELM_TEST = """\
apiVersion: v1
kind: Pod
metadata:
  name: "release-test-connection"
  annotations:
    "helm.sh/hook": test
spec:
  restartPolicy: Never
  containers:
    - name: wget
      image: busybox
"""


def test_a_rendered_helm_test_pod_is_a_test_fixture() -> None:
    files = {"CODEOWNERS": "* @acme/a\n", "rendered/all.yaml": HELM_TEST}
    report = evaluate(DictSnapshot(files), catalog=default_catalog(), today=date(2026, 1, 1))
    assert not [f for f in report.findings if f.rule.startswith("k8s/")]
    assert any(n.startswith("Not reported") for n in report.notes)
    files[".github/ghapp.yml"] = "test_fixtures: {report: true}\n"
    report = evaluate(DictSnapshot(files), catalog=default_catalog(), today=date(2026, 1, 1))
    assert "k8s/image-tag-latest" in {f.rule for f in report.findings}


SKAFFOLD = """\
apiVersion: skaffold/v4beta6
kind: Config
build:
  artifacts:
    - image: emailservice
      context: src/emailservice
profiles:
  - name: gcb
    build:
      artifacts:
        - image: loadgenerator
"""


def test_images_a_build_tool_substitutes_are_not_untagged() -> None:
    pods = "".join(
        f"---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {name}}}\nspec:\n"
        f"  containers: [{{name: c, image: '{image}'}}]\n"
        for name, image in (
            ("a", "emailservice"),
            ("b", "loadgenerator"),
            ("c", "ko://github.com/acme/cmd/server"),
            ("d", "redis"),
        )
    )
    tags = [
        f
        for f in check({"skaffold.yaml": SKAFFOLD, "k8s/pods.yaml": pods})
        if f.rule == "k8s/image-tag-latest"
    ]
    assert [f.subject for f in tags] == ["Pod/d container c"]


def test_a_restricted_rule_runs_when_the_policy_gives_it_a_severity() -> None:
    policy = Policy(severities=MappingProxyType({"k8s/capabilities-not-dropped": "error"}))
    rules = {f.rule for f in check({"deploy.yaml": BASE}, policy)}
    assert "k8s/capabilities-not-dropped" in rules
    assert "k8s/seccomp-profile-missing" not in rules
    assert "k8s/capabilities-not-dropped" not in {f.rule for f in check({"deploy.yaml": BASE})}


def test_an_image_a_kustomization_pins_is_not_reported_for_its_latest_tag() -> None:
    def deployment(name: str, image: str) -> str:
        return BASE.replace("example.com/repo-server:2.0", image).replace(
            "repo-server}", f"{name}}}"
        )

    def pins(image: str, tag: str = "newTag: 0.1.0") -> str:
        return f"images:\n  - name: {image}\n    newName: quay.io/acme/{image}\n    {tag}\n"

    files = {
        # Its own kustomization pins `controller` for the files beside it ...
        "config/manager/kustomization.yaml": "resources: [manager.yaml]\n" + pins("controller"),
        "config/manager/manager.yaml": deployment("manager", "controller:latest"),
        # ... an overlay pins `app` for the base it lists under resources ...
        "overlays/prod/kustomization.yaml": "resources: [../../base]\n" + pins("app"),
        "base/app.yaml": deployment("app", "app:latest"),
        # ... but a pin applies nowhere else, and a rename alone keeps the tag.
        "test/cmp/kustomization.yaml": "resources: [x.yaml]\n" + pins("sidecar"),
        "deploy/sidecar.yaml": deployment("sidecar", "sidecar:latest"),
        "deploy/kustomization.yaml": "resources: [other.yaml]\n" + pins("other", "newName: x"),
        "deploy/other.yaml": deployment("other", "other:latest"),
    }
    tags = sorted(f.path or "" for f in check(files) if f.rule == "k8s/image-tag-latest")
    assert tags == ["deploy/other.yaml", "deploy/sidecar.yaml"]


@pytest.mark.parametrize(
    ("image", "name"),
    [
        ("controller:latest", "controller"),
        ("registry:5000/app:1.0", "registry:5000/app"),
        ("registry:5000/app", "registry:5000/app"),
        ("app@sha256:" + "a" * 64, "app"),
    ],
)
def test_image_name_drops_tag_and_digest_not_a_registry_port(image: str, name: str) -> None:
    assert image_name(image) == name


BASE_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: api-server}
spec:
  template:
    spec:
      containers:
        - name: api
          image: example.org/api:1.2.3
"""
REDIS = BASE_DEPLOYMENT.replace("api-server", "redis").replace("- name: api", "- name: redis")


def test_a_generated_bundle_repeating_its_base_reports_each_finding_once() -> None:
    bundle = "# This is an auto-generated file. DO NOT EDIT\n---\n" + BASE_DEPLOYMENT
    files = {
        "CODEOWNERS": "* @acme/a\n",
        "manifests/base/api.yaml": BASE_DEPLOYMENT,
        "manifests/install.yaml": bundle,
        "manifests/ha/install.yaml": bundle + "---\n" + REDIS,
        "manifests/namespace-install.yaml": bundle + "---\n" + REDIS,
    }
    report = evaluate(DictSnapshot(files), catalog=default_catalog(), today=date(2026, 1, 1))
    probes = [f for f in report.findings if f.rule == "k8s/liveness-probe-missing"]
    # api-server is reported in its hand-written base, redis (only in bundles) in the first one
    assert {(f.path, f.subject.split()[0]) for f in probes} == {
        ("manifests/base/api.yaml", "Deployment/api-server"),
        ("manifests/ha/install.yaml", "Deployment/redis"),
    }
    assert any("in generated files (`DO NOT EDIT`)" in n for n in report.notes)


def test_hand_written_copies_of_a_workload_are_each_reported() -> None:
    files = {
        "CODEOWNERS": "* @acme/a\n",
        "overlays/dev/api.yaml": BASE_DEPLOYMENT,
        "overlays/prod/api.yaml": BASE_DEPLOYMENT,
    }
    report = evaluate(DictSnapshot(files), catalog=default_catalog(), today=date(2026, 1, 1))
    probes = [f for f in report.findings if f.rule == "k8s/liveness-probe-missing"]
    assert {f.path for f in probes} == {"overlays/dev/api.yaml", "overlays/prod/api.yaml"}
    assert not any("generated files" in n for n in report.notes)


TILTFILE = """\
k8s_yaml(kustomize('manifests/dev-tilt'))
docker_build(
    'argocd-ui',
    context='.',
)
"""
UNTAGGED_UI = BASE_DEPLOYMENT.replace("example.org/api:1.2.3", "argocd-ui")


def test_an_image_tilt_builds_is_not_untagged_in_the_yaml_tilt_deploys() -> None:
    files = {
        "Tiltfile": TILTFILE,
        "manifests/dev-tilt/ui.yaml": UNTAGGED_UI,
        "manifests/base/ui.yaml": UNTAGGED_UI,  # not deployed by Tilt: nobody tags it
    }
    ctx = Context(DictSnapshot(files), default_catalog(), Policy(), date(2026, 1, 1))
    untagged = [f for f in check_kubernetes(ctx) if f.rule == "k8s/image-tag-latest"]
    assert [f.path for f in untagged] == ["manifests/base/ui.yaml"]


KUBEBUILDER_MANAGER = BASE_DEPLOYMENT.replace("api-server", "controller-manager").replace(
    "- name: api\n          image: example.org/api:1.2.3",
    "- name: manager\n          image: controller:latest",
)
IMAGE_PATCH = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: controller-manager}
spec:
  template:
    spec:
      containers:
        - name: manager
          image: gcr.io/example/manager:v1.2.0
"""


@pytest.mark.parametrize(
    ("patch_image", "reported"),
    [("gcr.io/example/manager:v1.2.0", False), ("gcr.io/example/manager:latest", True)],
)
def test_a_base_image_a_kustomize_patch_pins_is_not_latest(
    patch_image: str, reported: bool
) -> None:
    files = {
        "config/manager/manager.yaml": KUBEBUILDER_MANAGER,
        "config/manager/kustomization.yaml": "resources: [manager.yaml]\n",
        "config/default/kustomization.yaml": (
            "resources: [../manager]\npatches:\n- path: manager_image_patch.yaml\n"
        ),
        "config/default/manager_image_patch.yaml": IMAGE_PATCH.replace(
            "gcr.io/example/manager:v1.2.0", patch_image
        ),
        "other/manager.yaml": KUBEBUILDER_MANAGER,  # the patch does not reach it
    }
    ctx = Context(DictSnapshot(files), default_catalog(), Policy(), date(2026, 1, 1))
    latest = {f.path for f in check_kubernetes(ctx) if f.rule == "k8s/image-tag-latest"}
    assert ("config/manager/manager.yaml" in latest) is reported
    assert "other/manager.yaml" in latest

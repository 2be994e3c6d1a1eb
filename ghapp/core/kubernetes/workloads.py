"""Finding Kubernetes workloads in a snapshot: which YAML files to read, and where pod specs are.

Theory of operation. Any YAML file may be a manifest, so the cost is kept bounded in three
steps, cheapest first: (1) by path — only `*.yaml`/`*.yml` (then `*.json`, which kubectl reads
too), never files that are known to be something else (workflows, compose files, Backstage
manifests, Helm values and chart templates, package and tool configs); (2) by bytes — a file
that does not mention `apiVersion`, `kind` and `containers` cannot hold a pod spec, so it is
never parsed; (3) by size and count — a file over the loader's limits that may still hold a
workload (`may_hold_workload`: the bytes test, then the kinds it declares) is an error, not
read further (`k8s/file-too-large`: what is not checked must not pass), and past a total budget
of files and bytes checking stops with a notice (the files a change touched are checked first,
and any of them the budget misses is an error). Kustomize patches are partial manifests: `check_kubernetes` checks only the
complete containers they add.

Pod specs are then found at fixed paths per kind (no recursive walk: documents may share
structures through aliases), `kind: List` items one level deep.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ghapp.core.yamlnodes import LineDict, LineList, YamlError, load_documents

# Files past these budgets are not read; one notice says where checking stopped.
MAX_MANIFEST_FILES = 20_000
MAX_TOTAL_BYTES = 200_000_000

# Where the pod spec sits, as a key path from the document root.
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "DeploymentConfig": ("spec", "template", "spec"),  # OpenShift
    "Rollout": ("spec", "template", "spec"),  # Argo Rollouts (a `workloadRef` has no template)
}
# Run-to-completion controllers: Polaris does not require probes for them.
JOB_KINDS = frozenset({"Job", "CronJob"})

_NOT_MANIFEST_NAMES = frozenset(
    {
        "catalog-info.yaml",
        "catalog-info.yml",
        "chart.yaml",
        "pnpm-lock.yaml",
        ".pre-commit-config.yaml",
        ".pre-commit-hooks.yaml",
        ".gitlab-ci.yml",
        ".travis.yml",
        ".golangci.yml",
        ".golangci.yaml",
        ".readthedocs.yaml",
        ".readthedocs.yml",
        "codecov.yml",
        ".codecov.yml",
        "mkdocs.yml",
        "mkdocs.yaml",
        "action.yml",
        "action.yaml",
        "environment.yml",
        "pubspec.yaml",
        "serverless.yml",
        "openapi.yaml",
        "openapi.yml",
        "swagger.yaml",
        "swagger.yml",
    }
)
# JSON files that are never Kubernetes manifests (package and tool configs), by lower-case name.
_NOT_MANIFEST_JSON = frozenset(
    {
        "package.json",
        "package-lock.json",
        "composer.json",
        "tsconfig.json",
        "jsconfig.json",
        "renovate.json",
        "lerna.json",
        "nx.json",
        "angular.json",
        "deno.json",
        ".eslintrc.json",
        ".babelrc.json",
        "tslint.json",
        "bower.json",
    }
)
SKAFFOLD_NAMES = frozenset({"skaffold.yaml", "skaffold.yml"})
HELM_HOOK = "helm.sh/hook"
# The line breaks YAML counts (PyYAML and libyaml alike), so line numbers agree with the parser.
YAML_LINE_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")
_DOC_START = re.compile(r"^---(?=[ \t\r\n]|$)", re.MULTILINE)
_DIRECTIVE = re.compile(r"^%", re.MULTILINE)
_TOP_LEVEL_KIND = re.compile(
    r"""^kind:[ \t]*["']?([A-Za-z0-9]+)["']?[ \t]*(?:#.*)?\r?$""", re.MULTILINE
)
_JSON_KIND = re.compile(rb'"kind"\s*:\s*"([A-Za-z0-9]+)"')
_KUSTOMIZATION_NAMES = frozenset({"kustomization.yaml", "kustomization.yml", "Kustomization"})
_KUSTOMIZE_PATCH_KEYS = ("patchesStrategicMerge", "patches", "patchesJson6902")


@dataclass(frozen=True)
class Container:
    """One container of a pod spec; `init` for initContainers."""

    name: str
    node: LineDict
    init: bool


@dataclass(frozen=True)
class Workload:
    """A document that carries a pod spec (directly, or in a template)."""

    kind: str
    name: str
    path: str
    pod: LineDict
    containers: tuple[Container, ...]
    helm_test: bool = False  # a `helm.sh/hook: test` pod: runs only under `helm test`

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def runs_to_completion(self) -> bool:
        """Jobs, CronJobs and bare pods that are not restarted: probes are not required."""
        if self.kind in JOB_KINDS:
            return True
        return self.kind == "Pod" and self.pod.get("restartPolicy") in ("Never", "OnFailure")


def manifest_candidates(paths: Sequence[str]) -> list[str]:
    """The paths worth opening: YAML files, sorted, then JSON files, sorted (so a budget cuts
    JSON first); not workflows or other known non-manifests, not Helm chart templates or values,
    nothing under node_modules/ (kustomize patches are told apart later, see `read_kustomization`)."""
    chart_dirs = {posixpath.dirname(p) for p in paths if posixpath.basename(p) == "Chart.yaml"}
    yaml_files: list[str] = []
    json_files: list[str] = []
    for path in paths:
        is_json = path.endswith(".json")
        if not (is_json or path.endswith((".yaml", ".yml"))) or path.startswith(".github/"):
            continue
        name = posixpath.basename(path).lower()
        if name in _NOT_MANIFEST_NAMES or name.startswith(("docker-compose", "compose.")):
            continue
        if is_json and (
            name in _NOT_MANIFEST_JSON
            or name.startswith("tsconfig")
            or "node_modules/" in path
            or path.startswith(".vscode/")
        ):
            continue
        if chart_dirs and _is_chart_file(path, chart_dirs):
            continue
        (json_files if is_json else yaml_files).append(path)
    return sorted(yaml_files) + sorted(json_files)


def build_artifact_images(docs: Sequence[object]) -> set[str]:
    """Image names a Skaffold config builds (`build.artifacts[].image`, profiles included):
    Skaffold replaces them in the manifests it deploys with the built tag or digest."""
    out: set[str] = set()
    for doc in docs:
        if not isinstance(doc, dict):
            continue
        profiles = doc.get("profiles")
        for holder in [doc, *(profiles if isinstance(profiles, list) else ())]:
            build = holder.get("build") if isinstance(holder, dict) else None
            artifacts = build.get("artifacts") if isinstance(build, dict) else None
            for artifact in artifacts if isinstance(artifacts, list) else ():
                image = artifact.get("image") if isinstance(artifact, dict) else None
                if isinstance(image, str) and image:
                    out.add(image)
    return out


TILTFILE_NAMES = frozenset({"Tiltfile"})
_TILT_BUILD = re.compile(
    r"""\b(?:docker_build|docker_build_with_restart|custom_build)\(\s*['"]([^'"]+)['"]"""
)
_TILT_DEPLOY = re.compile(r"""\b(?:k8s_yaml|kustomize|helm)\(\s*['"]([^'"]+)['"]""")


def tilt_images(tiltfile: str, text: str) -> set[tuple[str, str]]:
    """(image name, scope) pairs a Tiltfile builds: Tilt replaces those images, in the YAML it
    deploys, with the image it built and tagged. The scope is each literal path its
    `k8s_yaml(...)`, `kustomize(...)` or `helm(...)` calls deploy, relative to the Tiltfile
    (its own directory when none is literal): an image of the same name elsewhere is not
    Tilt's to replace."""
    here = posixpath.dirname(tiltfile)
    scopes = {
        posixpath.normpath(posixpath.join(here, m.group(1))).removeprefix("./")
        for m in _TILT_DEPLOY.finditer(text)
        if not m.group(1).startswith(("/", "$", "~"))
    } or {here}
    images = {image_name(m.group(1)) for m in _TILT_BUILD.finditer(text)}
    return {(image, "" if scope == "." else scope) for image in images for scope in scopes}


def kustomization_paths(paths: Sequence[str]) -> list[str]:
    """Kustomization files, whose patch lists name files that are partial manifests."""
    return sorted(p for p in paths if posixpath.basename(p) in _KUSTOMIZATION_NAMES)


def read_kustomization(
    path: str, text: str
) -> tuple[set[str], set[tuple[str, str]], dict[str, set[str]]]:
    """The patch files a kustomization lists (repository paths), the image names its
    `images:` transformer pins (`newTag` or `digest`), whatever tag the manifests write, each
    with where that applies: the kustomization's directory and each of its local `resources`
    (a path; files below a directory count), and for each patch file where it applies."""
    try:
        docs = load_documents(text)
    except YamlError:
        return set(), set(), {}
    base = posixpath.dirname(path)
    patches: set[str] = set()
    pinned: set[tuple[str, str]] = set()
    applies: dict[str, set[str]] = {}
    for doc in docs[:1]:
        if not isinstance(doc, dict):
            continue
        for key in _KUSTOMIZE_PATCH_KEYS:
            entries = doc.get(key)
            for entry in entries if isinstance(entries, list) else ():
                target = entry.get("path") if isinstance(entry, dict) else entry
                if isinstance(target, str) and "\n" not in target:
                    patches.add(posixpath.normpath(posixpath.join(base, target)))
        resources = doc.get("resources")
        scopes = {base} | {
            posixpath.normpath(posixpath.join(base, r))
            for r in (resources if isinstance(resources, list) else ())
            if isinstance(r, str) and "://" not in r and not r.startswith(("/", "github.com/"))
        }
        for patch in patches:
            applies.setdefault(patch, set()).update(scopes)
        images = doc.get("images")
        for image in images if isinstance(images, list) else ():
            if not isinstance(image, dict) or not isinstance(image.get("name"), str):
                continue
            if image.get("newTag") not in (None, "", "latest") or image.get("digest"):
                pinned |= {(image["name"], scope) for scope in scopes}
    return patches, pinned, applies


def within(path: str, scope: str) -> bool:
    """Whether `path` is `scope` or below it ("" or "." is the whole repository)."""
    return scope in ("", ".") or path == scope or path.startswith(scope + "/")


def image_name(image: str) -> str:
    """An image reference without its tag or digest (`registry:5000/app:1.0` -> `registry:5000/app`)."""
    image = image.partition("@")[0]
    head, slash, last = image.rpartition("/")
    return f"{head}{slash}{last.partition(':')[0]}"


def may_hold_pod_spec(data: bytes) -> bool:
    """Cheap byte test: a pod spec has `containers`, every manifest `apiVersion` and `kind`."""
    return b"containers" in data and b"apiVersion" in data and b"kind" in data


def may_hold_workload(path: str, data: bytes) -> bool:
    """For a file too large to parse: whether it may still hold a workload (the bytes test, then
    the kinds it declares: a JSON `"kind": "Deployment"`, a YAML top-level `kind:`)."""
    if not may_hold_pod_spec(data):
        return False
    if path.endswith(".json"):
        kinds = [k.decode() for k in _JSON_KIND.findall(data)]
        return any(k in POD_SPEC_PATHS or k.endswith("List") for k in kinds)
    return may_be_workload(data.decode("utf-8", errors="replace"))


def looks_like_helm_template(text: str) -> bool:
    """Go-template markers: such a file is not YAML until rendered."""
    return "{{" in text


def split_documents(text: str) -> Iterator[tuple[int, str]]:
    """The file's documents as (lines before it, text), split at `---` lines.

    A `---` at the start of a line always starts a document (YAML forbids it inside scalars, and
    the scanner checks for it in every context), so each part parses alone exactly as it does in
    the whole file; line numbers are then shifted by the count returned. A file with directives
    (`%YAML`) is returned whole, since a directive belongs to the document after it.
    """
    bounds = [m.start() for m in _DOC_START.finditer(text)]
    if bounds[:1] != [0]:
        bounds.insert(0, 0)
    if len(bounds) < 2 or _DIRECTIVE.search(text):
        yield 0, text
        return
    lines = 0
    for begin, end in zip(bounds, [*bounds[1:], len(text)], strict=True):
        chunk = text[begin:end]
        yield lines, chunk
        lines += len(YAML_LINE_BREAK.findall(chunk))


def may_be_workload(document: str) -> bool:
    """False for a document that cannot hold a pod spec: no `containers`, or a top-level `kind`
    that is neither a workload nor a list (Services, ConfigMaps, CRDs are never parsed)."""
    if "containers" not in document:
        return False
    kinds = _TOP_LEVEL_KIND.findall(document)
    return not kinds or any(k in POD_SPEC_PATHS or k.endswith("List") for k in kinds)


def parse_manifest(text: str) -> list[LineDict]:
    """The file's top-level mappings (non-mapping documents dropped). Raises YamlError."""
    return [doc for doc in load_documents(text) if isinstance(doc, LineDict)]


def find_workloads(path: str, doc: LineDict) -> Iterator[Workload]:
    """Workloads in one document, including the items of a `kind: List` (one level)."""
    kind = doc.get("kind")
    items = doc.get("items")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(items, LineList):
        for item in items:
            if isinstance(item, LineDict):
                yield from _workload(path, item)
        return
    yield from _workload(path, doc)


def _workload(path: str, doc: LineDict) -> Iterator[Workload]:
    kind = doc.get("kind")
    if not isinstance(kind, str) or kind not in POD_SPEC_PATHS or "apiVersion" not in doc:
        return
    pod = _dig(doc, POD_SPEC_PATHS[kind])
    if not isinstance(pod, LineDict):
        return
    yield Workload(
        kind=kind,
        name=_name_of(doc),
        path=path,
        pod=pod,
        containers=(*_containers(pod, "initContainers"), *_containers(pod, "containers")),
        helm_test=_is_helm_test(doc),
    )


def _is_helm_test(doc: LineDict) -> bool:
    meta = doc.get("metadata")
    notes = meta.get("annotations") if isinstance(meta, dict) else None
    hook = notes.get(HELM_HOOK) if isinstance(notes, dict) else None
    return isinstance(hook, str) and any(
        h.strip() in ("test", "test-success", "test-failure") for h in hook.split(",")
    )


def _containers(pod: LineDict, key: str) -> Iterator[Container]:
    nodes = pod.get(key)
    if not isinstance(nodes, LineList):
        return
    for index, node in enumerate(nodes):
        if isinstance(node, LineDict):
            name = node.get("name")
            label = name if isinstance(name, str) and name else f"#{index + 1}"
            yield Container(name=label, node=node, init=key == "initContainers")


def _name_of(doc: LineDict) -> str:
    meta = doc.get("metadata")
    if isinstance(meta, dict):
        for key in ("name", "generateName"):
            value = meta.get(key)
            if isinstance(value, str) and value:
                return value
    return "(unnamed)"


def _dig(node: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _is_chart_file(path: str, chart_dirs: set[str]) -> bool:
    """A Helm chart's values file or anything under its templates/ (not YAML until rendered)."""
    if posixpath.basename(path).startswith("values") and posixpath.dirname(path) in chart_dirs:
        return True
    parts = path.split("/")
    return any(
        part == "templates" and "/".join(parts[:i]) in chart_dirs for i, part in enumerate(parts)
    )

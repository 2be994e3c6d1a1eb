"""Kubernetes manifest checks (`k8s/…`) over a snapshot: which files, read how, checked once.

Files are chosen by `workloads.manifest_candidates` within a budget of files and bytes, read in
bulk, and each workload is checked by `podspec.check_workload`. A file's findings depend only on
its path, its bytes and the `podspec.Options` (the policy's restricted rules, the image names a
build tool tags at deploy time: Skaffold artifacts, a kustomization's `images:`), so they are kept in `ctx.memo` under its content id (or a digest of its
bytes): the base of a change re-checks only the files the change touched.

Kustomize patches (files a kustomization lists under `patches`, `patchesStrategicMerge`,
`patchesJson6902`) are partial manifests, checked after every other file: a container a patch
gives an image and that its base workload (same kind and name, anywhere in the repository)
does not have is a complete container the patch adds, checked in the base's pod; containers the
base has are only changed by the patch, and are not checked there. With no base in the
repository, a patch's containers cannot be told apart and are not checked.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ghapp.core.context import Context
from ghapp.core.kubernetes.podspec import (
    Options,
    PatchScope,
    Source,
    check_workload,
    enabled_restricted_rules,
    tag_of,
)
from ghapp.core.kubernetes.workloads import (
    MAX_MANIFEST_FILES,
    MAX_TOTAL_BYTES,
    SKAFFOLD_NAMES,
    TILTFILE_NAMES,
    build_artifact_images,
    find_workloads,
    kustomization_paths,
    looks_like_helm_template,
    manifest_candidates,
    may_be_workload,
    may_hold_pod_spec,
    may_hold_workload,
    parse_manifest,
    read_kustomization,
    split_documents,
    tilt_images,
    within,
)
from ghapp.core.model import Finding
from ghapp.core.snapshot import Snapshot, content_ids, digest, read_files, unread_id
from ghapp.core.yamlnodes import MAX_YAML_BYTES, YamlError, YamlLimitError, load_documents

# (kind, name) of a workload -> its container names and its pod's securityContext.
BaseIndex = dict[tuple[str, str], tuple[frozenset[str], Mapping[str, Any]]]


@dataclass(frozen=True)
class FileResult:
    """One file's findings and the workloads it defines (for kustomize patches' bases)."""

    findings: tuple[Finding, ...] = ()
    workloads: tuple[tuple[str, str, frozenset[str], Mapping[str, Any]], ...] = ()
    generated: bool = False  # the file says it is generated (`# ... DO NOT EDIT`)
    tagged: frozenset[str] = frozenset()  # containers (finding subjects) with a pinned image


def check_kubernetes(ctx: Context) -> Iterable[Finding]:
    """Every `k8s/…` finding in the snapshot, sorted by path, line and rule."""
    snapshot = ctx.snapshot
    paths = snapshot.paths()
    patches, pinned, applies = _kustomizations(snapshot, paths)
    options = Options(
        enabled_restricted_rules(ctx), frozenset(pinned | _artifacts(snapshot, paths))
    )
    findings: list[Finding] = []
    budget = _Budget()
    regular: list[str] = []
    patched: list[str] = []
    changed = ctx.changed or frozenset()
    truncated = False
    # The files a change touched come first, so the budget can never be spent to hide them.
    # Files over the YAML limit are read too: their bytes tell whether they may be manifests.
    for path in sorted(manifest_candidates(paths), key=lambda p: p not in changed):
        if truncated or not budget.take(snapshot.size(path)):
            if not truncated:
                findings.append(_truncated(ctx, path, budget.files))
                truncated = True
            if path not in changed:
                break
            why = "the budget of YAML to read was spent before it"
            findings.append(_unchecked(ctx, path, why, unread_id(snapshot, path)))
            continue
        (patched if path in patches else regular).append(path)
    index: BaseIndex = {}
    generated: set[str] = set()
    for result in _results(ctx, regular, options):
        findings.extend(result.findings)
        if result.generated:
            generated.update(f.path for f in result.findings if f.path)
        for kind, name, containers, security in result.workloads:
            # Overlays may define the same workload twice: a container of either is the base's.
            known_names, known_security = index.get((kind, name), (frozenset(), {}))
            index[(kind, name)] = (containers | known_names, known_security or security)
    retagged: list[tuple[str, str, set[str]]] = []  # (subject, patch, where it applies)
    for path, data in read_files(snapshot, patched):
        if data is None or len(data) > MAX_YAML_BYTES:
            findings.extend(_not_read(ctx, path, data))
        elif may_hold_pod_spec(data):
            result = _check_text(ctx, path, data, options, index)
            findings.extend(result.findings)
            retagged.extend((subject, path, applies.get(path, set())) for subject in result.tagged)
    findings = _without_retagged(findings, retagged)
    ordered = sorted(findings, key=lambda f: (f.path or "", f.line or 0, f.rule, f.subject))
    return _mark_generated_copies(ordered, generated)


def _without_retagged(
    findings: list[Finding], retagged: Sequence[tuple[str, str, set[str]]]
) -> list[Finding]:
    """Drop `k8s/image-tag-latest` on a base container whose image a kustomize patch replaces
    with a pinned one (kubebuilder's `image: controller:latest` in config/manager, set by
    config/default/manager_image_patch.yaml): what is deployed is the patch's image. Only
    for bases below the patching kustomization's directory or its local resources."""
    if not retagged:
        return findings
    return [
        f
        for f in findings
        if f.rule != "k8s/image-tag-latest"
        or not any(
            f.subject == subject
            and f.path != patch
            and any(within(f.path or "", scope) for scope in scopes)
            for subject, patch, scopes in retagged
        )
    ]


def _mark_generated_copies(findings: Sequence[Finding], generated: set[str]) -> list[Finding]:
    """A finding in a generated file (argo-cd's `manifests/install.yaml`, a `kustomize build`
    of `manifests/base`) that repeats one reported elsewhere, same rule and same workload and
    container, is marked `copy_of` that file: it is fixed there, once. The finding is kept in
    a hand-written file when there is one, else in the first generated file."""
    if not generated:
        return list(findings)
    home: dict[tuple[str, str], str] = {}
    for f in findings:
        if f.path and f.subject and f.path not in generated:
            home.setdefault((f.rule, f.subject), f.path)
    for f in findings:
        if f.path in generated and f.subject:
            home.setdefault((f.rule, f.subject), f.path)
    out: list[Finding] = []
    for f in findings:
        first = home.get((f.rule, f.subject)) if f.path in generated else None
        out.append(f if first is None or first == f.path else f.with_(copy_of=first))
    return out


class _Budget:
    """Files and bytes read so far, against MAX_MANIFEST_FILES and MAX_TOTAL_BYTES."""

    def __init__(self) -> None:
        self.files = 0
        self.bytes = 0

    def take(self, size: int | None) -> bool:
        if self.files >= MAX_MANIFEST_FILES or self.bytes + (size or 0) > MAX_TOTAL_BYTES:
            return False
        self.files += 1
        self.bytes += size or 0
        return True


def _results(ctx: Context, paths: Sequence[str], options: Options) -> Iterable[FileResult]:
    """Each file's result, read in bulk and checked, or taken from the memo when the same path
    and content were checked already (the head of a change for its base). Files are read
    either way, so that whatever wraps the snapshot (inline suppressions) sees them; reading a
    blob the head read is a cache hit."""
    snapshot = ctx.snapshot
    # Content ids pay off only when a change's base and head are both checked; asking a
    # working tree for them costs a `git status`.
    ids = content_ids(snapshot) if ctx.changed is not None else None
    for path, data in read_files(snapshot, paths):
        if data is None:
            yield FileResult(_not_read(ctx, path, None))
            continue
        blob = ids(path) if ids is not None else None
        # Without an id, a digest of the bytes (the memo must not keep every file alive).
        key = ("k8s", path, blob if blob is not None else hashlib.blake2b(data).digest(), options)
        result = ctx.memo.get(key)
        if result is None:
            result = ctx.memo[key] = _check_bytes(ctx, path, data, options)
        yield result


def _check_bytes(ctx: Context, path: str, data: bytes, options: Options) -> FileResult:
    if len(data) > MAX_YAML_BYTES:
        return FileResult(_not_read(ctx, path, data))
    if not may_hold_pod_spec(data):
        return FileResult()
    return _check_text(ctx, path, data, options, None)


def _check_text(
    ctx: Context, path: str, data: bytes, options: Options, patch_base: BaseIndex | None
) -> FileResult:
    """A file's findings and workloads; with `patch_base`, the file is a kustomize patch."""
    text = data.decode("utf-8", errors="replace")
    findings: list[Finding] = []
    workloads = []
    tagged: set[str] = set()
    for offset, document in split_documents(text):
        if not may_be_workload(document):
            continue
        try:
            docs = parse_manifest(document)
        except YamlLimitError as exc:
            line = exc.line + offset if exc.line else None
            content = digest(document.encode("utf-8", "replace"))
            findings.append(_unchecked(ctx, path, str(exc), content, line))
            continue
        except YamlError as exc:
            if not looks_like_helm_template(document):  # an unrendered template: not YAML yet
                message = f"{path} looks like a Kubernetes manifest but is not valid YAML ({exc})"
                line = exc.line + offset if exc.line else None
                findings.append(
                    ctx.finding("k8s/unparseable", message, path=path, line=line, subject="parse")
                )
            continue
        source = Source(document)
        for doc in docs:
            for wl in find_workloads(path, doc):
                security = wl.pod.get("securityContext")
                names = frozenset(c.name for c in wl.containers)
                workloads.append(
                    (wl.kind, wl.name, names, security if isinstance(security, dict) else {})
                )
                scope = None
                if patch_base is not None:
                    base = patch_base.get((wl.kind, wl.name))
                    added = names - base[0] if base is not None else frozenset()
                    scope = PatchScope(added, base[1] if base is not None else {})
                for c in wl.containers:
                    image = c.node.get("image")
                    if isinstance(image, str) and _pinned(image):
                        what = "init container" if c.init else "container"
                        tagged.add(f"{wl.label} {what} {c.name}")
                for finding in check_workload(ctx, wl, source, options, scope):
                    if offset and finding.line:
                        finding = finding.with_(line=finding.line + offset)
                    findings.append(finding)
    return FileResult(tuple(findings), tuple(workloads), is_generated(text), frozenset(tagged))


def _pinned(image: str) -> bool:
    """An image with a digest or a tag other than `latest`."""
    tag = tag_of(image)
    return "@" in image or (bool(tag) and tag != "latest")


_GENERATED = re.compile(r"^\s*#.*\b(do not edit|auto-?generated|code generated)\b", re.IGNORECASE)


def is_generated(text: str) -> bool:
    """Whether a YAML file says, in a comment among its first lines, that it is generated."""
    return any(_GENERATED.match(line) for line in text[:2048].split("\n")[:10])


def _kustomizations(
    snapshot: Snapshot, paths: Sequence[str]
) -> tuple[set[str], set[tuple[str, str]], dict[str, set[str]]]:
    """Every kustomization's patch files, the image names their `images:` pin, and where each
    patch file applies."""
    patches: set[str] = set()
    pinned: set[tuple[str, str]] = set()
    applies: dict[str, set[str]] = {}
    for path in kustomization_paths(paths):
        data = snapshot.read(path)
        if data is not None and len(data) <= MAX_YAML_BYTES:
            more, names, where = read_kustomization(path, data.decode("utf-8", errors="replace"))
            patches |= more
            pinned |= names
            for patch, scopes in where.items():
                applies.setdefault(patch, set()).update(scopes)
    return patches, pinned, applies


def _artifacts(snapshot: Snapshot, paths: Sequence[str]) -> set[tuple[str, str]]:
    """Images the repository's Skaffold configs build (for every manifest: Skaffold's own
    manifest list is globs, deploy-time choices) and its Tiltfiles build (for the paths they
    deploy)."""
    out: set[tuple[str, str]] = set()
    for path in paths:
        name = path.rpartition("/")[2]
        if name in TILTFILE_NAMES:
            tilt = snapshot.read(path)
            if tilt is not None and len(tilt) <= MAX_YAML_BYTES:
                out |= tilt_images(path, tilt.decode("utf-8", errors="replace"))
            continue
        if name not in SKAFFOLD_NAMES:
            continue
        data = snapshot.read(path)
        if data is None or len(data) > MAX_YAML_BYTES:
            continue
        try:
            docs = load_documents(data.decode("utf-8", errors="replace"))
            out |= {(image, "") for image in build_artifact_images(docs)}
        except YamlError:
            continue
    return out


def _not_read(ctx: Context, path: str, data: bytes | None) -> tuple[Finding, ...]:
    """A file over the YAML limit (or unreadable) that may hold workloads is an error; one whose
    bytes show it cannot is no finding, and so is an unreadable JSON file (most are not
    manifests)."""
    if data is None:
        if path.endswith(".json"):
            return ()
        return (_unchecked(ctx, path, "the file could not be read", unread_id(ctx.snapshot, path)),)
    if not may_hold_workload(path, data):
        return ()
    why = f"the file is {len(data):,} bytes, over the {MAX_YAML_BYTES:,}-byte limit for YAML"
    return (_unchecked(ctx, path, why, digest(data)),)


def _unchecked(ctx: Context, path: str, why: str, content: str, line: int | None = None) -> Finding:
    """A file that may hold workloads but could not be checked (the subject changes with its
    content, so a pull request that changes it gets a new finding)."""
    return ctx.finding(
        "k8s/file-too-large",
        f"{path} may hold Kubernetes workloads but was not checked: {why}",
        path=path,
        line=line,
        subject=f"unchecked {content}",
    )


def _truncated(ctx: Context, path: str, files_read: int) -> Finding:
    return ctx.finding(
        "k8s/scan-truncated",
        f"stopped after {files_read} YAML files ({MAX_MANIFEST_FILES} files or "
        f"{MAX_TOTAL_BYTES} bytes at most); {path} and the files after it were not checked",
        path=path,
        subject="budget",
    )

"""Kubernetes manifest checks (`k8s/…`): the pod-spec checks Fairwinds Polaris popularised.

Each check reads one workload's pod spec or one container and reports at the offending key's
line, or at the container (or the enclosing `resources` / `securityContext`) when a key is
missing. Findings carry a subject that survives line moves ("Deployment/api container web") and,
only where the fix is a one-line value flip, a suggested replacement for that line.

Choices, mostly Polaris' defaults (danger -> error, warning -> warning):
- probes are not required of initContainers, Jobs, CronJobs, nor of bare Pods that are not
  restarted (`restartPolicy: Never|OnFailure`); resources are not required of initContainers;
- a missing request is not reported when the matching limit is set, because Kubernetes then
  defaults the request to the limit (Polaris reports it anyway);
- run-as-root follows Polaris: the effective (container over pod) `runAsNonRoot: true` or a
  `runAsUser` of 1 or more is required; `runAsUser: 0` is always reported;
- a container without `image` is a patch fragment, not a runnable container: not checked.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from functools import cached_property
from typing import Any

from ghapp.core.context import Context
from ghapp.core.kubernetes.workloads import (
    MAX_MANIFEST_FILES,
    MAX_TOTAL_BYTES,
    YAML_LINE_BREAK,
    Container,
    Workload,
    find_workloads,
    kustomization_paths,
    looks_like_helm_template,
    manifest_candidates,
    may_be_workload,
    may_hold_pod_spec,
    parse_manifest,
    patch_paths,
    split_documents,
)
from ghapp.core.model import Finding
from ghapp.core.snapshot import content_ids, read_files
from ghapp.core.yamlnodes import MAX_YAML_BYTES, LineDict, LineList, YamlError

DANGEROUS_CAPABILITIES = frozenset({"SYS_ADMIN", "NET_ADMIN", "ALL"})
# Pod-level booleans that share a node namespace with the pod: key -> (rule, what is shared).
HOST_NAMESPACES: tuple[tuple[str, str, str], ...] = (
    ("hostNetwork", "k8s/host-network", "the node's network stack"),
    ("hostPID", "k8s/host-pid", "the node's process table"),
    ("hostIPC", "k8s/host-ipc", "the node's IPC namespace"),
)


def check_kubernetes(ctx: Context) -> Iterable[Finding]:
    """Every `k8s/…` finding in the snapshot, sorted by path, line and rule.

    A file's findings depend only on its path and bytes (and the policy), so they are kept in
    `ctx.memo` under its content id (or its bytes): the base of a change re-checks only the
    files the change touched, and files are read in bulk, only when not already known."""
    snapshot = ctx.snapshot
    paths = snapshot.paths()
    patches: set[str] = set()
    for path in kustomization_paths(paths):
        data = snapshot.read(path)
        if data is not None and len(data) <= MAX_YAML_BYTES:
            patches |= patch_paths(path, data.decode("utf-8", errors="replace"))
    findings: list[Finding] = []
    files_read = bytes_read = 0
    to_read: list[str] = []
    ids = content_ids(snapshot)
    for path in manifest_candidates(paths):
        if path in patches:
            continue
        size = snapshot.size(path)
        if size is not None and size > MAX_YAML_BYTES:
            findings.append(_too_large(ctx, path, size))
            continue
        if files_read >= MAX_MANIFEST_FILES or bytes_read + (size or 0) > MAX_TOTAL_BYTES:
            findings.append(_truncated(ctx, path, files_read))
            break
        files_read += 1
        bytes_read += size or 0
        blob = ids(path) if ids is not None else None
        known = ctx.memo.get(("k8s", path, blob)) if blob is not None else None
        if known is not None:
            findings.extend(known)
        else:
            to_read.append(path)
    for path, data in read_files(snapshot, to_read):
        if data is None:
            continue
        blob = ids(path) if ids is not None else None
        # Without an id, a digest of the bytes (the memo must not keep every file alive).
        key = ("k8s", path, blob if blob is not None else hashlib.blake2b(data).digest())
        found = ctx.memo.get(key)
        if found is None:
            found = ctx.memo[key] = _check_bytes(ctx, path, data)
        findings.extend(found)
    return sorted(findings, key=lambda f: (f.path or "", f.line or 0, f.rule, f.subject))


def _check_bytes(ctx: Context, path: str, data: bytes) -> tuple[Finding, ...]:
    if len(data) > MAX_YAML_BYTES:
        return (_too_large(ctx, path, len(data)),)
    if may_hold_pod_spec(data):
        return tuple(_check_file(ctx, path, data))
    return ()


class _Source:
    """A file's text, split into lines only when a suggestion needs one."""

    def __init__(self, text: str) -> None:
        self.text = text

    @cached_property
    def lines(self) -> list[str]:
        return YAML_LINE_BREAK.split(self.text)

    def replace_value(self, line: int, key: str, value: str) -> str | None:
        """Line `line` with `key: <bool>` set to `value`, indentation and comment kept; None
        when the line is not that simple block-style key (flow style, anchors, tags)."""
        if not 0 < line <= len(self.lines):
            return None
        pattern = rf"(\s*(?:-\s+)?[\"']?{re.escape(key)}[\"']?\s*:\s*)[A-Za-z]+(\s*(?:#.*)?)"
        match = re.fullmatch(pattern, self.lines[line - 1])
        return f"{match.group(1)}{value}{match.group(2)}" if match else None


def _check_file(ctx: Context, path: str, data: bytes) -> list[Finding]:
    text = data.decode("utf-8", errors="replace")
    findings: list[Finding] = []
    for offset, document in split_documents(text):
        if may_be_workload(document):
            found = _check_document(ctx, path, document)
            if offset:
                found = [f.with_(line=f.line + offset) if f.line else f for f in found]
            findings.extend(found)
    return findings


def _check_document(ctx: Context, path: str, text: str) -> list[Finding]:
    """Findings of one document (or a whole file), with lines relative to `text`."""
    try:
        docs = parse_manifest(text)
    except YamlError as exc:
        if looks_like_helm_template(text):
            return []  # an unrendered template: not YAML yet, nothing to say
        message = f"{path} looks like a Kubernetes manifest but is not valid YAML ({exc})"
        return [ctx.finding("k8s/unparseable", message, path=path, line=exc.line, subject="parse")]
    source = _Source(text)
    return [
        finding
        for doc in docs
        for workload in find_workloads(path, doc)
        for finding in _check_workload(ctx, workload, source)
    ]


def _check_workload(ctx: Context, wl: Workload, source: _Source) -> Iterator[Finding]:
    yield from _check_host_namespaces(ctx, wl, source)
    yield from _check_host_paths(ctx, wl)
    for container in wl.containers:
        if "image" not in container.node:
            continue
        checks = _ContainerChecks(ctx, wl, container, source)
        yield from checks.probes()
        yield from checks.resources()
        yield from checks.run_as_root()
        yield from checks.privileges()
        yield from checks.capabilities()
        yield from checks.root_filesystem()
        yield from checks.image_tag()


def _check_host_namespaces(ctx: Context, wl: Workload, source: _Source) -> Iterator[Finding]:
    for key, rule, shared in HOST_NAMESPACES:
        if wl.pod.get(key) is True:
            line = wl.pod.line_of(key)
            yield ctx.finding(
                rule,
                f"{wl.label} sets `{key}: true`: its pods share {shared}",
                path=wl.path,
                line=line,
                subject=wl.label,
                suggestion=source.replace_value(line, key, "false"),
            )


def _check_host_paths(ctx: Context, wl: Workload) -> Iterator[Finding]:
    volumes = wl.pod.get("volumes")
    for volume in volumes if isinstance(volumes, LineList) else ():
        if isinstance(volume, LineDict) and "hostPath" in volume:
            name = volume.get("name")
            host = volume.get("hostPath")
            where = host.get("path") if isinstance(host, dict) else None
            shown = f" ({where})" if isinstance(where, str) else ""
            yield ctx.finding(
                "k8s/host-path-volume",
                f"{wl.label} mounts the node's filesystem{shown} as hostPath volume {name}",
                path=wl.path,
                line=volume.line_of("hostPath"),
                subject=f"{wl.label} volume {name}",
            )


class _ContainerChecks:
    """The container-level checks of one container, sharing its context and anchors."""

    def __init__(self, ctx: Context, wl: Workload, container: Container, source: _Source) -> None:
        self.ctx = ctx
        self.wl = wl
        self.node = container.node
        self.source = source
        self.init = container.init
        what = "init container" if container.init else "container"
        self.subject = f"{wl.label} {what} {container.name}"
        self.sc = _mapping(self.node.get("securityContext"))
        self.pod_sc = _mapping(wl.pod.get("securityContext"))

    def finding(
        self, rule: str, problem: str, line: int, suggestion: str | None = None, subject: str = ""
    ) -> Finding:
        return self.ctx.finding(
            rule,
            f"{self.subject} {problem}",
            path=self.wl.path,
            line=line,
            subject=subject or self.subject,
            suggestion=suggestion,
        )

    def probes(self) -> Iterator[Finding]:
        if self.init or self.wl.runs_to_completion:
            return
        for key, rule, what in (
            ("livenessProbe", "k8s/liveness-probe-missing", "liveness"),
            ("readinessProbe", "k8s/readiness-probe-missing", "readiness"),
        ):
            if self.node.get(key) is None:
                yield self.finding(rule, f"has no {what} probe (`{key}`)", self.node.line)

    def resources(self) -> Iterator[Finding]:
        if self.init:
            return
        resources = _mapping(self.node.get("resources"))
        requests = _mapping(resources.get("requests"))
        limits = _mapping(resources.get("limits"))
        for resource, label in (("cpu", "CPU"), ("memory", "memory")):
            has_limit = _has_quantity(limits, resource)
            if not has_limit:
                line = self._anchor(resources, "limits", "resources")
                yield self.finding(f"k8s/{resource}-limit-missing", f"has no {label} limit", line)
            # With a limit and no request, Kubernetes sets the request to the limit.
            if not has_limit and not _has_quantity(requests, resource):
                line = self._anchor(resources, "requests", "resources")
                yield self.finding(
                    f"k8s/{resource}-request-missing", f"has no {label} request", line
                )

    def run_as_root(self) -> Iterator[Finding]:
        user, user_owner = self._effective("runAsUser")
        non_root, non_root_owner = self._effective("runAsNonRoot")
        if type(user) is int and user == 0 and user_owner is not None:
            yield self.finding(
                "k8s/run-as-root", "runs as root (`runAsUser: 0`)", user_owner.line_of("runAsUser")
            )
        elif non_root is not True and not (type(user) is int and user > 0):
            if non_root is False and non_root_owner is not None:
                line = non_root_owner.line_of("runAsNonRoot")
                yield self.finding(
                    "k8s/run-as-root",
                    "may run as root (`runAsNonRoot: false` and no non-zero `runAsUser`)",
                    line,
                    self.source.replace_value(line, "runAsNonRoot", "true"),
                )
            else:
                yield self.finding(
                    "k8s/run-as-root",
                    "may run as root (neither `runAsNonRoot: true` nor a non-zero `runAsUser`)",
                    self._security_anchor(),
                )

    def privileges(self) -> Iterator[Finding]:
        if self.sc.get("privileged") is True:
            line = self.sc.line_of("privileged")
            yield self.finding(
                "k8s/privileged",
                "runs privileged (`privileged: true`): root on the node",
                line,
                self.source.replace_value(line, "privileged", "false"),
            )
        escalation = self.sc.get("allowPrivilegeEscalation")
        if escalation is True:
            line = self.sc.line_of("allowPrivilegeEscalation")
            suggestion = self.source.replace_value(line, "allowPrivilegeEscalation", "false")
            yield self.finding(
                "k8s/privilege-escalation-allowed",
                "allows privilege escalation (`allowPrivilegeEscalation: true`)",
                line,
                suggestion,
            )
        elif escalation is not False:
            yield self.finding(
                "k8s/privilege-escalation-allowed",
                "does not set `allowPrivilegeEscalation: false`",
                self._security_anchor(),
            )

    def capabilities(self) -> Iterator[Finding]:
        added = _mapping(self.sc.get("capabilities")).get("add")
        if not isinstance(added, LineList):
            return
        for index, capability in enumerate(added):
            if not isinstance(capability, str):
                continue
            name = capability.upper().removeprefix("CAP_")
            dangerous = name in DANGEROUS_CAPABILITIES
            yield self.finding(
                "k8s/dangerous-capability" if dangerous else "k8s/capability-added",
                f"adds the {name} capability",
                added.line_of(index),
                subject=f"{self.subject} capability {name}",
            )

    def root_filesystem(self) -> Iterator[Finding]:
        read_only = self.sc.get("readOnlyRootFilesystem")
        if read_only is False:
            line = self.sc.line_of("readOnlyRootFilesystem")
            yield self.finding(
                "k8s/writable-root-filesystem",
                "has a writable root filesystem (`readOnlyRootFilesystem: false`)",
                line,
                self.source.replace_value(line, "readOnlyRootFilesystem", "true"),
            )
        elif read_only is not True:
            yield self.finding(
                "k8s/writable-root-filesystem",
                "does not set `readOnlyRootFilesystem: true`",
                self._security_anchor(),
            )

    def image_tag(self) -> Iterator[Finding]:
        image = self.node.get("image")
        if not isinstance(image, str) or "@" in image or _is_templated(image):
            return
        tag = tag_of(image)
        if tag and tag != "latest":
            return
        problem = f"uses image {image!r} with " + ("the `latest` tag" if tag else "no tag")
        yield self.finding("k8s/image-tag-latest", problem, self.node.line_of("image"))

    def _effective(self, key: str) -> tuple[Any, LineDict | None]:
        """A pod-or-container setting: the container's value overrides the pod's."""
        for owner in (self.sc, self.pod_sc):
            if key in owner:
                return owner[key], owner
        return None, None

    def _anchor(self, parent: LineDict, key: str, parent_key: str) -> int:
        """Where a missing key belongs: its sibling block if present, else the parent key,
        else the container."""
        if key in parent:
            return parent.line_of(key)
        return self.node.line_of(parent_key)

    def _security_anchor(self) -> int:
        return self.node.line_of("securityContext")


def _mapping(value: Any) -> LineDict:
    if isinstance(value, LineDict):
        return value
    empty = LineDict()
    empty.key_lines = {}
    return empty


def _has_quantity(block: LineDict, resource: str) -> bool:
    return block.get(resource) not in (None, "")


def tag_of(image: str) -> str:
    """The tag of an image reference ('' when none); a registry port is not a tag."""
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else ""


def _is_templated(image: str) -> bool:
    return "{{" in image or "${" in image or "$(" in image


def _too_large(ctx: Context, path: str, size: int) -> Finding:
    return ctx.finding(
        "k8s/file-too-large",
        f"{path} is {size} bytes, over the {MAX_YAML_BYTES}-byte limit for YAML; not checked",
        path=path,
        subject="size",
    )


def _truncated(ctx: Context, path: str, files_read: int) -> Finding:
    return ctx.finding(
        "k8s/scan-truncated",
        f"stopped after {files_read} YAML files ({MAX_MANIFEST_FILES} files or "
        f"{MAX_TOTAL_BYTES} bytes at most); {path} and the files after it were not checked",
        path=path,
        subject="budget",
    )

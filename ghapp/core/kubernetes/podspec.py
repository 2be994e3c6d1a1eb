"""The checks of one workload's pod spec and containers (`k8s/…`), as Polaris popularised them,
plus the Pod Security Standard's restricted profile when the policy asks for it.

Each check reports at the offending key's line, or at the container (or the enclosing
`resources` / `securityContext`) when a key is missing. Findings carry a subject that survives
line moves ("Deployment/api container web") and, only where the fix is a one-line value flip, a
suggested replacement for that line.

Choices, mostly Polaris' defaults (danger -> error, warning -> warning):
- probes are not required of initContainers, Jobs, CronJobs, nor of bare Pods that are not
  restarted (`restartPolicy: Never|OnFailure`); resources are not required of initContainers;
- a missing request is not reported when the matching limit is set, because Kubernetes then
  defaults the request to the limit (Polaris reports it anyway);
- run-as-root follows Polaris: the effective (container over pod) `runAsNonRoot: true` or a
  `runAsUser` of 1 or more is required; `runAsUser: 0` is always reported;
- a container without `image` is a patch fragment, not a runnable container: not checked;
- adding `NET_BIND_SERVICE` is not reported: the restricted Pod Security Standard allows it;
- an image whose tag a build tool sets at deploy time (a Skaffold artifact, an image a
  kustomization's `images:` gives a `newTag` or `digest`, a `ko://` reference) is not reported
  for its `latest` or missing tag;
- the restricted profile's extra requirements (`RESTRICTED_RULES`: a seccomp profile,
  `capabilities.drop: [ALL]`, no automounted service-account token) would flood most existing
  repositories, so they run only with `kubernetes: {pod_security: restricted}` or when the
  policy gives one of them a severity;
- a Helm test hook (`helm.sh/hook: test`) runs only under `helm test`: its findings are
  test-fixture findings, counted rather than reported by default.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ghapp.core.context import Context
from ghapp.core.kubernetes.workloads import (
    YAML_LINE_BREAK,
    Container,
    Workload,
    image_name,
    within,
)
from ghapp.core.model import Finding
from ghapp.core.yamlnodes import LineDict, LineList

DANGEROUS_CAPABILITIES = frozenset({"SYS_ADMIN", "NET_ADMIN", "ALL"})
# The one capability the restricted Pod Security Standard lets a container add.
ALLOWED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
RESTRICTED_RULES = (
    "k8s/seccomp-profile-missing",
    "k8s/capabilities-not-dropped",
    "k8s/service-account-token-automounted",
)
# Pod-level booleans that share a node namespace with the pod: key -> (rule, what is shared).
HOST_NAMESPACES: tuple[tuple[str, str, str], ...] = (
    ("hostNetwork", "k8s/host-network", "the node's network stack"),
    ("hostPID", "k8s/host-pid", "the node's process table"),
    ("hostIPC", "k8s/host-ipc", "the node's IPC namespace"),
)


@dataclass(frozen=True)
class Options:
    """What decides a workload's findings besides its own text (part of the memo key)."""

    restricted: frozenset[str] = frozenset()  # RESTRICTED_RULES the policy turned on
    # (image name without tag, path it applies to) a build tool tags at deploy time: Skaffold
    # artifacts (everywhere), kustomize `images:` entries with a newTag or digest (below the
    # kustomization and its resources).
    artifacts: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True)
class PatchScope:
    """How to check a kustomize patch's workload: only containers its base does not have (a
    complete container the patch adds), with the base pod's securityContext for what the patch
    does not set."""

    added: Collection[str]
    base_security: Mapping[str, Any] = field(default_factory=dict)


def enabled_restricted_rules(ctx: Context) -> frozenset[str]:
    """The restricted-profile rules this policy runs."""
    if ctx.policy.pod_security == "restricted":
        return frozenset(RESTRICTED_RULES)
    severities = ctx.policy.severities
    return frozenset(r for r in RESTRICTED_RULES if severities.get(r) not in (None, "off"))


class Source:
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


def check_workload(
    ctx: Context, wl: Workload, source: Source, options: Options, patch: PatchScope | None = None
) -> Iterator[Finding]:
    """Every finding of one workload (of the containers a patch adds, for a patch)."""
    found = _workload_findings(ctx, wl, source, options, patch)
    if wl.helm_test:
        found = (f.with_(fixture=True) for f in found)
    yield from found


def _workload_findings(
    ctx: Context, wl: Workload, source: Source, options: Options, patch: PatchScope | None
) -> Iterator[Finding]:
    yield from _check_host_namespaces(ctx, wl, source)
    yield from _check_host_paths(ctx, wl)
    if patch is None and "k8s/service-account-token-automounted" in options.restricted:
        yield from _check_automount(ctx, wl)
    for container in wl.containers:
        if "image" not in container.node:
            continue
        if patch is not None and container.name not in patch.added:
            continue  # changes a container of the base: partial, checked with the base
        checks = _ContainerChecks(ctx, wl, container, source, options, patch)
        yield from checks.probes()
        yield from checks.resources()
        yield from checks.run_as_root()
        yield from checks.privileges()
        yield from checks.capabilities()
        yield from checks.root_filesystem()
        yield from checks.image_tag()
        yield from checks.restricted()


def _check_host_namespaces(ctx: Context, wl: Workload, source: Source) -> Iterator[Finding]:
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


def _check_automount(ctx: Context, wl: Workload) -> Iterator[Finding]:
    key = "automountServiceAccountToken"
    if wl.pod.get(key) is False:
        return
    line = wl.pod.line_of(key)
    yield ctx.finding(
        "k8s/service-account-token-automounted",
        f"{wl.label} mounts its service-account token into every container (`{key}` is not false)",
        path=wl.path,
        line=line,
        subject=wl.label,
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

    def __init__(
        self,
        ctx: Context,
        wl: Workload,
        container: Container,
        source: Source,
        options: Options,
        patch: PatchScope | None,
    ) -> None:
        self.ctx = ctx
        self.wl = wl
        self.node = container.node
        self.source = source
        self.options = options
        self.init = container.init
        what = "init container" if container.init else "container"
        self.subject = f"{wl.label} {what} {container.name}"
        self.sc = _mapping(self.node.get("securityContext"))
        self.pod_sc = _mapping(wl.pod.get("securityContext"))
        # A patch's container runs in the base's pod: what the patch leaves out, the base says.
        self.base_sc: Mapping[str, Any] = patch.base_security if patch is not None else {}

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
            if name in ALLOWED_CAPABILITIES:
                continue
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
        name = image_name(image)
        if any(n == name and within(self.wl.path, at) for n, at in self.options.artifacts):
            return  # the build tool deploys it with a tag or digest of its own
        tag = tag_of(image)
        if tag and tag != "latest":
            return
        problem = f"uses image {image!r} with " + ("the `latest` tag" if tag else "no tag")
        yield self.finding("k8s/image-tag-latest", problem, self.node.line_of("image"))

    def restricted(self) -> Iterator[Finding]:
        """The restricted Pod Security Standard's container settings the policy turned on."""
        rules = self.options.restricted
        if "k8s/seccomp-profile-missing" in rules:
            profile, owner = self._effective("seccompProfile")
            kind = profile.get("type") if isinstance(profile, Mapping) else None
            if kind == "Unconfined":
                line = owner.line_of("seccompProfile") if owner is not None else self.node.line
                yield self.finding(
                    "k8s/seccomp-profile-missing",
                    "runs without seccomp (`seccompProfile.type: Unconfined`)",
                    line,
                )
            elif kind not in ("RuntimeDefault", "Localhost"):
                yield self.finding(
                    "k8s/seccomp-profile-missing",
                    "sets no seccomp profile (`seccompProfile.type: RuntimeDefault`)",
                    self._security_anchor(),
                )
        if "k8s/capabilities-not-dropped" in rules:
            dropped = _mapping(self.sc.get("capabilities")).get("drop")
            names = {str(c).upper().removeprefix("CAP_") for c in dropped or ()}
            if not isinstance(dropped, list) or "ALL" not in names:
                yield self.finding(
                    "k8s/capabilities-not-dropped",
                    "does not drop all capabilities (`capabilities.drop: [ALL]`)",
                    self._security_anchor(),
                )

    def _effective(self, key: str) -> tuple[Any, LineDict | None]:
        """A pod-or-container setting: the container's value overrides the pod's (for a patch's
        container, the base pod's when the patch sets neither; its line is then unknown)."""
        for owner in (self.sc, self.pod_sc):
            if key in owner:
                return owner[key], owner
        if key in self.base_sc:
            return self.base_sc[key], None
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
    """Filled in before deploying: a template expression, or a ko build reference."""
    return "{{" in image or "${" in image or "$(" in image or image.startswith("ko://")

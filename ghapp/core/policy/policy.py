"""The policy a repository is evaluated against (parsed from `.github/ghapp.yml`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from types import MappingProxyType
from typing import Any

from ghapp.core.model import PolicyLayer
from ghapp.core.snapshot import Snapshot, read_text

# Fields a service manifest must carry. Names are Service field names.
DEFAULT_ALWAYS: tuple[str, ...] = ("owner",)
DEFAULT_BY_TIER: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"1": ("oncall", "runbook", "data"), "2": ("oncall",)}
)
DEFAULT_BY_DATA: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {"phi": ("oncall", "tier", "runbook"), "pci": ("oncall", "tier", "runbook")}
)
# Actions that must be referenced by tag, never `workflow/unpinned-action`: the SLSA generator's
# reusable workflows read their own ref to find the builder and refuse a commit SHA.
DEFAULT_TAG_PINNED_ACTIONS: tuple[str, ...] = (
    "slsa-framework/slsa-github-generator/.github/workflows/*",
)


@dataclass(frozen=True)
class ManifestRequirements:
    """Which manifest fields are required: always, by tier, and by data classification."""

    always: tuple[str, ...] = DEFAULT_ALWAYS
    by_tier: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: DEFAULT_BY_TIER)
    by_data: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: DEFAULT_BY_DATA)


@dataclass(frozen=True)
class CoverageRequirement:
    """Scan categories a matching service must have.

    A service matches when its tier is in `tiers` (empty: any tier) and it holds any data class
    in `data` (empty: any), and, when `when_files` is set, it has a file matching one of those
    globs (e.g. Dockerfiles, *.tf). `on_pull_request` and `blocking` raise the bar from
    "configured somewhere" to "runs on PRs" and "a failure blocks".
    """

    categories: tuple[str, ...]
    tiers: tuple[str, ...] = ()
    data: tuple[str, ...] = ()
    when_files: tuple[str, ...] = ()
    on_pull_request: bool = True
    blocking: bool = True
    line: int | None = None


@dataclass(frozen=True)
class Waiver:
    """A standing exception: rule (or rule prefix ending in '/'), scoped to a path glob or service."""

    rule: str
    reason: str
    approved_by: str
    until: date | None = None
    path: str | None = None
    service: str | None = None
    line: int | None = None
    source: str | None = None  # where it was granted: a config file, or a `/waive` comment


@dataclass(frozen=True)
class Policy:
    """Everything configurable; `configured` is False when no config file was found anywhere
    (report-only: the conclusion is neutral, nothing blocks)."""

    configured: bool = False
    path: str | None = None
    severities: Mapping[str, str] = field(default_factory=dict)  # rule id -> severity | "off"
    ignore: tuple[str, ...] = ()  # path globs excluded from every check
    require_owners: tuple[str, ...] = ("**",)  # path globs every file under must have an owner
    manifests: ManifestRequirements = field(default_factory=ManifestRequirements)
    coverage: tuple[CoverageRequirement, ...] = ()
    waivers: tuple[Waiver, ...] = ()
    enforce: bool = True  # False: findings are reported, the conclusion is never failure
    publish: Mapping[str, Any] = field(default_factory=dict)  # review_comments, labels, ...
    commands: Mapping[str, Any] = field(default_factory=dict)  # who may run which command
    # Manifest group owner (any reference, compared by slug) -> GitHub team handles.
    owner_teams: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Kubernetes and manifest findings under test directories: reported, or counted in a note.
    report_test_fixtures: bool = False
    # Kubernetes Pod Security Standard profile whose container settings are required:
    # "baseline" (default) or "restricted" (adds seccomp, drop ALL, no token automount).
    pod_security: str = "baseline"
    # `uses:` patterns (`*`: within one path segment) allowed to be referenced by tag
    tag_pinned_actions: tuple[str, ...] = DEFAULT_TAG_PINNED_ACTIONS
    layers: tuple[PolicyLayer, ...] = ()  # the files it was read from, org default first
    locked: tuple[str, ...] = ()  # top-level keys the org default locks
    expired_waivers: tuple[Waiver, ...] = ()  # dropped because their `until` has passed


CONFIG_PATHS: tuple[str, ...] = (".github/ghapp.yml", ".github/ghapp.yaml")


@dataclass(frozen=True)
class ConfigProblem:
    """Something wrong with a config file: which rule, where, and what."""

    rule: str  # config/invalid, config/locked-key, config/expired-waiver
    path: str
    line: int | None
    message: str
    fix: str
    severity: str = "error"


def parse_policy(
    text: str | None,
    path: str = CONFIG_PATHS[0],
    *,
    org_text: str | None = None,
    org_path: str = "<org>/.github/ghapp.yml",
    today: date | None = None,
) -> tuple[Policy, tuple[ConfigProblem, ...]]:
    """Build the Policy from the repo config layered over the org default.

    No config anywhere: report-only policy (`configured=False`). An invalid file is reported
    as problems with lines and contributes nothing (the other layer still applies); a repo
    override of an org-locked key is ignored and reported. Expired waivers are dropped and
    reported when `today` is given.
    """
    from ghapp.core.policy.loader import layered_config, policy_from_config

    merged, problems, layers = layered_config(text, path, org_text, org_path)
    if merged is None:
        return Policy(), problems
    policy, more = policy_from_config(merged, path if text is not None else org_path, today)
    locked = next((layer.keys for layer in layers if layer.name == "locked"), ())
    layers = tuple(layer for layer in layers if layer.name != "locked")
    return replace(policy, layers=layers, locked=locked), problems + more


def read_policy(
    snapshot: Snapshot,
    *,
    org_text: str | None = None,
    repo_text: str | None = None,
    today: date | None = None,
) -> tuple[Policy, tuple[ConfigProblem, ...]]:
    """The policy of a repository snapshot: its first config file in CONFIG_PATHS layered over
    the org default (`repo_text`, when given, replaces the file's text)."""
    path = next((p for p in CONFIG_PATHS if snapshot.size(p) is not None), None)
    if repo_text is None and path is not None:
        repo_text = read_text(snapshot, path)
    return parse_policy(repo_text, path or CONFIG_PATHS[0], org_text=org_text, today=today)

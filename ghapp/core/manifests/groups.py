"""Which GitHub team a manifest owner is: a Backstage group is not a GitHub team slug.

A Backstage owner `group:default/open-source` names a catalog group; CODEOWNERS names GitHub
teams (`@acme/engineering`). The two agree or disagree only once the group is mapped to a team,
from (first that answers):

1. the policy: `manifests.owner_teams: {open-source: "@acme/engineering"}` (keys are owner
   references, compared by slug like `group:default/open-source`; values team handles);
2. a Backstage `kind: Group` entity with annotation `github.com/team-slug: acme/engineering`,
   in a manifest file or a file a `kind: Location` entity in one targets (relative paths);
3. the same name: CODEOWNERS lists a team with the group's slug somewhere (`@acme/open-source`).

Otherwise the group's team is unknown and nothing can be said about agreement. A GitHub handle
(`@acme/team`, `@user`), an email or a `user:` reference needs no mapping.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

from ghapp.core.manifests.services import owner_team_slug
from ghapp.core.snapshot import Snapshot
from ghapp.core.yamlnodes import MAX_YAML_BYTES, LineDict, YamlError, load_documents

TEAM_SLUG_ANNOTATION = "github.com/team-slug"
BACKSTAGE_FILES = frozenset({"catalog-info.yaml", "catalog-info.yml"})
MAX_CATALOG_FILES = 2_000  # manifests and Location targets read for Group entities


@dataclass(frozen=True)
class TeamMapping:
    """The GitHub team slugs an owner stands for, how that is known (for messages), and a
    full handle (`@acme/engineering`) when the mapping names the organisation."""

    teams: frozenset[str]
    source: str
    handle: str | None = None


def group_slug(owner: str) -> str | None:
    """The group an owner names: `open-source`, `group:open-source`,
    `group:default/open-source` -> `open-source`; None for users, emails and GitHub handles."""
    return None if "@" in owner else owner_team_slug(owner)


def team_slug(handle: str) -> str | None:
    """`@acme/engineering`, `acme/engineering` or `engineering` -> `engineering`."""
    text = handle.strip().removeprefix("@")
    return owner_team_slug(f"@{text}" if "/" in text else text)


class OwnerTeams:
    """Maps manifest owners to GitHub teams for one snapshot (Group entities read on demand)."""

    def __init__(
        self,
        snapshot: Snapshot,
        configured: Mapping[str, tuple[str, ...]],
        codeowners_owners: Iterable[str],
    ) -> None:
        self.snapshot = snapshot
        self.configured = {
            group: handles
            for key, handles in configured.items()
            if (group := group_slug(key)) is not None
        }
        self._codeowners_owners = tuple(codeowners_owners)

    @cached_property
    def codeowners_teams(self) -> frozenset[str]:
        """Slugs of every team CODEOWNERS names, anywhere in the file."""
        owners = self._codeowners_owners
        return frozenset(t for o in owners if "/" in o and (t := team_slug(o)) is not None)

    @cached_property
    def entities(self) -> Mapping[str, tuple[str, str | None, str]]:
        """Group slug -> (team slug, `@org/team` or None, file) from `kind: Group` entities."""
        return read_group_entities(self.snapshot)

    def mapping(self, owner: str) -> TeamMapping | None:
        """The teams a group owner is on GitHub; None when not a group or not known."""
        group = group_slug(owner)
        if group is None:
            return None
        handles = self.configured.get(group)
        if handles:
            teams = frozenset(t for h in handles if (t := team_slug(h)) is not None)
            source = f"{', '.join(handles)} per the policy's manifests.owner_teams"
            return TeamMapping(teams, source, handles[0])
        entity = self.entities.get(group)
        if entity is not None:
            team, handle, path = entity
            source = f"GitHub team {(handle or team).lstrip('@')} per its Group entity in {path}"
            return TeamMapping(frozenset({team}), source, handle)
        if group in self.codeowners_teams:
            return TeamMapping(frozenset({group}), f"GitHub team {group}, the same name")
        return None


def read_group_entities(snapshot: Snapshot) -> dict[str, tuple[str, str | None, str]]:
    """Group slug -> (GitHub team slug, `@org/team` or None, file) from Backstage `kind: Group`
    entities annotated `github.com/team-slug`, in catalog-info files and the files their
    Locations target."""
    paths = snapshot.paths()
    existing = set(paths)
    queue = sorted(p for p in paths if posixpath.basename(p) in BACKSTAGE_FILES)
    seen = set(queue)
    out: dict[str, tuple[str, str | None, str]] = {}
    read = 0
    while queue and read < MAX_CATALOG_FILES:
        path = queue.pop(0)
        size = snapshot.size(path)
        data = snapshot.read(path) if size is None or size <= MAX_YAML_BYTES else None
        read += 1
        if data is None or len(data) > MAX_YAML_BYTES:
            continue
        if b"Group" not in data and b"Location" not in data:
            continue  # most manifests: a Component and nothing to follow
        try:
            docs = load_documents(data.decode("utf-8", errors="replace"))
        except YamlError:
            continue  # reported by the manifest reader (or not a manifest at all)
        for doc in docs:
            if not isinstance(doc, LineDict):
                continue
            kind = doc.get("kind")
            if kind == "Group":
                found = _group_team(doc)
                if found is not None:
                    out.setdefault(found[0], (*found[1:], path))
            elif kind == "Location":
                for target in _location_targets(doc, path):
                    if target in existing and target not in seen:
                        seen.add(target)
                        queue.append(target)
    return out


def _group_team(doc: LineDict) -> tuple[str, str, str | None] | None:
    meta = doc.get("metadata")
    if not isinstance(meta, Mapping):
        return None
    name, notes = meta.get("name"), meta.get("annotations")
    value = notes.get(TEAM_SLUG_ANNOTATION) if isinstance(notes, Mapping) else None
    if not isinstance(name, str) or not isinstance(value, str) or not value.strip():
        return None
    group, team = owner_team_slug(name), team_slug(value)  # `org/team` or `team`
    handle = "@" + value.strip().removeprefix("@") if "/" in value else None
    return (group, team, handle) if group and team else None


def _location_targets(doc: LineDict, path: str) -> list[str]:
    spec = doc.get("spec")
    if not isinstance(spec, Mapping):
        return []
    raw = spec.get("targets")
    targets = [t for t in raw if isinstance(t, str)] if isinstance(raw, list) else []
    if isinstance(spec.get("target"), str):
        targets.append(spec["target"])
    base = posixpath.dirname(path)
    out = []
    for target in targets:
        if "://" in target or "\n" in target or target.startswith("/"):
            continue  # URLs and absolute locations are outside the snapshot
        out.append(posixpath.normpath(posixpath.join(base, target)))
    return out

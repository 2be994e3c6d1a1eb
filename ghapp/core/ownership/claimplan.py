"""A whole `/claim-ownership` over a snapshot: each target (a service, a file, a directory, or
none: the pull request's unowned files) becomes CODEOWNERS lines placed by
ghapp.core.ownership.claim and, for a Backstage service, its manifest's `spec.owner`
(ghapp.core.ownership.yamledits), gathered into one ClaimPlan."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from ghapp.core.catalog import Catalog
from ghapp.core.manifests.services import ServiceIndex, discover_services, owners_match
from ghapp.core.model import Service
from ghapp.core.ownership.claim import (
    AlreadyOwned,
    ClaimRefused,
    Parse,
    cached_parse,
    default_parse,
    files_to_claim,
    plan_codeowners_claim,
    target_pattern,
)
from ghapp.core.ownership.codeowners import LOCATIONS, find_codeowners
from ghapp.core.ownership.yamledits import FileEdit, manifest_owner_value, plan_manifest_owner
from ghapp.core.snapshot import Snapshot, read_text


@dataclass(frozen=True)
class ClaimPlan:
    """Everything a claim PR writes: new file texts, the change lines, the claimed files."""

    files: Mapping[str, str]
    changes: tuple[str, ...]
    claimed: tuple[str, ...]
    summary: str
    notes: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        return f"Claim ownership of {self.summary}"


def plan_claim(
    snapshot: Snapshot,
    catalog: Catalog,
    targets: Sequence[str],
    team: str,
    changed: Sequence[str],
    parse: Parse | None = None,
) -> ClaimPlan:
    """Plan `/claim-ownership`: each target is a service name, a file or a directory; with no
    target, the changed files nobody owns. Raises ClaimRefused with the reason."""
    parse = cached_parse(parse or default_parse())
    found = find_codeowners(snapshot)
    if found is not None and found.too_large:
        raise ClaimRefused(f"{found.path} is larger than GitHub reads; it cannot be edited here")
    path = found.path if found is not None else LOCATIONS[0]
    text = (found.text if found is not None else None) or ""
    universe = sorted({*snapshot.paths(), *changed})
    services = discover_services(snapshot, catalog)[0]
    index = ServiceIndex(services)
    edits: dict[str, str] = {}
    changes: list[str] = []
    claimed: list[str] = []
    notes: list[str] = []
    labels: list[str] = []

    def apply(files: Collection[str], pattern: str | None) -> None:
        nonlocal text
        plan = plan_codeowners_claim(text, files, team, universe, pattern, parse)
        text = plan.text
        changes.extend(f"{path} {c}" for c in plan.changes)
        claimed.extend(plan.claimed)

    if not targets:
        decided = parse(text).resolve_all(changed)
        unowned = [p for p, m in zip(changed, decided, strict=True) if m is None or not m.owners]
        if not unowned:
            raise ClaimRefused("every file this pull request changes already has an owner")
        apply(unowned, None)
        labels.append(f"{len(unowned)} unowned file(s) changed in this pull request")
    for target in targets:
        service = next((s for s in services if s.name == target), None)
        try:
            if service is not None:
                labels.append(f"service {service.name}")
                under = [p for p in universe if index.service_of(p) is service]
                wanted = files_to_claim(text, under, service.path, universe, parse)
                try:
                    apply(wanted, target_pattern(service.path, True))
                except AlreadyOwned:
                    raise
                except ClaimRefused:  # a nested service's files: claim file by file instead
                    apply(wanted, None)
            elif target in universe:
                labels.append(f"`{target}`")
                apply([target], target_pattern(target, False))
            elif target == "/" or any(p.startswith(f"{target}/") for p in universe):
                labels.append(f"`{target}/`")
                under = [p for p in universe if target == "/" or p.startswith(f"{target}/")]
                directory = "" if target == "/" else target
                apply(
                    files_to_claim(text, under, directory, universe, parse),
                    target_pattern(directory, True),
                )
            else:
                raise ClaimRefused(f"`{target}` matches no file, directory or service")
        except AlreadyOwned:
            notes.append(f"{labels[-1]} is already owned by {team}")
        if service is not None:
            edit = _manifest_edit(snapshot, service, team)
            if edit is not None:
                edits[edit.path] = edit.text
                changes.append(f"{edit.path}: spec.owner set for {service.name}")
            elif service.source != "backstage" and not _owned_by(service, team):
                notes.append(
                    f"{service.manifest} is not a Backstage manifest; set its owner by hand"
                )
    if not changes:
        raise AlreadyOwned("; ".join(notes) or f"already owned by {team}: nothing to change")
    if text != ((found.text if found is not None else None) or ""):
        edits = {path: text, **edits}
    return ClaimPlan(
        edits, tuple(changes), tuple(sorted(set(claimed))), ", ".join(labels), tuple(notes)
    )


def _owned_by(service: Service, team: str) -> bool:
    return service.owner is not None and owners_match(service.owner, team)


def _manifest_edit(snapshot: Snapshot, service: Service, team: str) -> FileEdit | None:
    if service.source != "backstage" or _owned_by(service, team):
        return None
    text = read_text(snapshot, service.manifest)
    if text is None:
        return None
    value = manifest_owner_value(service.owner, team)
    return FileEdit(service.manifest, plan_manifest_owner(text, service.name, value))

"""What every check receives: the snapshot, the catalog, the policy and ownership facts."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ghapp.core.catalog import Catalog
from ghapp.core.manifests.groups import OwnerTeams
from ghapp.core.model import Finding, Service
from ghapp.core.ownership.directory import OwnerDirectory
from ghapp.core.policy.policy import Policy
from ghapp.core.snapshot import Snapshot
from ghapp.core.workflows.parsing import Workflow, load_workflows

if TYPE_CHECKING:
    from ghapp.core.ownership.codeowners import CodeOwners


@dataclass(frozen=True)
class Context:
    """Inputs of one evaluation. `changed` is None for a whole-repository check, otherwise the
    paths the change touched (checks may use it to scope what they report). `memo` is shared by
    the head and base evaluations of one change: a check may keep there results that depend
    only on a file's path and content (and the policy), so an unchanged file is checked once."""

    snapshot: Snapshot
    catalog: Catalog
    policy: Policy
    today: date
    codeowners: CodeOwners | None = None
    codeowners_path: str | None = None
    services: tuple[Service, ...] = ()
    changed: frozenset[str] | None = None
    directory: OwnerDirectory | None = None
    memo: dict[Hashable, Any] = field(default_factory=dict, compare=False, repr=False)

    @cached_property
    def workflows(self) -> tuple[Workflow, ...]:
        """The snapshot's parsed workflows, once per evaluation: coverage, its policy check and
        hygiene all read them."""
        return load_workflows(self.snapshot)

    @cached_property
    def owner_teams(self) -> OwnerTeams:
        """Manifest group owners mapped to GitHub teams (policy, Group entities, same name)."""
        rules = self.codeowners.rules if self.codeowners is not None else ()
        owners = [owner for rule in rules for owner in rule.owners]
        return OwnerTeams(self.snapshot, self.policy.owner_teams, owners)

    @cached_property
    def codeowners_handles(self) -> frozenset[str]:
        """Every owner some CODEOWNERS rule names (owners ghapp can vouch for)."""
        if self.codeowners is None:
            return frozenset()
        return frozenset(o for rule in self.codeowners.rules for o in rule.owners)

    def finding(
        self,
        rule_id: str,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        column: int | None = None,
        subject: str = "",
        fix: str | None = None,
        suggestion: str | None = None,
        owners: Iterable[str] = (),
        service: str | None = None,
        fixture: bool = False,
    ) -> Finding:
        """A finding of a catalog rule; severity and default fix come from the catalog
        (the evaluator applies policy overrides, waivers and owners afterwards)."""
        rule = self.catalog.rule(rule_id)
        return Finding(
            rule=rule_id,
            severity=rule.severity,
            message=message,
            path=path,
            line=line,
            column=column,
            subject=subject,
            fix=fix or rule.fix,
            suggestion=suggestion,
            owners=tuple(owners),
            service=service,
            fixture=fixture,
        )

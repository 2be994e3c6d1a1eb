"""The rules catalog as values: rule metadata and scanner-tool definitions (loaded by ghapp.rules)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ghapp.core.errors import GhappError
from ghapp.core.model import Severity


@dataclass(frozen=True)
class Rule:
    """A check's stable identity and the words every finding of it carries."""

    id: str
    title: str
    severity: Severity
    rationale: str
    fix: str
    docs: str
    tags: tuple[str, ...] = ()
    security_severity: float | None = None  # CVSS-like 0.1-10, how code scanning ranks alerts

    @property
    def group(self) -> str:
        return self.id.split("/", 1)[0]


@dataclass(frozen=True)
class Catalog:
    """An immutable registry: rules by id, plus the raw scanner-tool entries (validated by schema)."""

    rules: Mapping[str, Rule]
    tools: tuple[Mapping[str, Any], ...] = field(default=())

    def rule(self, rule_id: str) -> Rule:
        try:
            return self.rules[rule_id]
        except KeyError:
            raise GhappError(f"unknown rule id {rule_id!r} (not in the rules catalog)") from None

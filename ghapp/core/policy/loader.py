"""Reading `.github/ghapp.yml`: YAML with lines, schema validation, org layering, Policy values."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from functools import lru_cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ghapp.core.model import PolicyLayer
from ghapp.core.policy.policy import (
    DEFAULT_TAG_PINNED_ACTIONS,
    ConfigProblem,
    CoverageRequirement,
    ManifestRequirements,
    Policy,
    Waiver,
)
from ghapp.core.policy.schema import CONFIG_SCHEMA
from ghapp.core.yamlnodes import LineDict, LineList, YamlError, load_document

if TYPE_CHECKING:
    import jsonschema

_FIX_INVALID = (
    "Correct the config against schema/ghapp.schema.json (see the README, Configuration)."
)


def layered_config(
    text: str | None, path: str, org_text: str | None, org_path: str
) -> tuple[dict[str, Any] | None, tuple[ConfigProblem, ...], tuple[PolicyLayer, ...]]:
    """The org default with the repo config over it (None when neither file exists), and the
    layers that were read: `organisation` and `repository` with the keys each set (a key the
    org locks is not the repository's), plus a `locked` pseudo-layer listing the locked keys."""
    if text is None and org_text is None:
        return None, (), ()
    org, org_problems = _read(org_text, org_path)
    repo, repo_problems = _read(text, path)
    problems = list(org_problems + repo_problems)
    locked = set(org.get("locked", ()))
    layers = []
    if org_text is not None:
        layers.append(PolicyLayer("organisation", org_path, tuple(k for k in org if k != "locked")))
    if text is not None:
        keys = tuple(k for k in repo if k not in locked and k != "locked")
        layers.append(PolicyLayer("repository", path, keys))
    if locked:
        layers.append(PolicyLayer("locked", org_path, tuple(sorted(locked))))
    merged: dict[str, Any] = {k: v for k, v in org.items() if k != "locked"}
    for key, value in repo.items():
        if key in locked:
            line = repo.line_of(key) if isinstance(repo, LineDict) else None
            problems.append(
                ConfigProblem(
                    "config/locked-key",
                    path,
                    line,
                    f"`{key}` is locked by the organisation default; the repository value is ignored",
                    f"Remove `{key}` from {path}, or ask the org admins to unlock it.",
                    "warning",
                )
            )
        elif key == "locked":
            continue
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = {**merged[key], **value}
        elif key == "waivers" and isinstance(merged.get(key), list):
            merged[key] = [*merged[key], *value]
        else:
            merged[key] = value
    return merged, tuple(problems), tuple(layers)


def _read(text: str | None, path: str) -> tuple[Mapping[str, Any], tuple[ConfigProblem, ...]]:
    if text is None:
        return {}, ()
    try:
        doc = load_document(text)
    except YamlError as exc:
        return {}, (ConfigProblem("config/invalid", path, exc.line, str(exc), _FIX_INVALID),)
    if doc is None:
        return LineDict(), ()
    if not isinstance(doc, LineDict):
        return {}, (
            ConfigProblem("config/invalid", path, 1, "config must be a YAML mapping", _FIX_INVALID),
        )
    severities = doc.get("severities")
    if isinstance(severities, LineDict):
        # YAML 1.1 reads a bare `off` as false; in this key it can only mean "off".
        for rule, value in severities.items():
            if value is False:
                severities[rule] = "off"
    plain = _dates_to_text(doc)
    errors = sorted(_validator().iter_errors(plain), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        return {}, tuple(
            ConfigProblem(
                "config/invalid",
                path,
                _line_at(doc, list(err.absolute_path)),
                f"{'.'.join(map(str, err.absolute_path)) or 'config'}: {err.message}",
                _FIX_INVALID,
            )
            for err in errors
        )
    return doc, ()


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    # Imported on first use: jsonschema is a third of `ghapp check`'s start-up, and most
    # repositories have no config file to validate.
    import jsonschema

    return jsonschema.Draft202012Validator(
        CONFIG_SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def _dates_to_text(value: Any, depth: int = 0) -> Any:
    # YAML reads `until: 2026-12-31` as a date; the schema (and JSON) speak strings.
    if depth > 20:
        return value
    if isinstance(value, Mapping):
        return {k: _dates_to_text(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_dates_to_text(v, depth + 1) for v in value]
    if isinstance(value, date | datetime):
        return value.isoformat()[:10]
    return value


def _line_at(doc: Any, where: list[Any]) -> int | None:
    node, line = doc, getattr(doc, "line", None)
    for step in where:
        if (isinstance(node, LineDict) and step in node) or (
            isinstance(node, LineList) and isinstance(step, int) and step < len(node)
        ):
            line, node = node.line_of(step), node[step]
        else:
            break
    return line


def policy_from_config(
    config: Mapping[str, Any], path: str, today: date | None
) -> tuple[Policy, tuple[ConfigProblem, ...]]:
    """Turn a validated (merged) config mapping into a Policy."""
    manifests = config.get("manifests", {})
    defaults = ManifestRequirements()
    requirements = ManifestRequirements(
        always=tuple(manifests.get("required", defaults.always)),
        by_tier=_frozen_lists(manifests.get("by_tier"), defaults.by_tier),
        by_data=_frozen_lists(manifests.get("by_data"), defaults.by_data),
    )
    coverage = tuple(
        CoverageRequirement(
            categories=tuple(item["categories"]),
            tiers=tuple(str(t) for t in item.get("tiers", ())),
            data=tuple(item.get("data", ())),
            when_files=tuple(item.get("when_files", ())),
            on_pull_request=item.get("on_pull_request", True),
            blocking=item.get("blocking", True),
            line=_item_line(config.get("coverage"), i),
        )
        for i, item in enumerate(config.get("coverage", ()))
    )
    waivers, expired, problems = _waivers(config.get("waivers", ()), path, today)
    policy = Policy(
        configured=True,
        path=path,
        severities=MappingProxyType(dict(config.get("severities", {}))),
        ignore=tuple(config.get("ignore", ())),
        require_owners=tuple(config.get("owners", {}).get("require", ("**",))),
        manifests=requirements,
        coverage=coverage,
        waivers=waivers,
        enforce=bool(config.get("enforce", True)),
        publish=MappingProxyType(dict(config.get("publish", {}))),
        commands=MappingProxyType(dict(config.get("commands", {}))),
        report_test_fixtures=bool(config.get("test_fixtures", {}).get("report", False)),
        pod_security=str(config.get("kubernetes", {}).get("pod_security", "baseline")),
        owner_teams=MappingProxyType(
            {
                str(group): (teams,) if isinstance(teams, str) else tuple(teams)
                for group, teams in manifests.get("owner_teams", {}).items()
            }
        ),
        tag_pinned_actions=DEFAULT_TAG_PINNED_ACTIONS
        + tuple(config.get("workflows", {}).get("tag_pinned_actions", ())),
        expired_waivers=expired,
    )
    return policy, problems


def _waivers(
    items: Any, path: str, today: date | None
) -> tuple[tuple[Waiver, ...], tuple[Waiver, ...], tuple[ConfigProblem, ...]]:
    """(live waivers, expired waivers, a notice per expired one)."""
    waivers: list[Waiver] = []
    expired: list[Waiver] = []
    problems: list[ConfigProblem] = []
    for i, item in enumerate(items):
        until = item.get("until")
        if isinstance(until, str):
            until = date.fromisoformat(until)
        elif isinstance(until, datetime):
            until = until.date()
        line = _item_line(items, i)
        waiver = Waiver(
            rule=item["rule"],
            reason=item["reason"],
            approved_by=item["approved_by"],
            until=until,
            path=item.get("path"),
            service=item.get("service"),
            line=line,
            source=path,
        )
        if today is not None and until is not None and until < today:
            expired.append(waiver)
            problems.append(
                ConfigProblem(
                    "config/expired-waiver",
                    path,
                    line,
                    f"waiver for {item['rule']} expired on {until.isoformat()} and no longer applies",
                    "Fix the finding, or renew the waiver with a new `until` and approver.",
                    "notice",
                )
            )
            continue
        waivers.append(waiver)
    return tuple(waivers), tuple(expired), tuple(problems)


def _item_line(items: Any, index: int) -> int | None:
    return items.line_of(index) if isinstance(items, LineList) else None


def _frozen_lists(
    given: Mapping[str, Any] | None, default: Mapping[str, tuple[str, ...]]
) -> Mapping[str, tuple[str, ...]]:
    if given is None:
        return default
    return MappingProxyType({str(k).lower(): tuple(v) for k, v in given.items()})

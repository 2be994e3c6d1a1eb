"""The repository's zizmor decisions, honoured for the rules ghapp shares with zizmor.

A repository that runs zizmor has already reviewed its findings and recorded what it accepts:
in its config (`.github/zizmor.yml` or `zizmor.yml`) and in `# zizmor: ignore[audit]` comments.
ghapp does not ask again:
- `rules.unpinned-uses.config.policies` entries of `ref-pin` or `any` (Loki's `actions/*: any
  # trust GitHub`) accept a tag or branch ref for the actions they match: no unpinned finding,
  like the policy's `tag_pinned_actions` (a `uses:` with no ref at all is still reported);
- `rules.AUDIT.disable: true`, `rules.AUDIT.ignore: [file.yml, file.yml:LINE]` and an inline
  `# zizmor: ignore[AUDIT]` on the finding's line mark ghapp's findings of the same risk
  (`AUDITS`) waived, with where the acceptance is written; they stay in the report.
`workflow/untrusted-checkout` maps to no audit: accepting a dangerous trigger does not accept
running a pull request's code with its secrets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from ghapp.core.model import Finding
from ghapp.core.snapshot import Snapshot, read_text
from ghapp.core.workflows.parsing import Workflow
from ghapp.core.yamlnodes import YamlError, load_document

CONFIG_PATHS = (".github/zizmor.yml", ".github/zizmor.yaml", "zizmor.yml", "zizmor.yaml")
# ghapp rule -> the zizmor audit that raises the same risk
AUDITS: Mapping[str, str] = {
    "workflow/unpinned-action": "unpinned-uses",
    "workflow/unpinned-github-action": "unpinned-uses",
    "workflow/missing-permissions": "excessive-permissions",
    "workflow/excessive-permissions": "excessive-permissions",
    "workflow/write-all-permissions": "excessive-permissions",
    "workflow/persist-credentials": "artipacked",
    "workflow/cache-poisoning": "cache-poisoning",
    "workflow/dangerous-trigger": "dangerous-triggers",
    "workflow/script-injection": "template-injection",
    "workflow/github-env": "github-env",
    "workflow/secrets-inherit": "secrets-inherit",
}
_INLINE = re.compile(r"#\s*zizmor:\s*ignore\[([^\]]*)\]")
_REF_ACCEPTED = frozenset({"ref-pin", "any"})


@dataclass(frozen=True)
class ZizmorConfig:
    path: str
    disabled: frozenset[str] = frozenset()
    ignores: Mapping[str, tuple[tuple[str, int | None], ...]] = field(default_factory=dict)
    ref_accepted: tuple[str, ...] = ()  # unpinned-uses patterns that accept a tag or branch


def read_config(snapshot: Snapshot) -> ZizmorConfig | None:
    """The first zizmor config of the repository, or None (absent or not a mapping)."""
    paths = set(snapshot.paths())
    for path in CONFIG_PATHS:
        if path not in paths:
            continue
        text = read_text(snapshot, path)
        try:
            doc = load_document(text) if text is not None else None
        except YamlError:
            return None
        rules = doc.get("rules") if isinstance(doc, Mapping) else None
        return _config(path, rules if isinstance(rules, Mapping) else {})
    return None


def _config(path: str, rules: Mapping[object, object]) -> ZizmorConfig:
    disabled: set[str] = set()
    ignores: dict[str, tuple[tuple[str, int | None], ...]] = {}
    ref_accepted: list[str] = []
    for audit, spec in rules.items():
        if not isinstance(audit, str) or not isinstance(spec, Mapping):
            continue
        if spec.get("disable") is True:
            disabled.add(audit)
        entries = spec.get("ignore")
        ignores[audit] = tuple(
            _ignore_entry(e) for e in (entries if isinstance(entries, list) else ()) if e
        )
        config = spec.get("config")
        policies = config.get("policies") if isinstance(config, Mapping) else None
        if audit == "unpinned-uses" and isinstance(policies, Mapping):
            ref_accepted += [str(p) for p, v in policies.items() if v in _REF_ACCEPTED]
    return ZizmorConfig(path, frozenset(disabled), ignores, tuple(ref_accepted))


def _ignore_entry(entry: object) -> tuple[str, int | None]:
    """`ci.yml` / `ci.yml:12` / `ci.yml:12:5` -> (file name, line or None)."""
    name, _, rest = str(entry).partition(":")
    line = rest.partition(":")[0]
    return name, int(line) if line.isdigit() else None


def accepts_ref(config: ZizmorConfig | None, action: str) -> bool:
    """Whether the config accepts a tag or branch ref for `action` (`owner/repo[/path]`):
    `*` matches every action, `owner/*` and `owner/repo/*` everything below, else exactly."""
    if config is None:
        return False
    name = action.lower()
    for pattern in (p.lower() for p in config.ref_accepted):
        if pattern == "*" or name == pattern:
            return True
        if pattern.endswith("/*") and name.startswith(pattern[:-1]):
            return True
    return False


def waive_accepted(
    findings: Iterable[Finding], config: ZizmorConfig | None, workflows: Sequence[Workflow]
) -> list[Finding]:
    """Findings the repository's zizmor config or inline comments accept, marked waived."""
    lines = {wf.path: wf.lines for wf in workflows}
    out: list[Finding] = []
    for finding in findings:
        audit = AUDITS.get(finding.rule)
        why = _accepted(finding, audit, config, lines) if audit and finding.path else None
        out.append(finding if why is None else finding.with_(waived=True, waiver=why))
    return out


def _accepted(
    finding: Finding,
    audit: str,
    config: ZizmorConfig | None,
    lines: Mapping[str, Sequence[str]],
) -> str | None:
    path = finding.path or ""
    if config is not None:
        if audit in config.disabled:
            return f"accepted in {config.path}: `{audit}` is disabled there"
        name = path.rsplit("/", 1)[-1]
        for file, line in config.ignores.get(audit, ()):
            if file == name and (line is None or line == finding.line):
                return f"accepted in {config.path} (rules.{audit}.ignore: {file})"
    text = lines.get(path, ())
    if finding.line and 0 < finding.line <= len(text):
        m = _INLINE.search(text[finding.line - 1])
        if m is not None and audit in [a.strip() for a in m.group(1).split(",")]:
            return f"accepted inline at {path}:{finding.line} (`zizmor: ignore[{audit}]`)"
    return None

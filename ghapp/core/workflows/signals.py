"""Repository files that show scanning intent without being a scan on pull requests:
scheduled updates (Dependabot, Renovate), tool configs, pre-commit scanner hooks. Coverage
reports them as `signals`, never as configured or blocking scans."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from ghapp.core.model import Source
from ghapp.core.snapshot import Snapshot, read_text
from ghapp.core.yamlnodes import LineDict, LineList, YamlError, load_document

# Repository files that show intent (scheduled updates, local hooks, server-side analysis); they
# are reported as signals, never as PR-blocking scans.
_SIGNAL_FILES: Mapping[str, tuple[str, ...]] = {
    ".github/dependabot.yml": ("sca",), ".github/dependabot.yaml": ("sca",),
    "renovate.json": ("sca",), "renovate.json5": ("sca",), ".renovaterc": ("sca",),
    ".renovaterc.json": ("sca",), ".github/renovate.json": ("sca",),
    ".github/renovate.json5": ("sca",), ".snyk": ("sca",), "osv-scanner.toml": ("sca",),
    "sonar-project.properties": ("sast",), ".semgrep.yml": ("sast",),
    ".github/codeql/codeql-config.yml": ("sast",), ".gitleaks.toml": ("secrets",),
    ".secrets.baseline": ("secrets",), ".checkov.yml": ("iac",), ".checkov.yaml": ("iac",),
    ".tfsec/config.yml": ("iac",), ".kics.yaml": ("iac",), "polaris.yaml": ("iac",),
}  # fmt: skip
_HOOK_WORDS: tuple[tuple[str, str], ...] = (
    ("gitleaks", "secrets"), ("detect-secrets", "secrets"), ("trufflehog", "secrets"),
    ("ggshield", "secrets"), ("secretlint", "secrets"), ("detect-private-key", "secrets"),
    ("detect-aws-credentials", "secrets"), ("talisman", "secrets"), ("bandit", "sast"),
    ("semgrep", "sast"), ("gosec", "sast"), ("checkov", "iac"), ("tfsec", "iac"),
    ("terrascan", "iac"), ("kics", "iac"), ("hadolint", "iac"), ("trivy", "iac"),
    ("pip-audit", "sca"), ("safety", "sca"), ("osv-scanner", "sca"),
)  # fmt: skip
PRE_COMMIT = ".pre-commit-config.yaml"


def find_signals(snapshot: Snapshot) -> dict[str, tuple[Source, ...]]:
    """Repository-level signals per category: config files and pre-commit scanner hooks."""
    present = set(snapshot.paths())
    out: dict[str, list[Source]] = {}
    for path, categories in _SIGNAL_FILES.items():
        if path in present:
            for category in categories:
                out.setdefault(category, []).append(Source(path, 1))
    if PRE_COMMIT in present:
        for category, line in _pre_commit_hooks(read_text(snapshot, PRE_COMMIT) or ""):
            out.setdefault(category, []).append(Source(PRE_COMMIT, line))
    return {k: tuple(v) for k, v in out.items()}


def _pre_commit_hooks(text: str) -> Iterator[tuple[str, int]]:
    try:
        doc = load_document(text)
    except YamlError:
        return
    repos = doc.get("repos") if isinstance(doc, LineDict) else None
    for repo in repos if isinstance(repos, LineList) else ():
        hooks = repo.get("hooks") if isinstance(repo, LineDict) else None
        if not isinstance(hooks, LineList):
            continue
        for i, hook in enumerate(hooks):
            hook_id = str(hook.get("id", "")).lower() if isinstance(hook, LineDict) else ""
            for word, category in _HOOK_WORDS:
                if word in hook_id:
                    yield category, hooks.line_of(i)
                    break

"""The report explains itself: who owns each finding and why, where each scan is, which policy
layers applied, which waivers applied or expired; and it reads back from its stored JSON."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from ghapp.core.evaluate import evaluate
from ghapp.core.policy.policy import Waiver
from ghapp.core.reportjson import report_from_json
from ghapp.core.snapshot import DictSnapshot
from ghapp.rules import default_catalog

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "acme-shop"
CODEOWNERS = "/services/payments/ @acme/payments\n/.github/ @acme/platform\n"
MANIFEST = (
    "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: payments\n"
    "  annotations:\n    ghapp.dev/tier: '1'\nspec:\n  type: service\n"
    "  owner: group:default/payments\n"
)
CI = (
    "on:\n  push:\n    branches: [main]\njobs:\n  sast:\n    runs-on: ubuntu-latest\n"
    "    steps:\n      - uses: github/codeql-action/analyze@v3\n"
    "  secrets:\n    runs-on: ubuntu-latest\n    continue-on-error: true\n    steps:\n"
    "      - name: gitleaks\n        run: gitleaks detect\n"
)
ORG = "version: 1\nlocked: [enforce]\nenforce: true\n"
REPO = (
    "version: 1\nenforce: false\nignore: [vendor/**]\nwaivers:\n"
    "  - rule: k8s/privileged\n    reason: vendor image\n    approved_by: '@acme/security'\n"
    "    until: 2099-01-01\n"
    "  - rule: k8s/host-network\n    reason: old\n    approved_by: '@acme/security'\n"
    "    until: 2020-01-01\n"
)
FILES = {
    ".github/CODEOWNERS": CODEOWNERS,
    ".github/ghapp.yml": REPO,
    ".github/workflows/ci.yml": CI,
    "services/payments/catalog-info.yaml": MANIFEST,
    "services/payments/app.py": "print()\n",
    "tools/x.sh": "echo\n",
}


def run(files: dict[str, str], **kw: object) -> object:
    return evaluate(
        DictSnapshot(files),
        catalog=default_catalog(),
        today=date(2025, 1, 1),
        org_config=ORG,
        **kw,  # type: ignore[arg-type]
    )


def test_findings_say_which_codeowners_line_or_manifest_decided_their_owners() -> None:
    report = run(FILES)
    by_path = {f.path: f for f in report.findings}  # type: ignore[attr-defined]
    manifest = by_path["services/payments/catalog-info.yaml"]
    assert manifest.owners == ("@acme/payments",)
    assert (manifest.owner_source.kind, manifest.owner_source.line) == ("manifest", 9)
    assert manifest.owner_source.validated  # the slug resolved to a CODEOWNERS team
    unowned = by_path["tools/x.sh"]
    assert unowned.owner_source.kind == "codeowners-file"
    assert unowned.owner_source.pattern == "/.github/"


def test_policy_layers_locked_keys_and_waivers_are_reported() -> None:
    policy = run(FILES).policy  # type: ignore[attr-defined]
    assert [(layer.name, layer.path) for layer in policy.layers] == [
        ("organisation", "<org>/.github/ghapp.yml"),
        ("repository", ".github/ghapp.yml"),
    ]
    assert policy.locked == ("enforce",)
    assert "enforce" not in policy.layers[1].keys  # the org locks it: not the repository's
    assert policy.enforce
    assert [w.rule for w in policy.waivers] == ["k8s/privileged"]
    assert [(w.rule, w.until) for w in policy.expired_waivers] == [
        ("k8s/host-network", "2020-01-01")
    ]


def test_comment_waivers_are_named_as_such_and_expired_ones_are_listed() -> None:
    waivers = (
        Waiver("k8s/latest-tag", "demo", "@alice", date(2099, 1, 1)),
        Waiver("k8s/run-as-root", "old", "@bob", date(2020, 1, 1)),
    )
    policy = run(FILES, extra_waivers=waivers).policy  # type: ignore[attr-defined]
    assert ("k8s/latest-tag", "/waive comment") in {(w.rule, w.source) for w in policy.waivers}
    assert "k8s/run-as-root" in {w.rule for w in policy.expired_waivers}


def test_scan_sites_say_where_they_are_and_why_they_do_not_count() -> None:
    report = run(FILES, base=DictSnapshot(FILES), changed=["services/payments/app.py"])
    sast = report.coverage["sast"].sites[0]  # type: ignore[attr-defined]
    assert (sast.path, sast.job, sast.on_pull_request) == (
        ".github/workflows/ci.yml",
        "sast",
        False,
    )
    assert "not pull_request" in sast.why_not_on_pull_request
    secrets = report.coverage["secrets"].sites[0]  # type: ignore[attr-defined]
    assert (secrets.job, secrets.step, secrets.blocking) == ("secrets", "gitleaks", False)
    assert "continue-on-error" in secrets.why_not_blocking
    [touched] = report.service_coverage  # type: ignore[attr-defined]
    assert touched.service == "payments"


def test_a_stored_report_reads_back_equal() -> None:
    report = run(FILES, base=DictSnapshot({**FILES, "tools/x.sh": "old\n"}))
    assert report_from_json(report.to_json()) == report  # type: ignore[attr-defined]


def test_the_example_repository_report_reads_back_equal() -> None:
    files = {str(p.relative_to(EXAMPLE)): p.read_text() for p in EXAMPLE.rglob("*") if p.is_file()}
    report = run(files)
    assert report_from_json(report.to_json()) == report  # type: ignore[attr-defined]

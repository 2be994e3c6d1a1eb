"""The evaluator: policy from the base, new-vs-existing, severities, ignore, owners, waivers."""

from __future__ import annotations

from datetime import date

from ghapp.core.evaluate import evaluate
from ghapp.core.model import Report
from ghapp.core.policy.policy import Waiver
from ghapp.core.snapshot import DictSnapshot
from ghapp.rules import default_catalog

TODAY = date(2026, 11, 23)
CODEOWNERS = "/services/pay/ @acme/payments\n/k8s/ @acme/platform\n"
CATALOG_INFO = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: pay
spec:
  owner: group:default/payments
  lifecycle: production
"""
POLICY = "version: 1\nowners:\n  require: ['**']\n"


def run(head: dict[str, str], base: dict[str, str] | None = None, **kw: object) -> Report:
    return evaluate(
        DictSnapshot(head),
        base=DictSnapshot(base) if base is not None else None,
        catalog=default_catalog(),
        today=TODAY,
        **kw,  # type: ignore[arg-type]
    )


def rules_of(report: Report) -> set[str]:
    return {f.rule for f in report.findings}


REPO = {
    ".github/CODEOWNERS": CODEOWNERS,
    ".github/ghapp.yml": POLICY,
    "services/pay/catalog-info.yaml": CATALOG_INFO,
    "services/pay/app.py": "x = 1\n",
}


def test_without_config_the_conclusion_is_neutral_whatever_is_found() -> None:
    repo = {k: v for k, v in REPO.items() if k != ".github/ghapp.yml"}
    report = run({**repo, "tools/unowned.sh": "echo\n"})
    assert report.conclusion == "neutral"
    assert not report.policy_configured
    assert report.notes


def test_new_error_fails_and_existing_error_does_not() -> None:
    base = {**REPO, "tools/old.sh": "echo\n"}
    head = {**base, "tools/new.sh": "echo\n"}
    report = run(head, base)
    unowned = {f.path: f for f in report.findings if f.rule == "codeowners/unowned-file"}
    assert unowned["tools/new.sh"].new is True
    assert "tools/old.sh" not in unowned or unowned["tools/old.sh"].new is False


def test_policy_is_read_from_the_base_so_a_pr_cannot_weaken_it() -> None:
    base = {**REPO}
    head = {**REPO, ".github/ghapp.yml": "version: 1\nenforce: false\n", "tools/x.sh": "echo\n"}
    report = run(head, base)
    assert report.policy_configured
    if any(f.severity == "error" and f.new for f in report.findings):
        assert report.conclusion == "failure"


def test_severity_override_and_off() -> None:
    head = {
        **REPO,
        ".github/ghapp.yml": POLICY + "severities:\n  codeowners/unowned-file: off\n",
        "tools/x.sh": "echo\n",
    }
    assert "codeowners/unowned-file" not in rules_of(run(head))


def test_ignored_paths_report_nothing() -> None:
    head = {**REPO, ".github/ghapp.yml": POLICY + "ignore: ['tools/**']\n", "tools/x.sh": "echo\n"}
    assert all(not (f.path or "").startswith("tools/") for f in run(head).findings)


def test_findings_are_assigned_to_the_service_owner_as_a_github_handle() -> None:
    head = {
        **REPO,
        "services/pay/k8s.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n"
        "spec:\n  containers:\n    - name: c\n      image: nginx:latest\n",
    }
    report = run(head)
    pod = [f for f in report.findings if f.path == "services/pay/k8s.yaml"]
    assert pod, "the pod has problems"
    assert all(f.owners == ("@acme/payments",) for f in pod)
    (service,) = report.services
    assert service.owner == "@acme/payments"


def test_waivers_from_config_and_from_commands_mark_findings_waived() -> None:
    head = {**REPO, "tools/x.sh": "echo\n"}
    waiver = Waiver(
        rule="codeowners/unowned-file",
        reason="r",
        approved_by="@acme/sec",
        until=date(2026, 12, 1),
        path="tools/**",
    )
    report = run(head, extra_waivers=[waiver])
    (f,) = [f for f in report.findings if f.path == "tools/x.sh"]
    assert f.waived and "@acme/sec" in (f.waiver or "")
    expired = Waiver(
        rule="codeowners/unowned-file", reason="r", approved_by="@a/s", until=date(2026, 1, 1)
    )
    report = run(head, extra_waivers=[expired])
    assert not any(f.waived for f in report.findings)


def test_invalid_config_is_a_finding_not_a_crash() -> None:
    report = run({**REPO, ".github/ghapp.yml": "coverage: [1\n"})
    (f,) = [f for f in report.findings if f.rule == "config/invalid"]
    assert f.path == ".github/ghapp.yml" and f.line == 2


def test_files_carry_owner_rule_and_service() -> None:
    report = run(REPO, changed=["services/pay/app.py"])
    (f,) = report.files
    assert (f.path, f.owners, f.line, f.pattern, f.service) == (
        "services/pay/app.py",
        ("@acme/payments",),
        1,
        "/services/pay/",
        "pay",
    )


def test_a_group_owner_is_assigned_the_github_team_its_group_entity_names() -> None:
    group = (
        "kind: Group\nmetadata:\n  name: open-source\n  annotations:\n"
        "    github.com/team-slug: acme/engineering\n"
    )
    head = {
        **REPO,
        "services/pay/catalog-info.yaml": CATALOG_INFO.replace(
            "group:default/payments", "group:default/open-source"
        )
        + "---\n"
        + group,
        "services/pay/k8s/pod.yaml": (
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
            "  containers: [{name: c, image: 'x:latest'}]\n"
        ),
    }
    report = run(head)
    pod = [f for f in report.findings if f.path == "services/pay/k8s/pod.yaml"]
    assert pod and {f.owners for f in pod} == {("@acme/engineering",)}

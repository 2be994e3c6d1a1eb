"""A step of the evaluation that raises becomes a `ghapp/check-failed` error naming the step
and the file; every other step's findings are kept, and the CLI never shows a traceback."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path

import pytest

import ghapp.core.evaluate as evaluation
from ghapp.cli import main
from ghapp.core.context import Context
from ghapp.core.evaluate import evaluate
from ghapp.core.failures import CHECK_FAILED
from ghapp.core.model import Finding, Report
from ghapp.core.snapshot import DictSnapshot
from ghapp.core.workflows import hygiene
from ghapp.core.workflows.parsing import Workflow
from ghapp.rules import default_catalog

TODAY = date(2026, 1, 15)
PRIVILEGED_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: tool}
spec:
  containers:
    - {name: tool, image: "busybox:1.36", securityContext: {privileged: true}}
"""
WORKFLOW = "on: push\npermissions: {}\njobs:\n  a:\n    steps:\n      - run: make\n"
REPO = {
    ".github/ghapp.yml": "enforce: true\n",
    ".github/workflows/a.yml": WORKFLOW,
    ".github/workflows/b.yml": WORKFLOW,
    "deploy/pod.yaml": PRIVILEGED_POD,
}


def run(head: dict[str, str], base: dict[str, str] | None = None) -> Report:
    return evaluate(
        DictSnapshot(head),
        base=DictSnapshot(base) if base is not None else None,
        catalog=default_catalog(),
        today=TODAY,
    )


def failures(report: Report) -> list[Finding]:
    return [f for f in report.findings if f.rule == CHECK_FAILED]


@pytest.fixture
def hygiene_breaks_on_b(monkeypatch: pytest.MonkeyPatch) -> None:
    def breaks_on_b(ctx: Context, workflows: Sequence[Workflow]) -> Iterator[Finding]:
        for wf in workflows:
            if wf.path.endswith("b.yml"):
                raise KeyError("surprise")
        return iter(())

    monkeypatch.setattr(hygiene, "FAMILIES", (*hygiene.FAMILIES, breaks_on_b))


@pytest.mark.usefixtures("hygiene_breaks_on_b")
def test_a_failing_check_names_itself_and_the_file_and_the_rest_is_kept() -> None:
    report = run(REPO)
    (failure,) = failures(report)
    assert failure.severity == "error" and failure.path == ".github/workflows/b.yml"
    assert "workflows check failed on .github/workflows/b.yml" in failure.message
    assert "KeyError: 'surprise'" in failure.message
    assert "k8s/privileged" in {f.rule for f in report.findings}
    assert report.conclusion == "failure"


@pytest.mark.usefixtures("hygiene_breaks_on_b")
def test_a_check_failure_is_new_even_when_the_base_fails_the_same_way() -> None:
    report = run(REPO, base=REPO)
    (failure,) = failures(report)
    assert failure.new is True and report.conclusion == "failure"
    assert all(not f.new for f in report.findings if f.rule != CHECK_FAILED)


def test_findings_yielded_before_a_failure_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    def half_done(ctx: Context) -> Iterator[Finding]:
        yield ctx.finding("k8s/privileged", "found first", path="deploy/pod.yaml")
        raise RuntimeError("then broke")

    monkeypatch.setattr(evaluation, "CHECKS", (half_done,))
    report = run(REPO)
    assert [f.message for f in report.findings if f.rule == "k8s/privileged"] == ["found first"]
    (failure,) = failures(report)
    assert "half_done check failed" in failure.message and failure.path is None


def test_a_policy_that_cannot_be_read_is_replaced_by_the_enforcing_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: object, **kwargs: object) -> object:
        raise ValueError("bad policy code")

    monkeypatch.setattr(evaluation, "read_policy", broken)
    report = run(REPO)
    assert report.policy_configured and report.conclusion == "failure"
    assert any("policy reading failed" in f.message for f in failures(report))


def test_a_coverage_failure_keeps_every_category(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> object:
        raise ZeroDivisionError("coverage bug")

    monkeypatch.setattr(evaluation, "compute_coverage", broken)
    report = run(REPO)
    assert set(report.coverage) == {"sast", "secrets", "sca", "container", "iac"}
    assert any("scan coverage failed" in f.message for f in failures(report))


class FlakySnapshot(DictSnapshot):
    """A snapshot whose storage fails (a network error, say) on one file."""

    def read(self, path: str) -> bytes | None:
        if path == "deploy/pod.yaml":
            raise ConnectionError("GitHub went away")
        return super().read(path)


def test_a_failing_snapshot_is_not_a_check_failure_and_reaches_the_caller() -> None:
    with pytest.raises(ConnectionError):
        evaluate(FlakySnapshot(REPO), catalog=default_catalog(), today=TODAY)


@pytest.mark.usefixtures("hygiene_breaks_on_b")
def test_cli_reports_a_failing_check_as_a_finding_and_exits_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for name, text in REPO.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    code = main(["check", str(tmp_path), "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 1 and err == ""
    rules = {f["rule"] for f in json.loads(out)["findings"]}
    assert {CHECK_FAILED, "k8s/privileged"} <= rules


def test_cli_unexpected_failure_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def broken(*args: object) -> str:
        raise MemoryError()

    monkeypatch.setattr("ghapp.render.render_json", broken)
    code = main(["check", str(tmp_path), "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err == "ghapp: error: unexpected MemoryError\n"

"""PR mode reads what it must: changed files by content id, unchanged manifests checked once."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest

from ghapp.core.context import Context
from ghapp.core.evaluate import changed_paths, evaluate
from ghapp.core.kubernetes import checks as k8s_checks
from ghapp.core.kubernetes.checks import FileResult
from ghapp.core.kubernetes.podspec import Options
from ghapp.core.model import Report
from ghapp.core.snapshot import DictSnapshot
from ghapp.rules import default_catalog

TODAY = date(2026, 11, 23)
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}}}
spec:
  template:
    spec:
      containers:
        - name: app
          image: example.com/{name}:{tag}
"""


class IdentifiedSnapshot(DictSnapshot):
    """A dict snapshot that knows content ids (as git does) and counts the files it reads."""

    def __init__(self, files: dict[str, str], *, ids: bool = True) -> None:
        super().__init__(files)
        self.with_ids = ids
        self.reads: list[str] = []

    def read(self, path: str) -> bytes | None:
        self.reads.append(path)
        return super().read(path)

    def blob_id(self, path: str) -> str | None:
        data = super().read(path)
        if not self.with_ids or data is None:
            return None
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def workloads(count: int, tag: str = "1.0") -> dict[str, str]:
    return {
        f"deploy/w{i}.yaml": DEPLOYMENT.format(name=f"w{i}", tag=tag if i == 0 else "1.0")
        for i in range(count)
    }


def run(head: DictSnapshot, base: DictSnapshot | None) -> Report:
    return evaluate(head, base=base, catalog=default_catalog(), today=TODAY)


def test_files_both_sides_identify_are_compared_without_reading_them() -> None:
    base = IdentifiedSnapshot({"a.txt": "1\n", "b.txt": "2\n", "gone.txt": "x\n"})
    head = IdentifiedSnapshot({"a.txt": "1\n", "b.txt": "3\n", "new.txt": "y\n"})
    assert changed_paths(base, head) == ["b.txt", "gone.txt", "new.txt"]
    assert base.reads == head.reads == []


def test_without_ids_on_both_sides_the_bytes_are_compared() -> None:
    base = IdentifiedSnapshot({"a.txt": "1\n", "b.txt": "2\n"})
    head = IdentifiedSnapshot({"a.txt": "1\n", "b.txt": "3\n"}, ids=False)
    assert changed_paths(base, head) == ["b.txt"]
    assert sorted(head.reads) == ["a.txt", "b.txt"]


def test_the_base_rechecks_only_the_manifests_the_change_touched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checked: list[str] = []
    real = k8s_checks._check_bytes

    def counting(ctx: Context, path: str, data: bytes, options: Options) -> FileResult:
        checked.append(path)
        return real(ctx, path, data, options)

    monkeypatch.setattr(k8s_checks, "_check_bytes", counting)
    files = workloads(30)
    base = IdentifiedSnapshot(files)
    head = IdentifiedSnapshot(
        {**files, "deploy/w0.yaml": DEPLOYMENT.format(name="w0", tag="latest")}
    )
    report = run(head, base)
    assert len(checked) == 31  # the head's 30, then the base's one changed file
    assert checked[-1] == "deploy/w0.yaml"
    new = [f for f in report.findings if f.new and f.rule.startswith("k8s/")]
    assert [(f.rule, f.path) for f in new] == [("k8s/image-tag-latest", "deploy/w0.yaml")]


def test_reusing_unchanged_results_changes_no_finding() -> None:
    base_files = workloads(12)
    head_files = {
        **workloads(12, tag="latest"),
        "deploy/extra.yaml": DEPLOYMENT.format(name="x", tag=""),
    }
    with_ids = run(IdentifiedSnapshot(head_files), IdentifiedSnapshot(base_files))
    without = run(DictSnapshot(head_files), DictSnapshot(base_files))
    assert with_ids.findings == without.findings
    assert any(f.new for f in with_ids.findings) and any(not f.new for f in with_ids.findings)

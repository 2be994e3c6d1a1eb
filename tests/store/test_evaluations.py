"""Stored evaluations: one row per commit and kind, read back whole, pruned past retention except
each repository's latest default-branch evaluation (the dashboard's)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine

from ghapp.app.checkrun import KIND_BRANCH, KIND_PULL_REQUEST, EvaluationRecord
from ghapp.core.model import Finding, Report
from ghapp.store.evaluations import DAY, EvaluationStore

NOW = 1_750_000_000.0


def record(
    sha: str, at: float, kind: str = KIND_PULL_REQUEST, **changes: object
) -> EvaluationRecord:
    report = Report("failure", (Finding("k8s/privileged", "error", "privileged", path="a.yaml"),))
    values: dict[str, object] = {
        "repository": "acme/shop",
        "head_sha": sha,
        "kind": kind,
        "evaluated_at": datetime.fromtimestamp(at, UTC),
        "conclusion": "failure",
        "title": "1 blocking · 1 new · 0 existing",
        "report": report.to_json(),
        "installation_id": 77,
        "pr_number": 3 if kind == KIND_PULL_REQUEST else None,
    }
    values.update(changes)
    return EvaluationRecord(**values)  # type: ignore[arg-type]


def test_a_saved_evaluation_reads_back_with_its_report(engine: Engine) -> None:
    store = EvaluationStore(engine, clock=lambda: NOW)
    store.save(record("h1", NOW))
    stored = store.latest("acme/shop", "h1")
    assert stored is not None and stored.record == record("h1", NOW)
    assert stored.report is not None and stored.report.findings[0].rule == "k8s/privileged"
    assert store.latest("acme/shop", "other") is None
    assert store.latest("acme/other", "h1") is None


def test_a_recheck_replaces_the_row_of_the_same_commit(engine: Engine) -> None:
    store = EvaluationStore(engine, clock=lambda: NOW)
    store.save(record("h1", NOW - 10))
    store.save(record("h1", NOW, conclusion="success", title="No problems found"))
    stored = store.latest("acme/shop", "h1")
    assert stored is not None and stored.record.title == "No problems found"


def test_a_failed_evaluation_is_stored_with_its_error(engine: Engine) -> None:
    store = EvaluationStore(engine, clock=lambda: NOW)
    store.save(
        record("h1", NOW, report=None, error="RecursionError: too deep", title="Evaluation failed")
    )
    stored = store.latest("acme/shop", "h1")
    assert stored is not None and stored.report is None
    assert stored.record.error == "RecursionError: too deep"


def test_latest_default_branch_evaluation_per_repository(engine: Engine) -> None:
    store = EvaluationStore(engine, clock=lambda: NOW)
    store.save(record("old", NOW - 50, KIND_BRANCH, ref="main", default_branch=True))
    store.save(record("new", NOW - 10, KIND_BRANCH, ref="main", default_branch=True))
    store.save(record("pr", NOW, KIND_PULL_REQUEST))
    store.save(
        record("x", NOW, KIND_BRANCH, repository="acme/web", ref="main", default_branch=True)
    )
    latest = store.latest_default_branch()
    assert [(s.record.repository, s.record.head_sha) for s in latest] == [
        ("acme/shop", "new"),
        ("acme/web", "x"),
    ]
    assert [s.record.head_sha for s in store.latest_default_branch(["acme/web"])] == ["x"]


def test_retention_prunes_old_rows_but_keeps_the_latest_default_branch_one(engine: Engine) -> None:
    store = EvaluationStore(engine, retention_days=30, clock=lambda: NOW)
    old = NOW - 40 * DAY
    store.save(record("old-pr", old))
    store.save(record("older-main", old - DAY, KIND_BRANCH, default_branch=True, ref="main"))
    store.save(record("old-main", old, KIND_BRANCH, default_branch=True, ref="main"))
    store.save(record("fresh-pr", NOW))  # the first save pruned already (then once a minute)
    store.prune()
    assert store.latest("acme/shop", "old-pr") is None
    assert store.latest("acme/shop", "older-main") is None
    assert store.latest("acme/shop", "old-main") is not None  # the dashboard's row survives
    assert store.latest("acme/shop", "fresh-pr") is not None


def test_retention_zero_keeps_everything(engine: Engine) -> None:
    store = EvaluationStore(engine, retention_days=0, clock=lambda: NOW)
    store.save(record("ancient", NOW - 3650 * DAY))
    assert store.prune() == 0
    assert store.latest("acme/shop", "ancient") is not None

"""The dashboard's tables: rows follow each repository's latest default-branch evaluation (and
never an older one), pull requests and failures leave them alone, snapshots keep one row per
organisation and day, and evaluations stored before the dashboard existed are filled in."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete

from ghapp.app.checkrun import KIND_BRANCH, KIND_PULL_REQUEST, EvaluationRecord
from ghapp.core.model import Finding, Report, Service
from ghapp.store.evaluations import EvaluationStore
from ghapp.store.schema import compliance_services

AT = 1_750_000_000.0


def record(repo: str, sha: str, at: float, *names: str, **changes: Any) -> EvaluationRecord:
    """A default-branch evaluation of `repo` whose services `names` fail k8s/privileged when
    their name starts with "bad"."""
    services = tuple(
        Service(n, f"s/{n}", f"s/{n}/catalog-info.yaml", owner="@acme/team", tier="1")
        for n in names
    )
    findings = tuple(
        Finding("k8s/privileged", "error", "x", path=f"s/{n}/d.yaml", service=n)
        for n in names
        if n.startswith("bad")
    )
    values: dict[str, Any] = {
        "repository": repo,
        "head_sha": sha,
        "kind": KIND_BRANCH,
        "evaluated_at": datetime.fromtimestamp(at, UTC),
        "conclusion": "failure" if findings else "success",
        "title": "t",
        "report": Report("neutral", findings, services=services).to_json(),
        "ref": "main",
        "default_branch": True,
    }
    values.update(changes)
    return EvaluationRecord(**values)


def services(store: EvaluationStore, org: str = "acme") -> list[tuple[str, str, bool]]:
    return [(e.repository, e.service, e.compliant) for e in store.compliance.entries(org)]


def test_a_default_branch_evaluation_becomes_the_repositorys_rows(engine: Engine) -> None:
    store = EvaluationStore(engine, clock=lambda: AT)
    store.save(record("acme/shop", "a1", AT, "cart", "bad-pay"))
    store.save(record("Acme/web", "b1", AT, "site"))
    store.save(record("other/x", "c1", AT, "x"))
    assert services(store) == [
        ("acme/shop", "bad-pay", False),
        ("acme/shop", "cart", True),
        ("Acme/web", "site", True),  # the organisation's name in any case
    ]
    (entry,) = [e for e in store.compliance.entries("ACME") if e.service == "bad-pay"]
    assert entry.failing == ("k8s/privileged",) and entry.head_sha == "a1"
    (row,) = store.compliance.rows([entry.id])
    assert row.owner == "@acme/team" and row.failing == ("k8s/privileged",)


def test_a_newer_evaluation_replaces_the_rows_and_an_older_one_does_not(engine: Engine) -> None:
    store = EvaluationStore(engine, clock=lambda: AT)
    store.save(record("acme/shop", "a1", AT, "cart", "bad-pay"))
    store.save(record("acme/shop", "a2", AT + 60, "pay"))
    assert services(store) == [("acme/shop", "pay", True)]
    store.save(record("acme/shop", "a0", AT - 60, "bad-old"))  # late, older: ignored
    assert services(store) == [("acme/shop", "pay", True)]
    assert store.latest("acme/shop", "a0") is not None  # the evaluation itself is kept


def test_pull_requests_and_failed_evaluations_leave_the_rows(engine: Engine) -> None:
    store = EvaluationStore(engine, clock=lambda: AT)
    store.save(record("acme/shop", "a1", AT, "cart"))
    pr = record("acme/shop", "p1", AT + 1, "bad", kind=KIND_PULL_REQUEST, default_branch=False)
    store.save(pr)
    store.save(record("acme/shop", "a2", AT + 2, report=None, error="EvaluationFailed: boom"))
    assert services(store) == [("acme/shop", "cart", True)]
    assert store.default_branch_times() == {"acme/shop": AT + 2}  # the failure counts as tried


def test_forget_drops_repositories_the_app_no_longer_covers(engine: Engine) -> None:
    store = EvaluationStore(engine, clock=lambda: AT)
    for repo in ("acme/a", "acme/b", "acme/c"):
        store.save(record(repo, "s", AT, "svc"))
    assert store.compliance.forget("acme", ["acme/a", "ACME/C"]) == 1
    assert [r for r, _, _ in services(store)] == ["acme/a", "acme/c"]


def test_one_snapshot_per_organisation_and_day(engine: Engine) -> None:
    store = EvaluationStore(engine, clock=lambda: AT)
    compliance = store.compliance
    store.save(record("acme/shop", "a1", AT, "cart", "bad-pay"))
    compliance.take_snapshot("acme", "2025-06-01", AT)
    store.save(record("acme/shop", "a2", AT + 60, "cart", "pay"))
    compliance.take_snapshot("acme", "2025-06-02", AT + 60)
    compliance.take_snapshot("acme", "2025-06-02", AT + 120)  # the same day again: updated
    days = compliance.snapshots("acme", "2025-01-01")
    assert [(s.day, s.services, s.compliant) for s in days] == [
        ("2025-06-01", 2, 1),
        ("2025-06-02", 2, 2),
    ]
    assert days[0].by_owner == {"@acme/team": (2, 1)}
    assert days[0].by_rule == {"k8s/privileged": 1} and days[1].by_rule == {}
    assert compliance.snapshots("acme", "2025-06-02")[0].day == "2025-06-02"


def test_evaluations_stored_before_the_dashboard_are_filled_in(engine: Engine) -> None:
    store = EvaluationStore(engine, clock=lambda: AT)
    store.save(record("acme/shop", "a1", AT, "cart"))
    store.save(record("acme/web", "b1", AT, report=None, error="boom"))
    with engine.begin() as conn:
        conn.execute(delete(compliance_services))
    assert store.backfill_compliance() == 1
    assert services(store) == [("acme/shop", "cart", True)]
    assert store.backfill_compliance() == 0


def test_what_a_manifest_says_fits_the_columns(engine: Engine) -> None:
    store = EvaluationStore(engine, clock=lambda: AT)
    long = "x" * 400
    services_ = (Service(f"n\x00{long}", "", "catalog-info.yaml", owner=long, tier=long),)
    rep = Report("neutral", (), services=services_).to_json()
    store.save(record("acme/odd", "a1", AT, report=rep))
    (entry,) = store.compliance.entries("acme")
    assert entry.service == ("n\ufffd" + long)[:300] and len(entry.owner or "") == 300


def test_replicas_saving_one_repository_at_once_leave_the_newest_rows(engine: Engine) -> None:
    store = EvaluationStore(engine, clock=lambda: AT)
    errors: list[BaseException] = []

    def save(i: int) -> None:
        try:
            store.save(record("acme/shop", f"s{i}", AT + i, f"svc{i}", "common"))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=save, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert services(store) == [("acme/shop", "common", True), ("acme/shop", "svc7", True)]

"""A pull request from webhook to check run: real `ghapp serve`, fake GitHub, signed deliveries."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from tests.fakegithub.harness import INSTALLATION_ID, completed_check_run, wait_for, wait_quiet

if TYPE_CHECKING:
    from conftest import RunningApp, Scenario

pytestmark = pytest.mark.e2e


def run_opened(ghapp: RunningApp, scenario: Scenario, delivery_id: str) -> int:
    """Deliver pull_request.opened, wait until ghapp is done; the API calls it made."""
    before = len(ghapp.fake.calls)
    answer = ghapp.send("pull_request", ghapp.pull_request(scenario.pr, "opened"), delivery_id)
    assert answer.status_code in (200, 202), answer.text
    wait_for(
        lambda: completed_check_run(ghapp.fake, scenario.pr.head_sha),
        timeout=20,
        what=f"a completed ghapp check run\n{ghapp.process.log()[-3000:]}",
    )
    return wait_quiet(ghapp.fake) - before


def test_opened_pull_request_gets_one_check_run_with_owners_and_review_comments(
    ghapp: RunningApp, scenario: Scenario
) -> None:
    fake, head = ghapp.fake, scenario.pr.head_sha
    calls = run_opened(ghapp, scenario, "delivery-opened-1")
    print(f"\nGitHub API calls for pull_request.opened: {calls}")

    runs = fake.check_runs_for(head)
    assert [(r["name"], r["status"]) for r in runs] == [("ghapp", "completed")]
    run = runs[0]
    assert run["conclusion"] == "failure"  # a new privileged container is an error
    located = {(a["path"], a["start_line"]) for a in run["annotations"]}
    deploy, deployment = scenario.deploy_path, scenario.deployment_path
    assert (deploy, scenario.unpinned_line) in located
    assert (deployment, scenario.privileged_line) in located
    report = run["output"]["summary"] + (run["output"].get("text") or "")
    assert "@acme/payments" in report and "@acme/platform" in report
    unowned = scenario.unowned_path
    assert unowned in report or unowned in {a["path"] for a in run["annotations"]}

    comments = {(c["path"], c["line"]): c["body"] for c in fake.review_comments}
    assert "@acme/platform" in comments[(deploy, scenario.unpinned_line)]
    assert "@acme/payments" in comments[(deployment, scenario.privileged_line)]
    assert len(fake.reviews) == 1

    assert fake.schema_violations == []
    assert fake.unknown_calls() == []
    assert {c.installation for c in fake.calls} <= {INSTALLATION_ID, None}
    assert calls <= 40, [f"{c.method} {c.path} {c.status}" for c in fake.calls]


def test_redelivery_of_the_same_delivery_id_does_nothing_more(
    ghapp: RunningApp, scenario: Scenario
) -> None:
    fake = ghapp.fake
    run_opened(ghapp, scenario, "delivery-same")
    reviews, runs, seen = len(fake.reviews), len(fake.check_runs), len(fake.calls)
    again = ghapp.send("pull_request", ghapp.pull_request(scenario.pr, "opened"), "delivery-same")
    assert again.status_code == 200, again.text
    time.sleep(1.0)  # a duplicate must not start work: give it the time it would take
    assert (len(fake.reviews), len(fake.check_runs), len(fake.calls)) == (reviews, runs, seen)


def test_forged_signature_is_401_and_nothing_happens(ghapp: RunningApp, scenario: Scenario) -> None:
    payload = ghapp.pull_request(scenario.pr, "opened")
    answer = ghapp.send("pull_request", payload, signature="sha256=" + "0" * 64)
    assert answer.status_code == 401
    time.sleep(0.5)
    assert ghapp.fake.calls == []
    assert ghapp.fake.check_runs == []


def test_synchronize_on_a_warm_cache_costs_at_most_five_calls(
    ghapp: RunningApp, scenario: Scenario
) -> None:
    fake, pr = ghapp.fake, scenario.pr
    run_opened(ghapp, scenario, "delivery-before-sync")
    old_head = pr.head_sha
    new_head = fake.add_commit(
        "acme",
        "shop",
        {scenario.unowned_path: "print('billing v2')\n"},
        parent=old_head,
        message="v2",
    )
    fake.push("acme", "shop", pr.head_ref, new_head)
    before = len(fake.calls)
    payload = ghapp.pull_request(pr, "synchronize", before=old_head)
    assert ghapp.send("pull_request", payload, "delivery-sync").status_code in (200, 202)
    wait_for(lambda: completed_check_run(fake, new_head), timeout=20, what="the new head's run")
    calls = fake.calls[before : wait_quiet(fake)]
    print(f"\nGitHub API calls for synchronize (warm): {len(calls)}")
    for call in calls:
        print(f"  {call.method} {call.path} -> {call.status}")
    assert len(calls) <= 5
    assert len(fake.check_runs_for(new_head)) == 1
    assert fake.schema_violations == []

"""GitHub misbehaving while ghapp publishes: a 500, then a secondary rate limit, on check-run
creation. The delivery is retried and the end state is still exactly one check run."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.fakegithub.harness import completed_check_run, wait_for, wait_quiet

if TYPE_CHECKING:
    from conftest import RunningApp, Scenario

pytestmark = pytest.mark.e2e
CREATE_CHECK_RUN = r"^/repos/acme/shop/check-runs$"


@pytest.mark.parametrize(
    ("status", "headers"),
    [(502, None), (429, {"Retry-After": "1"})],  # 500 and 403 are in the test below
)
def test_one_failed_check_run_creation_is_retried_into_exactly_one_run(
    ghapp: RunningApp, scenario: Scenario, status: int, headers: dict[str, str] | None
) -> None:
    fake, head = ghapp.fake, scenario.pr.head_sha
    fake.fail_next("POST", CREATE_CHECK_RUN, status, headers=headers)
    answer = ghapp.send("pull_request", ghapp.pull_request(scenario.pr, "opened"))
    assert answer.status_code in (200, 202), answer.text
    wait_for(lambda: completed_check_run(fake, head), timeout=20, what="the retried check run")
    wait_quiet(fake)
    creations = [c for c in fake.calls if c.method == "POST" and c.path.endswith("/check-runs")]
    assert [c.status for c in creations] == [status, 201]
    assert len(fake.check_runs_for(head, "ghapp")) == 1
    assert len(fake.reviews) <= 1
    assert fake.schema_violations == []


def test_a_500_and_then_a_rate_limit_still_end_in_one_check_run(
    ghapp: RunningApp, scenario: Scenario
) -> None:
    fake, head = ghapp.fake, scenario.pr.head_sha
    fake.fail_next("POST", CREATE_CHECK_RUN, 500)
    fake.fail_next("POST", CREATE_CHECK_RUN, 403, headers={"Retry-After": "1"})
    ghapp.send("pull_request", ghapp.pull_request(scenario.pr, "opened"))
    wait_for(lambda: completed_check_run(fake, head), timeout=25, what="the check run")
    wait_quiet(fake)
    creations = [
        c.status for c in fake.calls if c.method == "POST" and c.path.endswith("/check-runs")
    ]
    assert creations == [500, 403, 201]
    assert len(fake.check_runs_for(head, "ghapp")) == 1
    assert len(fake.reviews) == 1

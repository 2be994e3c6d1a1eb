"""The organisation dashboard end to end: pushes to the default branches of three repositories
on the fake GitHub are evaluated and stored by `ghapp serve`; a member of the organisation signs
in through the fake's OAuth and opens `/orgs/acme` in Chromium, filters by team and downloads
the CSV; someone who is not a member gets 404. Screenshots go to tests/output/screenshots."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser import screenshot
from tests.fakegithub import shapes, sign_in_as
from tests.fakegithub.harness import (
    INSTALLATION_ID,
    completed_check_run,
    wait_for,
)
from tests.orgrepos import ORG_REPOS

if TYPE_CHECKING:
    from conftest import RunningApp

pytestmark = pytest.mark.e2e


@pytest.fixture
def ghapp_env(sign_in_env: dict[str, str]) -> dict[str, str]:
    return sign_in_env


def push_default_branches(ghapp: RunningApp) -> None:
    """Seed acme/shop, acme/ledger and acme/web, push each main branch, wait for the runs."""
    fake = ghapp.fake
    for slug in ("payments", "web", "platform", "security"):
        fake.add_team("acme", slug, {f"{slug}-lead": "maintainer"})
    heads = []
    for name, files in ORG_REPOS.items():
        repo = fake.add_repo("acme", name, INSTALLATION_ID)
        sha = fake.add_commit("acme", name, dict(files), branch="main", message="initial")
        payload = {
            "ref": "refs/heads/main",
            "before": "0" * 40,
            "after": sha,
            "created": True,
            "deleted": False,
            "repository": shapes.repository(ghapp.fake_url, fake, repo),
            "installation": {"id": INSTALLATION_ID},
            "sender": shapes.user(ghapp.fake_url, "octocat"),
        }
        answer = ghapp.send("push", payload)
        assert answer.status_code in (200, 202), answer.text
        heads.append(sha)
    for sha in heads:
        wait_for(
            lambda sha=sha: completed_check_run(fake, sha),
            timeout=60,
            what=f"the push's check run\n{ghapp.process.log()[-3000:]}",
        )


def rows_of(page: Any) -> list[str]:
    return page.locator("table.services tbody th[scope=row]").all_inner_texts()


def test_a_member_filters_by_team_and_downloads_the_csv(
    ghapp: RunningApp, browser_page: Any
) -> None:
    push_default_branches(ghapp)
    sign_in_as(ghapp.fake, "octocat", orgs=("acme",))
    page = browser_page
    url = f"{ghapp.process.url}/orgs/acme"
    wait_for(lambda: _services_shown(page, url) == 4, timeout=20, what="the four services")
    assert page.url.startswith(url)  # back on the page after the OAuth dance
    assert "Signed in as octocat" in page.locator("header").inner_text()
    assert [r.split("\n")[0] for r in rows_of(page)] == ["ledger", "cart", "payments", "web"]
    assert "3\ncompliant (75%)" in page.locator("ul.counts").inner_text()
    assert page.locator("#rules").get_by_text("k8s/privileged").is_visible()
    assert page.locator("figure.trend circle").count() == 1  # today's point
    screenshot(page, "dashboard")

    page.select_option("#f-owner", "@acme/payments")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state()
    assert "owner=%40acme%2Fpayments" in page.url
    assert [r.split("\n")[0] for r in rows_of(page)] == ["ledger", "payments"]
    screenshot(page, "dashboard-filtered-by-team")

    with page.expect_download() as download:
        page.get_by_role("link", name="CSV").click()
    assert download.value.suggested_filename == "acme-services.csv"
    text = open(download.value.path(), encoding="utf-8").read()  # noqa: SIM115 (tmp file)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["repository"], r["service"], r["compliant"]) for r in rows] == [
        ("acme/ledger", "ledger", "true"),
        ("acme/shop", "payments", "false"),
    ]
    assert rows[1]["failing"] == "k8s/privileged" and rows[1]["data"] == "pci"
    assert rows[0]["coverage.sast.on_pull_request"] == "true"

    page.get_by_role("link", name="@acme/payments").first.click()  # the team view
    page.wait_for_load_state()
    assert page.url.endswith("/orgs/acme/teams/payments")
    assert page.locator("h1").inner_text() == "Services owned by @acme/payments"
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    screenshot(page, "dashboard-team-phone")


def test_someone_outside_the_organisation_gets_404(ghapp: RunningApp, browser_page: Any) -> None:
    push_default_branches(ghapp)
    sign_in_as(ghapp.fake, "mallory")  # a GitHub user, not a member of acme
    for path in ("/orgs/acme", "/orgs/acme/services.csv", "/orgs/acme/teams/payments"):
        response = browser_page.goto(f"{ghapp.process.url}{path}")
        assert response is not None and response.status == 404, path
        assert "Not found" in browser_page.locator("h1").inner_text()
        assert "payments" not in browser_page.content()


def _services_shown(page: Any, url: str) -> int:
    response = page.goto(url)
    assert response is not None and response.status == 200
    return len(rows_of(page))

"""The pull request view end to end: `ghapp serve` posts the run `in_progress`, completes it with a
`details_url`, and that page opens in a real browser after signing in with the fake GitHub's
OAuth; a user without access and a repository the app is not installed on get 404, no session
gets the sign-in redirect. Screenshots of the summary (as GitHub renders markdown) and the page
go to tests/output/screenshots."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.browser import screenshot
from tests.fakegithub import sign_in_as
from tests.fakegithub.harness import (
    INSTALLATION_ID,
    completed_check_run,
    wait_for,
    wait_quiet,
)
from tests.markdown import github_html

if TYPE_CHECKING:
    from conftest import RunningApp, Scenario

pytestmark = pytest.mark.e2e


@pytest.fixture
def ghapp_env(sign_in_env: dict[str, str]) -> dict[str, str]:
    return sign_in_env


def opened(ghapp: RunningApp, scenario: Scenario) -> dict[str, Any]:
    answer = ghapp.send("pull_request", ghapp.pull_request(scenario.pr, "opened"))
    assert answer.status_code in (200, 202), answer.text
    run = wait_for(
        lambda: completed_check_run(ghapp.fake, scenario.pr.head_sha),
        timeout=30,
        what=f"a completed ghapp check run\n{ghapp.process.log()[-3000:]}",
    )
    wait_quiet(ghapp.fake)
    return dict(run)


def test_the_run_is_in_progress_then_completed_with_a_details_url(
    ghapp: RunningApp, scenario: Scenario
) -> None:
    fake, head = ghapp.fake, scenario.pr.head_sha
    run = opened(ghapp, scenario)
    runs = [c for c in fake.calls if "/check-runs" in c.path and c.method in ("POST", "PATCH")]
    assert runs[0].method == "POST" and runs[0].body["status"] == "in_progress"
    first_read = next(i for i, c in enumerate(fake.calls) if "/git/trees/" in c.path)
    assert fake.calls.index(runs[0]) < first_read  # posted before anything is evaluated
    assert any(c.method == "PATCH" and c.body.get("status") == "completed" for c in runs)
    assert len(fake.check_runs_for(head)) == 1  # the same run, completed
    assert run["details_url"] == f"{ghapp.process.url}/acme/shop/checks/{head}"
    summary = run["output"]["summary"]
    assert summary.index("What blocks this pull request") < summary.index("Security scans")
    assert run["output"]["title"].split(" · ")[0].endswith("blocking")
    assert fake.schema_violations == []


def test_details_page_opens_after_signing_in_and_filters_by_owner(
    ghapp: RunningApp, scenario: Scenario, browser_page: Any
) -> None:
    run = opened(ghapp, scenario)
    sign_in_as(ghapp.fake, "octocat")  # a collaborator of acme/shop
    page = browser_page
    response = page.goto(run["details_url"])
    assert response is not None and response.status == 200
    assert page.url.startswith(run["details_url"])  # back on the page after the OAuth dance
    heading = page.locator("h1").inner_text()
    assert run["output"]["title"] in heading
    assert page.get_by_role("heading", name="Findings").is_visible()
    assert "Signed in as octocat" in page.locator("header").inner_text()
    screenshot(page, "details-page")

    page.select_option("#f-owner", "@acme/payments")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state()
    assert "owner=%40acme%2Fpayments" in page.url
    owners = page.locator("article.finding dd.owner").all_inner_texts()
    assert owners and all(text.startswith("@acme/payments.") for text in owners)
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    screenshot(page, "details-page-phone-filtered")

    render_summary(page, run)
    screenshot(page, "check-run-summary")


def test_no_session_is_sent_to_sign_in(ghapp: RunningApp, scenario: Scenario) -> None:
    run = opened(ghapp, scenario)
    answer = httpx.get(run["details_url"], follow_redirects=False, timeout=10)
    assert answer.status_code == 302
    assert answer.headers["location"].startswith("/login?next=/acme/shop/checks/")
    login = httpx.get(f"{ghapp.process.url}/login", follow_redirects=False, timeout=10)
    assert login.headers["location"].split("?")[0].endswith("/login/oauth/authorize")
    cookie = login.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


def test_a_user_without_access_gets_404(
    ghapp: RunningApp, scenario: Scenario, browser_page: Any
) -> None:
    run = opened(ghapp, scenario)
    sign_in_as(ghapp.fake, "mallory")  # exists, but is no collaborator of the private repo
    response = browser_page.goto(run["details_url"])
    assert response is not None and response.status == 404
    assert "Not found" in browser_page.locator("h1").inner_text()
    assert "blocking" not in browser_page.content()


def test_a_repository_the_app_is_not_installed_on_is_404(
    ghapp: RunningApp, scenario: Scenario, browser_page: Any
) -> None:
    fake = ghapp.fake
    fake.add_repo("acme", "elsewhere", INSTALLATION_ID + 1)  # no such installation of the app
    fake.add_collaborator("acme", "elsewhere", "octocat", "admin")
    sign_in_as(fake, "octocat")
    response = browser_page.goto(f"{ghapp.process.url}/acme/elsewhere/checks/{'a' * 40}")
    assert response is not None and response.status == 404
    assert "Not found" in browser_page.locator("h1").inner_text()


GITHUB_LIKE_CSS = """
body { font: 14px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2328;
       max-width: 880px; margin: 24px auto; padding: 0 16px; }
.frame { border: 1px solid #d0d7de; border-radius: 6px; padding: 16px 24px; }
.frame > .title { font-size: 20px; font-weight: 600; border-bottom: 1px solid #d0d7de;
                  padding-bottom: 8px; margin-bottom: 16px; }
h3 { font-size: 1.25em; } h4 { font-size: 1em; margin-top: 24px; }
code { background: rgba(175,184,193,.2); padding: .2em .4em; border-radius: 6px; font-size: 85%;
       font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
table { border-collapse: collapse; margin: 8px 0; display: block; overflow: auto; }
th, td { border: 1px solid #d0d7de; padding: 6px 13px; } th { background: #f6f8fa; }
blockquote { color: #59636e; border-left: .25em solid #d0d7de; margin: 0; padding: 0 1em; }
a { color: #0969da; } li { margin: 4px 0; }
"""


def render_summary(page: Any, run: dict[str, Any]) -> None:
    """The check run's summary as GitHub shows it: cmark-gfm (GitHub's own markdown), with
    raw HTML allowed as GitHub allows <details> (the summary escapes all PR text itself)."""
    body = github_html(run["output"]["summary"])
    title = html.escape(run["output"]["title"])
    page.set_viewport_size({"width": 1000, "height": 900})
    page.set_content(
        f"<!doctype html><meta charset=utf-8><style>{GITHUB_LIKE_CSS}</style>"
        f"<div class=frame><div class=title>ghapp: {title}</div>{body}</div>"
    )
    for details in page.locator("details").all():
        details.evaluate("d => d.open = true")  # show the collapsed lists in the picture

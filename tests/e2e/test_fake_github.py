"""The fake GitHub's own specification, driven through githubkit's typed methods.

githubkit validates every response against its pydantic models, so each call that parses here
proves the fake's JSON is close enough to GitHub's for the app's client.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest
from githubkit import AppAuthStrategy, GitHub
from githubkit.cache import MemCacheStrategy
from githubkit.exception import GitHubException, RequestFailed

from tests.fakegithub import FakeGitHub
from tests.fakegithub.harness import APP_ID, INSTALLATION_ID, ServerThread, generate_app_key
from tests.fakegithub.schemas import to_json_schema
from tests.fakegithub.state import git_hash, patch_lines

pytestmark = pytest.mark.e2e

BASE_FILES = {
    "README.md": "# shop\n",
    "services/api/app.py": "\n".join(f"line {i}" for i in range(1, 21)) + "\n",
    "CODEOWNERS": "* @acme/platform\n",
}


def client(url: str, private_key: str, installation: int | None = INSTALLATION_ID) -> GitHub:
    """githubkit as the app uses it: own token cache, no retries, no HTTP cache."""
    auth = AppAuthStrategy(APP_ID, private_key)
    return GitHub(
        auth.as_installation(installation) if installation else auth,
        base_url=url,
        cache_strategy=MemCacheStrategy(),
        http_cache=False,
        auto_retry=False,
    )


@pytest.fixture
def shop(fake: FakeGitHub) -> tuple[str, str, int]:
    """acme/shop with a base commit on main and a pull request that edits, adds and deletes."""
    fake.add_repo("acme", "shop", INSTALLATION_ID)
    base = fake.add_commit("acme", "shop", BASE_FILES, branch="main")
    edited = BASE_FILES["services/api/app.py"].replace("line 10\n", "line ten\n")
    head = fake.add_commit(
        "acme",
        "shop",
        {"services/api/app.py": edited, "new.txt": "a\nb\n", "README.md": None},
        parent=base,
        branch="feature",
    )
    pr = fake.open_pull("acme", "shop", "feature", title="Edit the API")
    return base, head, pr.number


@pytest.fixture
def gh(fake_server: ServerThread, app_key: tuple[str, str]) -> Iterator[GitHub]:
    with client(fake_server.url, app_key[0]) as github:
        yield github


def test_git_object_ids_are_gits() -> None:
    assert git_hash("blob", b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"
    assert git_hash("tree", b"") == "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def test_empty_commit_has_gits_empty_tree(fake: FakeGitHub) -> None:
    fake.add_repo("acme", "empty", INSTALLATION_ID)
    sha = fake.add_commit("acme", "empty", {})
    assert fake.commits[sha].tree == "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ("@@ -1,2 +1,2 @@\n a\n-b\n+c", [(" ", 1, 1), ("-", 2, 2), ("+", 3, 2)]),
        ("@@ -0,0 +1,2 @@\n+a\n+b", [("+", 0, 1), ("+", 0, 2)]),
        ("@@ -5 +5 @@\n-x\n+y\n\\ No newline at end of file", [("-", 5, 5), ("+", 6, 5)]),
    ],
)
def test_patch_lines_number_old_and_new_sides(
    patch: str, expected: list[tuple[str, int, int]]
) -> None:
    assert patch_lines(patch) == expected


def test_nullable_becomes_a_null_type() -> None:
    converted = to_json_schema({"type": "string", "nullable": True, "enum": ["a"]})
    assert converted == {"type": ["string", "null"], "enum": ["a", None]}


def test_commentable_lines_are_the_diff_hunks(fake: FakeGitHub, shop: tuple[str, str, int]) -> None:
    pr = fake.pulls[("acme/shop", shop[2])]
    sides = fake.commentable_lines(pr, "services/api/app.py")
    assert sides["RIGHT"] == set(range(7, 14))  # line 10 changed, three lines of context
    assert sides["LEFT"] == set(range(7, 14))
    assert fake.commentable_lines(pr, "new.txt")["RIGHT"] == {1, 2}


def test_app_jwt_mints_tokens_and_a_foreign_key_is_refused(
    fake: FakeGitHub, fake_server: ServerThread, app_key: tuple[str, str], shop: object
) -> None:
    with client(fake_server.url, app_key[0], installation=None) as app:
        installation = app.rest.apps.get_repo_installation("acme", "shop").parsed_data
    assert installation.id == INSTALLATION_ID
    forged_key = generate_app_key()[0]
    with client(fake_server.url, forged_key) as forged, pytest.raises(GitHubException):
        forged.rest.repos.get("acme", "shop")
    assert fake.calls[-1].status == 401


def test_installation_reads_parse_with_githubkit_models(
    gh: GitHub, fake: FakeGitHub, shop: tuple[str, str, int]
) -> None:
    base, head, number = shop
    assert gh.rest.repos.get("acme", "shop").parsed_data.default_branch == "main"
    pull = gh.rest.pulls.get("acme", "shop", number).parsed_data
    assert (pull.head.sha, pull.base.sha, pull.changed_files) == (head, base, 3)
    files = gh.rest.pulls.list_files("acme", "shop", number).parsed_data
    assert [(f.filename, f.status) for f in files] == [
        ("README.md", "removed"),
        ("new.txt", "added"),
        ("services/api/app.py", "modified"),
    ]
    assert "-line 10\n+line ten" in (files[2].patch or "")
    tree = gh.rest.git.get_tree("acme", "shop", head, recursive="1").parsed_data
    blobs = {e.path: e.sha for e in tree.tree if e.type == "blob"}
    assert set(blobs) == {"CODEOWNERS", "new.txt", "services/api/app.py"}
    assert "services" in {e.path for e in tree.tree if e.type == "tree"}
    blob = gh.rest.git.get_blob("acme", "shop", blobs["new.txt"]).parsed_data
    assert base64.b64decode(blob.content) == b"a\nb\n"
    content = gh.rest.repos.get_content("acme", "shop", "CODEOWNERS", ref=base).parsed_data
    assert base64.b64decode(content.content) == b"* @acme/platform\n"  # type: ignore[union-attr]
    assert fake.unknown_calls() == []
    assert {c.installation for c in fake.calls} == {INSTALLATION_ID, None}


def test_missing_file_is_404_and_an_etag_makes_a_304(
    gh: GitHub, fake_server: ServerThread, fake: FakeGitHub, shop: tuple[str, str, int]
) -> None:
    with pytest.raises(RequestFailed) as missing:
        gh.rest.repos.get_content("acme", "shop", ".github/ghapp.yml")
    assert missing.value.response.status_code == 404
    first = gh.rest.repos.get_content("acme", "shop", "CODEOWNERS")
    etag = first.headers["etag"]
    token = next(iter(fake.tokens))
    again = httpx.get(
        f"{fake_server.url}/repos/acme/shop/contents/CODEOWNERS",
        headers={"Authorization": f"token {token}", "If-None-Match": etag},
    )
    assert again.status_code == 304


def test_pull_files_paginate_with_link_headers(gh: GitHub, fake: FakeGitHub) -> None:
    fake.add_repo("acme", "big", INSTALLATION_ID)
    base = fake.add_commit("acme", "big", {"a": "x"}, branch="main")
    fake.add_commit(
        "acme", "big", {f"f{i:02}.txt": "y\n" for i in range(35)}, parent=base, branch="wide"
    )
    number = fake.open_pull("acme", "big", "wide").number
    first = gh.rest.pulls.list_files("acme", "big", number, per_page=10)
    assert 'rel="next"' in first.headers["link"] and 'rel="last"' in first.headers["link"]
    everything = list(
        gh.rest.paginate(gh.rest.pulls.list_files, owner="acme", repo="big", pull_number=number)
    )
    assert len(everything) == 35


def test_check_runs_are_created_updated_and_listed_by_commit(
    gh: GitHub, fake: FakeGitHub, shop: tuple[str, str, int]
) -> None:
    head = shop[1]
    note = {"path": "new.txt", "start_line": 1, "end_line": 1, "annotation_level": "warning"}
    created = gh.rest.checks.create(
        "acme", "shop", name="ghapp", head_sha=head, status="in_progress"
    ).parsed_data
    gh.rest.checks.update(
        "acme",
        "shop",
        created.id,
        status="completed",
        conclusion="failure",
        output={"title": "t", "summary": "s", "annotations": [{**note, "message": "m"}] * 50},
    )
    gh.rest.checks.update(
        "acme",
        "shop",
        created.id,
        output={"title": "t", "summary": "s", "annotations": [{**note, "message": "n"}]},
    )
    listed = gh.rest.checks.list_for_ref("acme", "shop", head, check_name="ghapp").parsed_data
    assert listed.total_count == 1
    run = listed.check_runs[0]
    assert (run.status, run.conclusion, run.output.annotations_count) == (
        "completed",
        "failure",
        51,
    )
    assert [p.number for p in run.pull_requests] == [shop[2]]
    assert fake.schema_violations == []


SUMMARY_TOO_BIG = "é" * 40_000  # 40,000 characters, 80,000 bytes: only the byte cap catches it


@pytest.mark.parametrize(
    ("method", "path", "body", "needle"),
    [
        ("POST", "/repos/acme/shop/check-runs", {"name": "ghapp"}, "'head_sha' is a required"),
        (
            "POST",
            "/repos/acme/shop/check-runs",
            {"name": "g", "head_sha": "HEAD", "conclusion": "passed"},
            "'passed' is not one of",
        ),
        (
            "POST",
            "/repos/acme/shop/check-runs",
            {"name": "g", "head_sha": "HEAD", "output": {"title": "t", "summary": SUMMARY_TOO_BIG}},
            "output.summary is 80000 bytes",
        ),
        (
            "POST",
            "/repos/acme/shop/check-runs",
            {
                "name": "g",
                "head_sha": "HEAD",
                "actions": [{"label": "Fix", "identifier": "fix", "description": "d" * 41}],
            },
            "description is 41 characters",
        ),
        (
            "POST",
            "/repos/acme/shop/check-runs",
            {"name": "g", "head_sha": "HEAD", "started_at": "yesterday"},
            "is not a 'date-time'",
        ),
        ("PATCH", "/repos/acme/shop/check-runs/1", {"status": "completed"}, "(body)"),
        ("POST", "/repos/acme/shop/pulls/1/reviews", {"event": "LGTM"}, "'LGTM' is not one of"),
        ("POST", "/repos/acme/shop/issues/1/labels", {"labels": []}, "labels"),
        ("POST", "/repos/acme/shop/issues/1/comments", {"text": "hi"}, "'body' is a required"),
        (
            "PUT",
            "/repos/acme/shop/contents/a/b.txt",
            {"content": "eA=="},
            "'message' is a required",
        ),
    ],
)
def test_invalid_bodies_are_422_and_recorded(
    gh: GitHub,
    fake_server: ServerThread,
    fake: FakeGitHub,
    shop: tuple[str, str, int],
    method: str,
    path: str,
    body: object,
    needle: str,
) -> None:
    if not fake.schemas.operations:
        pytest.skip("../shared/fixtures/openapi is absent")
    gh.rest.repos.get("acme", "shop")  # mints a token
    token = next(iter(fake.tokens))
    response = httpx.request(
        method, fake_server.url + path, json=body, headers={"Authorization": f"token {token}"}
    )
    assert response.status_code == 422
    assert any(needle in v.message for v in fake.schema_violations), fake.schema_violations
    assert any(needle in e for e in response.json()["errors"])


def test_review_comment_outside_the_diff_is_refused(
    gh: GitHub, fake: FakeGitHub, shop: tuple[str, str, int]
) -> None:
    number = shop[2]
    comment = {"path": "services/api/app.py", "body": "fix", "side": "RIGHT"}
    with pytest.raises(RequestFailed) as refused:
        gh.rest.pulls.create_review(
            "acme", "shop", number, event="COMMENT", comments=[{**comment, "line": 1}]
        )
    assert refused.value.response.status_code == 422
    assert "must be part of the diff" in refused.value.response.text
    assert [v.kind for v in fake.schema_violations] == ["diff"]
    review = gh.rest.pulls.create_review(
        "acme", "shop", number, event="COMMENT", body="b", comments=[{**comment, "line": 10}]
    ).parsed_data
    assert review.state == "COMMENTED"
    listed = gh.rest.pulls.list_review_comments("acme", "shop", number).parsed_data
    assert [(c.path, c.line, c.body) for c in listed] == [("services/api/app.py", 10, "fix")]
    assert listed[0].diff_hunk.endswith("+line ten")


def test_comments_reactions_labels_and_reviewers(
    gh: GitHub, fake: FakeGitHub, shop: tuple[str, str, int]
) -> None:
    number = shop[2]
    fake.add_collaborator("acme", "shop", "alice")
    fake.add_team("acme", "platform", {"alice": "maintainer"})
    made = gh.rest.issues.create_comment("acme", "shop", number, body="<!-- ghapp --> v1")
    gh.rest.issues.update_comment("acme", "shop", made.parsed_data.id, body="<!-- ghapp --> v2")
    comments = gh.rest.issues.list_comments("acme", "shop", number).parsed_data
    assert [c.body for c in comments] == ["<!-- ghapp --> v2"]
    comment_id = comments[0].id
    gh.rest.reactions.create_for_issue_comment("acme", "shop", comment_id, content="eyes")
    assert [r["content"] for r in fake.reactions] == ["eyes"]
    labels = gh.rest.issues.add_labels("acme", "shop", number, labels=["ownership"]).parsed_data
    assert [label.name for label in labels] == ["ownership"]
    gh.rest.pulls.request_reviewers(
        "acme", "shop", number, reviewers=["alice"], team_reviewers=["platform"]
    )
    pr = fake.pulls[("acme/shop", number)]
    assert (pr.requested_reviewers, pr.requested_teams) == (["alice"], ["platform"])
    with pytest.raises(RequestFailed):
        gh.rest.pulls.request_reviewers("acme", "shop", number, reviewers=["stranger"])


def test_people_lookups_parse(gh: GitHub, fake: FakeGitHub, shop: object) -> None:
    fake.add_team("acme", "payments", {"bob": "member"})
    fake.add_collaborator("acme", "shop", "bob", "admin")
    membership = gh.rest.teams.get_membership_for_user_in_org("acme", "payments", "bob")
    assert membership.parsed_data.state == "active"
    with pytest.raises(RequestFailed):
        gh.rest.teams.get_membership_for_user_in_org("acme", "payments", "eve")
    level = gh.rest.repos.get_collaborator_permission_level("acme", "shop", "bob").parsed_data
    assert level.permission == "admin"
    assert gh.rest.teams.get_by_name("acme", "payments").parsed_data.members_count == 1
    assert gh.rest.users.get_by_username("bob").parsed_data.login == "bob"


def test_gitops_branch_file_and_pull_request(
    gh: GitHub, fake: FakeGitHub, shop: tuple[str, str, int]
) -> None:
    base = shop[0]
    gh.rest.git.create_ref("acme", "shop", ref="refs/heads/claim", sha=base)
    current = fake.commits[base].files["CODEOWNERS"]
    encoded = base64.b64encode(b"* @acme/payments\n").decode()
    gh.rest.repos.create_or_update_file_contents(
        "acme", "shop", "CODEOWNERS", message="claim", content=encoded, sha=current, branch="claim"
    )
    created = gh.rest.pulls.create("acme", "shop", title="Claim", head="claim", base="main")
    assert created.parsed_data.head.ref == "claim"
    open_pulls = gh.rest.pulls.list("acme", "shop", state="open").parsed_data
    assert sorted(p.head.ref for p in open_pulls) == ["claim", "feature"]
    assert [w["path"] for w in fake.content_writes] == ["CODEOWNERS"]
    assert fake.created_refs[0]["ref"] == "refs/heads/claim"
    assert fake.schema_violations == []


def test_hook_deliveries_list_and_redeliver(
    fake: FakeGitHub, fake_server: ServerThread, app_key: tuple[str, str]
) -> None:
    delivery = fake.add_hook_delivery("guid-1", "pull_request", {"action": "opened"})
    with client(fake_server.url, app_key[0], installation=None) as app:
        items = app.rest.apps.list_webhook_deliveries().parsed_data
        assert [(d.guid, d.status_code) for d in items] == [("guid-1", 500)]
        app.rest.apps.redeliver_webhook_delivery(delivery.id)
    assert delivery.attempts == 1


def test_faults_answer_first_then_the_fake_recovers(
    gh: GitHub, fake: FakeGitHub, shop: tuple[str, str, int]
) -> None:
    fake.fail_next("POST", r"/check-runs$", 500)
    fake.fail_next("POST", r"/check-runs$", 403, headers={"Retry-After": "1"})
    statuses = []
    for _ in range(3):
        try:
            gh.rest.checks.create("acme", "shop", name="ghapp", head_sha=shop[1])
            statuses.append(201)
        except RequestFailed as exc:
            statuses.append(exc.response.status_code)
    assert statuses == [500, 403, 201]
    assert [c.injected for c in fake.calls if c.path.endswith("check-runs")] == [True, True, False]
    assert len(fake.check_runs) == 1


def test_unknown_endpoints_and_foreign_repos_are_404(
    gh: GitHub, fake: FakeGitHub, shop: object
) -> None:
    fake.add_installation(99, "other")
    fake.add_repo("other", "secret", 99)
    with pytest.raises(RequestFailed):
        gh.rest.repos.get("other", "secret")
    with pytest.raises(RequestFailed):
        gh.rest.repos.get_branch("acme", "shop", "main")
    assert [c.path for c in fake.unknown_calls()] == ["/repos/acme/shop/branches/main"]
    assert fake.counters()[INSTALLATION_ID] == 2


def test_revoked_tokens_are_401(gh: GitHub, fake: FakeGitHub, shop: object) -> None:
    gh.rest.repos.get("acme", "shop")
    fake.expire_tokens()
    with pytest.raises(RequestFailed) as refused:
        gh.rest.repos.get("acme", "shop")
    assert refused.value.response.status_code == 401

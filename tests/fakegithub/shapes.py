"""GitHub's JSON shapes, filled from the fake's state: every field githubkit's models require.

URLs point at the fake (`base`), as GitHub Enterprise Server's do at its own host.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from .schemas import Violation
from .state import ChangedFile, Commit, FakeGitHub, HookDelivery, PullRequest, Repo, patch_lines

BOT = "ghapp[bot]"
CREATED = "2024-01-01T00:00:00Z"
PERMISSIONS = {
    "checks": "write",
    "contents": "write",
    "pull_requests": "write",
    "issues": "write",
    "members": "read",
    "metadata": "read",
}
_USER_URLS = (
    "followers",
    "following{/other_user}",
    "gists{/gist_id}",
    "starred{/owner}{/repo}",
    "subscriptions",
    "organizations",
    "repos",
    "events{/privacy}",
    "received_events",
)
_REPO_URLS = (
    "archive/{archive_format}{/ref}",
    "assignees{/user}",
    "git/blobs{/sha}",
    "branches{/branch}",
    "collaborators{/collaborator}",
    "comments{/number}",
    "commits{/sha}",
    "compare/{base}...{head}",
    "contents/{+path}",
    "contributors",
    "deployments",
    "downloads",
    "events",
    "forks",
    "git/commits{/sha}",
    "git/refs{/sha}",
    "git/tags{/sha}",
    "issues/comments{/number}",
    "issues/events{/number}",
    "issues{/number}",
    "keys{/key_id}",
    "labels{/name}",
    "languages",
    "merges",
    "milestones{/number}",
    "notifications{?since,all,participating}",
    "pulls{/number}",
    "releases{/id}",
    "stargazers",
    "statuses/{sha}",
    "subscribers",
    "subscription",
    "tags",
    "teams",
    "git/trees{/sha}",
    "hooks",
)


def node_id(kind: str, key: object) -> str:
    """A stable opaque node id, like GitHub's base64 global ids."""
    return base64.b64encode(f"{kind}:{key}".encode()).decode().rstrip("=")


def _numeric_id(login: str) -> int:
    return int(hashlib.sha1(login.encode()).hexdigest()[:7], 16)


def user(base: str, login: str, kind: str = "User") -> dict[str, Any]:
    """A SimpleUser."""
    kind = "Bot" if login.endswith("[bot]") else kind
    url = f"{base}/users/{login}"
    out: dict[str, Any] = {
        "login": login,
        "id": _numeric_id(login),
        "node_id": node_id(kind, login),
        "avatar_url": f"{base}/avatars/{login}",
        "gravatar_id": "",
        "url": url,
        "html_url": f"{base}/{login}",
        "type": kind,
        "site_admin": False,
    }
    for suffix in _USER_URLS:
        out[suffix.split("{")[0] + "_url"] = f"{url}/{suffix}"
    return out


def public_user(base: str, login: str, kind: str) -> dict[str, Any]:
    """A PublicUser (GET /users/{u})."""
    return {
        **user(base, login, kind),
        "name": login,
        "company": None,
        "blog": "",
        "location": None,
        "email": None,
        "hireable": None,
        "bio": None,
        "public_repos": 1,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "created_at": CREATED,
        "updated_at": CREATED,
    }


def permission_flags(permission: str) -> dict[str, bool]:
    order = ["read", "triage", "write", "maintain", "admin"]
    rank = order.index(permission) if permission in order else -1
    return {
        "pull": rank >= 0,
        "triage": rank >= 1,
        "push": rank >= 2,
        "maintain": rank >= 3,
        "admin": rank >= 4,
    }


def repository(base: str, fake: FakeGitHub, repo: Repo) -> dict[str, Any]:
    """A FullRepository (also satisfies Repository and MinimalRepository)."""
    api = f"{base}/repos/{repo.full_name}"
    out: dict[str, Any] = {
        "id": repo.id,
        "node_id": node_id("Repository", repo.id),
        "name": repo.name,
        "full_name": repo.full_name,
        "owner": user(base, repo.owner, fake.users[repo.owner]),
        "private": repo.private,
        "html_url": f"{base}/{repo.full_name}",
        "description": None,
        "fork": False,
        "url": api,
        "git_url": f"git://fake/{repo.full_name}.git",
        "ssh_url": f"git@fake:{repo.full_name}.git",
        "clone_url": f"{base}/{repo.full_name}.git",
        "svn_url": f"{base}/{repo.full_name}",
        "mirror_url": None,
        "homepage": None,
        "language": "Python",
        "forks_count": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "size": 1,
        "default_branch": repo.default_branch,
        "open_issues_count": 0,
        "has_issues": True,
        "has_projects": False,
        "has_wiki": False,
        "has_pages": False,
        "has_discussions": False,
        "has_downloads": True,
        "archived": False,
        "disabled": False,
        "visibility": "private" if repo.private else "public",
        "pushed_at": CREATED,
        "created_at": CREATED,
        "updated_at": CREATED,
        "subscribers_count": 0,
        "network_count": 0,
        "license": None,
        "forks": 0,
        "open_issues": 0,
        "watchers": 0,
        "topics": [],
        "is_template": False,
        "permissions": {
            "admin": False,
            "maintain": False,
            "push": True,
            "triage": True,
            "pull": True,
        },
    }
    for suffix in _REPO_URLS:
        out[_repo_url_key(suffix)] = f"{api}/{suffix}"
    return out


def _repo_url_key(suffix: str) -> str:
    special = {
        "git/blobs{/sha}": "blobs_url",
        "git/commits{/sha}": "git_commits_url",
        "git/refs{/sha}": "git_refs_url",
        "git/tags{/sha}": "git_tags_url",
        "git/trees{/sha}": "trees_url",
        "issues/comments{/number}": "issue_comment_url",
        "issues/events{/number}": "issue_events_url",
        "statuses/{sha}": "statuses_url",
        "compare/{base}...{head}": "compare_url",
        "contents/{+path}": "contents_url",
        "archive/{archive_format}{/ref}": "archive_url",
    }
    return special.get(suffix) or suffix.split("{")[0] + "_url"


def installation(
    base: str, fake: FakeGitHub, installation_id: int, inst: dict[str, Any]
) -> dict[str, Any]:
    """An Installation."""
    return {
        "id": installation_id,
        "account": user(base, inst["account"], inst["type"]),
        "repository_selection": "all",
        "access_tokens_url": f"{base}/app/installations/{installation_id}/access_tokens",
        "repositories_url": f"{base}/installation/repositories",
        "html_url": f"{base}/settings/installations/{installation_id}",
        "app_id": fake.app_id,
        "target_id": _numeric_id(inst["account"]),
        "target_type": inst["type"],
        "permissions": PERMISSIONS,
        "events": ["pull_request", "issue_comment", "push"],
        "created_at": CREATED,
        "updated_at": CREATED,
        "single_file_name": None,
        "app_slug": fake.app_slug,
        "suspended_by": None,
        "suspended_at": None,
    }


def app(base: str, fake: FakeGitHub) -> dict[str, Any]:
    """The app as an Integration (check runs carry it)."""
    return {
        "id": fake.app_id,
        "slug": fake.app_slug,
        "node_id": node_id("App", fake.app_id),
        "owner": user(base, "acme", "Organization"),
        "name": fake.app_slug,
        "description": None,
        "external_url": base,
        "html_url": f"{base}/apps/{fake.app_slug}",
        "created_at": CREATED,
        "updated_at": CREATED,
        "permissions": PERMISSIONS,
        "events": ["pull_request"],
    }


def hook_delivery(delivery: HookDelivery) -> dict[str, Any]:
    """A HookDeliveryItem."""
    return {
        "id": delivery.id,
        "guid": delivery.guid,
        "delivered_at": delivery.delivered_at,
        "redelivery": delivery.redelivery,
        "duration": 0.1,
        "status": "OK" if delivery.status_code < 300 else "Internal Server Error",
        "status_code": delivery.status_code,
        "event": delivery.event,
        "action": delivery.action,
        "installation_id": delivery.installation_id,
        "repository_id": delivery.repository_id,
        "throttled_at": None,
    }


def tree_entry(
    base: str, repo: Repo, fake: FakeGitHub, mode: str, kind: str, path: str, sha: str
) -> dict[str, Any]:
    entry: dict[str, Any] = {"path": path, "mode": mode, "type": kind, "sha": sha}
    if kind == "blob":
        entry["size"] = len(fake.blobs[sha])
    entry["url"] = f"{base}/repos/{repo.full_name}/git/{kind}s/{sha}"
    return entry


def git_ref(base: str, repo: Repo, ref: str, sha: str) -> dict[str, Any]:
    return {
        "ref": ref,
        "node_id": node_id("Ref", ref),
        "url": f"{base}/repos/{repo.full_name}/git/{ref}",
        "object": {
            "type": "commit",
            "sha": sha,
            "url": f"{base}/repos/{repo.full_name}/git/commits/{sha}",
        },
    }


def content_entry(base: str, repo: Repo, path: str, blob: str | None) -> dict[str, Any]:
    """A directory listing entry (blob None: a directory)."""
    api = f"{base}/repos/{repo.full_name}"
    kind = "file" if blob else "dir"
    links = {
        "self": f"{api}/contents/{path}",
        "git": f"{api}/git/blobs/{blob}",
        "html": f"{base}/{repo.full_name}/blob/{repo.default_branch}/{path}",
    }
    return {
        "type": kind,
        "size": 0,
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        "sha": blob or "0" * 40,
        "url": links["self"],
        "git_url": links["git"],
        "html_url": links["html"],
        "download_url": f"{base}/raw/{repo.full_name}/{path}",
        "_links": links,
    }


def content_file(base: str, repo: Repo, path: str, blob: str, data: bytes) -> dict[str, Any]:
    """A ContentFile (GET contents of one file)."""
    return {
        **content_entry(base, repo, path, blob),
        "size": len(data),
        "encoding": "base64",
        "content": base64.encodebytes(data).decode(),
    }


def commit(base: str, repo: Repo, c: Commit) -> dict[str, Any]:
    api = f"{base}/repos/{repo.full_name}"
    who = {"name": "ghapp", "email": "ghapp@example.com", "date": CREATED}
    return {
        "sha": c.sha,
        "node_id": node_id("Commit", c.sha),
        "url": f"{api}/git/commits/{c.sha}",
        "html_url": f"{base}/{repo.full_name}/commit/{c.sha}",
        "author": who,
        "committer": who,
        "message": c.message,
        "tree": {"sha": c.tree, "url": f"{api}/git/trees/{c.tree}"},
        "parents": [
            {
                "sha": p,
                "url": f"{api}/git/commits/{p}",
                "html_url": f"{base}/{repo.full_name}/commit/{p}",
            }
            for p in c.parents
        ],
        "verification": {
            "verified": False,
            "reason": "unsigned",
            "signature": None,
            "payload": None,
            "verified_at": None,
        },
    }


def _links(base: str, pr: PullRequest) -> dict[str, Any]:
    api = f"{base}/repos/{pr.repo}"
    return {
        k: {"href": v}
        for k, v in {
            "self": f"{api}/pulls/{pr.number}",
            "html": f"{base}/{pr.repo}/pull/{pr.number}",
            "issue": f"{api}/issues/{pr.number}",
            "comments": f"{api}/issues/{pr.number}/comments",
            "review_comments": f"{api}/pulls/{pr.number}/comments",
            "review_comment": f"{api}/pulls/comments{{/number}}",
            "commits": f"{api}/pulls/{pr.number}/commits",
            "statuses": f"{api}/statuses/{pr.head_sha}",
        }.items()
    }


def pull(base: str, fake: FakeGitHub, pr: PullRequest, full: bool = False) -> dict[str, Any]:
    """A PullRequestSimple, or with `full` a PullRequest."""
    repo = fake.repos[pr.repo]
    repo_json = repository(base, fake, repo)
    links = _links(base, pr)

    def side(ref: str, sha: str) -> dict[str, Any]:
        return {
            "label": f"{repo.owner}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": user(base, repo.owner, fake.users[repo.owner]),
            "repo": repo_json,
        }

    out: dict[str, Any] = {
        "url": links["self"]["href"],
        "id": pr.id,
        "node_id": node_id("PullRequest", pr.id),
        "html_url": links["html"]["href"],
        "diff_url": links["html"]["href"] + ".diff",
        "patch_url": links["html"]["href"] + ".patch",
        "issue_url": links["issue"]["href"],
        "commits_url": links["commits"]["href"],
        "review_comments_url": links["review_comments"]["href"],
        "review_comment_url": links["review_comment"]["href"],
        "comments_url": links["comments"]["href"],
        "statuses_url": links["statuses"]["href"],
        "number": pr.number,
        "state": pr.state,
        "locked": False,
        "title": pr.title,
        "user": user(base, pr.user),
        "body": pr.body,
        "labels": [label(base, repo, name) for name in pr.labels],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": pr.created_at,
        "updated_at": pr.created_at,
        "closed_at": None,
        "merged_at": None,
        "merge_commit_sha": None,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [user(base, u) for u in pr.requested_reviewers],
        "requested_teams": [team_simple(base, fake, repo.owner, t) for t in pr.requested_teams],
        "head": side(pr.head_ref, pr.head_sha),
        "base": side(pr.base_ref, pr.base_sha),
        "_links": links,
        "author_association": "MEMBER",
        "auto_merge": None,
        "draft": pr.draft,
    }
    if full:
        files = fake.changed_files(pr)
        out.update(
            {
                "merged": False,
                "mergeable": True,
                "rebaseable": True,
                "mergeable_state": "clean",
                "merged_by": None,
                "comments": 0,
                "review_comments": 0,
                "maintainer_can_modify": False,
                "commits": 1,
                "additions": sum(f.additions for f in files),
                "deletions": sum(f.deletions for f in files),
                "changed_files": len(files),
            }
        )
    return out


def diff_entry(base: str, repo: Repo, pr: PullRequest, f: ChangedFile) -> dict[str, Any]:
    """A DiffEntry (GET pulls/{n}/files)."""
    sha = f.sha or "0" * 40
    entry: dict[str, Any] = {
        "sha": sha,
        "filename": f.filename,
        "status": f.status,
        "additions": f.additions,
        "deletions": f.deletions,
        "changes": f.additions + f.deletions,
        "blob_url": f"{base}/{repo.full_name}/blob/{pr.head_sha}/{f.filename}",
        "raw_url": f"{base}/{repo.full_name}/raw/{pr.head_sha}/{f.filename}",
        "contents_url": f"{base}/repos/{repo.full_name}/contents/{f.filename}?ref={pr.head_sha}",
    }
    if f.patch is not None:
        entry["patch"] = f.patch
    return entry


def label(base: str, repo: Repo, name: str) -> dict[str, Any]:
    return {
        "id": _numeric_id(repo.full_name + name),
        "node_id": node_id("Label", name),
        "url": f"{base}/repos/{repo.full_name}/labels/{name}",
        "name": name,
        "description": None,
        "color": "ededed",
        "default": False,
        "archived_at": None,
        "archived_by": None,
    }


def team_simple(base: str, fake: FakeGitHub, org: str, slug: str) -> dict[str, Any]:
    url = f"{base}/orgs/{org}/teams/{slug}"
    return {
        "id": _numeric_id(f"{org}/{slug}"),
        "node_id": node_id("Team", f"{org}/{slug}"),
        "url": url,
        "members_url": f"{url}/members{{/member}}",
        "name": slug,
        "slug": slug,
        "description": None,
        "privacy": "closed",
        "notification_setting": None,
        "permission": "pull",
        "html_url": f"{base}/orgs/{org}/teams/{slug}",
        "repositories_url": f"{url}/repos",
        "type": "organization",
        "parent": None,
    }


def team(base: str, fake: FakeGitHub, org: str, slug: str) -> dict[str, Any]:
    """A TeamFull."""
    return {
        **team_simple(base, fake, org, slug),
        "members_count": len(fake.teams[(org, slug)]),
        "repos_count": 1,
        "created_at": CREATED,
        "updated_at": CREATED,
        "organization": {
            **user(base, org, "Organization"),
            "name": org,
            "description": None,
            "company": None,
            "blog": None,
            "location": None,
            "email": None,
            "twitter_username": None,
            "is_verified": False,
            "has_organization_projects": True,
            "has_repository_projects": True,
            "public_repos": 1,
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "html_url": f"{base}/{org}",
            "created_at": CREATED,
            "updated_at": CREATED,
            "type": "Organization",
            "hooks_url": f"{base}/orgs/{org}/hooks",
            "issues_url": f"{base}/orgs/{org}/issues",
            "members_url": f"{base}/orgs/{org}/members{{/member}}",
            "public_members_url": f"{base}/orgs/{org}/public_members{{/member}}",
            "archived_at": None,
        },
    }


def check_run(base: str, fake: FakeGitHub, run: dict[str, Any]) -> dict[str, Any]:
    """A CheckRun."""
    url = f"{base}/repos/{run['repo']}/check-runs/{run['id']}"
    output = run["output"]
    prs = [
        p for p in fake.pulls.values() if p.repo == run["repo"] and p.head_sha == run["head_sha"]
    ]
    return {
        "id": run["id"],
        "head_sha": run["head_sha"],
        "node_id": node_id("CheckRun", run["id"]),
        "external_id": run["external_id"],
        "url": url,
        "html_url": f"{base}/{run['repo']}/runs/{run['id']}",
        "details_url": run["details_url"],
        "status": run["status"],
        "conclusion": run["conclusion"],
        "started_at": run["started_at"],
        "completed_at": run["completed_at"],
        "name": run["name"],
        "output": {
            "title": output.get("title"),
            "summary": output.get("summary"),
            "text": output.get("text"),
            "annotations_count": len(run["annotations"]),
            "annotations_url": f"{url}/annotations",
        },
        "check_suite": {"id": run["id"] + 1_000_000},
        "app": app(base, fake),
        "pull_requests": [
            {
                "id": p.id,
                "number": p.number,
                "url": f"{base}/repos/{p.repo}/pulls/{p.number}",
                "head": {
                    "ref": p.head_ref,
                    "sha": p.head_sha,
                    "repo": _repo_ref(base, fake, p.repo),
                },
                "base": {
                    "ref": p.base_ref,
                    "sha": p.base_sha,
                    "repo": _repo_ref(base, fake, p.repo),
                },
            }
            for p in prs
        ],
    }


def _repo_ref(base: str, fake: FakeGitHub, full_name: str) -> dict[str, Any]:
    repo = fake.repos[full_name]
    return {"id": repo.id, "url": f"{base}/repos/{full_name}", "name": repo.name}


def annotation(base: str, run: dict[str, Any], a: dict[str, Any]) -> dict[str, Any]:
    return {
        "path": a["path"],
        "start_line": a["start_line"],
        "end_line": a["end_line"],
        "start_column": a.get("start_column"),
        "end_column": a.get("end_column"),
        "annotation_level": a["annotation_level"],
        "title": a.get("title"),
        "message": a["message"],
        "raw_details": a.get("raw_details"),
        "blob_href": f"{base}/{run['repo']}/blob/{run['head_sha']}/{a['path']}",
    }


def review(base: str, pr: PullRequest, r: dict[str, Any]) -> dict[str, Any]:
    """A PullRequestReview."""
    html = f"{base}/{pr.repo}/pull/{pr.number}#pullrequestreview-{r['id']}"
    pr_url = f"{base}/repos/{pr.repo}/pulls/{pr.number}"
    return {
        "id": r["id"],
        "node_id": node_id("Review", r["id"]),
        "user": user(base, r["user"]),
        "body": r["body"],
        "state": r["state"],
        "html_url": html,
        "pull_request_url": pr_url,
        "_links": {"html": {"href": html}, "pull_request": {"href": pr_url}},
        "submitted_at": r["submitted_at"],
        "commit_id": r["commit_id"],
        "author_association": "NONE",
    }


def review_comment(base: str, pr: PullRequest, c: dict[str, Any], patch: str) -> dict[str, Any]:
    """A PullRequestReviewComment; diff_hunk is the file's patch up to the commented line."""
    url = f"{base}/repos/{pr.repo}/pulls/comments/{c['id']}"
    html = f"{base}/{pr.repo}/pull/{pr.number}#discussion_r{c['id']}"
    pr_url = f"{base}/repos/{pr.repo}/pulls/{pr.number}"
    return {
        "url": url,
        "pull_request_review_id": c["review_id"],
        "id": c["id"],
        "node_id": node_id("ReviewComment", c["id"]),
        "diff_hunk": _hunk(patch, c),
        "path": c["path"],
        "position": c["position"],
        "original_position": c["position"],
        "commit_id": c["commit_id"],
        "original_commit_id": c["commit_id"],
        "user": user(base, c["user"]),
        "body": c["body"],
        "created_at": c["created_at"],
        "updated_at": c["created_at"],
        "html_url": html,
        "pull_request_url": pr_url,
        "author_association": "NONE",
        "line": c["line"],
        "original_line": c["line"],
        "side": c["side"],
        "start_line": c["start_line"],
        "original_start_line": c["start_line"],
        "start_side": None,
        "subject_type": "line",
        "_links": {"self": {"href": url}, "html": {"href": html}, "pull_request": {"href": pr_url}},
    }


def _hunk(patch: str, c: dict[str, Any]) -> str:
    lines = patch.split("\n")
    content = [i for i, line in enumerate(lines) if not line.startswith(("@@", "\\"))]
    for index, (kind, old_no, new_no) in zip(content, patch_lines(patch), strict=False):
        number, other_side = (new_no, "-") if c["side"] == "RIGHT" else (old_no, "+")
        if number == c["line"] and kind != other_side:
            return "\n".join(lines[: index + 1])
    return patch


def issue_comment(base: str, c: dict[str, Any]) -> dict[str, Any]:
    """An IssueComment."""
    api = f"{base}/repos/{c['repo']}"
    return {
        "id": c["id"],
        "node_id": node_id("IssueComment", c["id"]),
        "url": f"{api}/issues/comments/{c['id']}",
        "html_url": f"{base}/{c['repo']}/pull/{c['number']}#issuecomment-{c['id']}",
        "body": c["body"],
        "user": user(base, c["user"]),
        "created_at": c["created_at"],
        "updated_at": c["updated_at"],
        "issue_url": f"{api}/issues/{c['number']}",
        "author_association": "NONE",
    }


def reaction(base: str, r: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": r["id"],
        "node_id": node_id("Reaction", r["id"]),
        "user": user(base, r["user"]),
        "content": r["content"],
        "created_at": r["created_at"],
    }


def diff_violation(method: str, path: str, message: str) -> Violation:
    return Violation("pulls/create-review", method, path, "diff", message)

"""The fake's HTTP surface: a starlette app answering GitHub REST calls from a `FakeGitHub`.

One catch-all ASGI endpoint runs every request through the same steps, in GitHub's order:
route (unknown -> 404, recorded), authentication (app JWT or installation token, 401), repository
access (404 outside the installation), body schema and limits (422, recorded in
`schema_violations`), injected faults (`fail_next`), then the handler. Every request lands in
`fake.calls`. Response shapes follow GitHub's and parse with githubkit's models
(test_fake_github.py checks that through githubkit itself).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode

import jwt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from . import shapes
from .state import Call, FakeGitHub, PullRequest, Repo, now_iso

DOCS = "https://docs.github.com/rest"
MAX_TREE_ENTRIES = 100_000


class HttpError(Exception):
    """Ends a handler with GitHub's error JSON."""

    def __init__(self, status: int, message: str, errors: list[Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors


@dataclass
class Ctx:
    fake: FakeGitHub
    base: str  # scheme://host:port of this fake, for *_url fields
    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    headers: dict[str, str]
    installation: int | None = None
    user: str | None = None  # the login of a user access token (OAuth sign-in)
    out_headers: dict[str, str] = field(default_factory=dict)

    @property
    def repo(self) -> Repo:
        return self.fake.repos[f"{self.params['owner']}/{self.params['repo']}"]

    def pull(self) -> PullRequest:
        pr = self.fake.pulls.get((self.repo.full_name, int(self.params["number"])))
        if pr is None:
            raise HttpError(404, "Not Found")
        return pr


Handler = Callable[[Ctx], tuple[int, Any]]
# method, path, handler, auth: "token" (installation), "jwt" (the app) or "none" (public: GitHub's
# web forms and the unauthenticated API calls; the body reaches the handler raw when not JSON).
ROUTES: list[tuple[str, re.Pattern[str], Handler, str]] = []


def route(
    method: str, template: str, jwt_auth: bool = False, public: bool = False
) -> Callable[[Handler], Handler]:
    regex = template.replace("{path}", "(?P<path>.+)").replace("{ref}", "(?P<ref>.+)")
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", regex)
    auth = "jwt" if jwt_auth else "none" if public else "token"

    def register(handler: Handler) -> Handler:
        ROUTES.append((method, re.compile(f"^{regex}$"), handler, auth))
        return handler

    return register


def create_fake_app(fake: FakeGitHub) -> Callable[[Scope, Receive, Send], Any]:
    """The ASGI app serving `fake`."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        raw = await request.body()
        response = _answer(fake, request, raw)
        await response(scope, receive, send)

    return app


def _answer(fake: FakeGitHub, request: Request, raw: bytes) -> Response:
    method, path = request.method, request.url.path
    query = {k: v[-1] for k, v in parse_qs(request.url.query).items()}
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = raw.decode(errors="replace")
    call = Call(method, path, request.url.query, 0, None, body)
    with fake.lock:
        response = _dispatch(fake, request, call, query)
        call.status = response.status_code
        fake.calls.append(call)
    return response


def _dispatch(fake: FakeGitHub, request: Request, call: Call, query: dict[str, str]) -> Response:
    # attribute the call to an installation even when it fails, so counters see every request
    _, _, credential = request.headers.get("authorization", "").partition(" ")
    call.installation = fake.tokens.get(credential)
    found = _route_for(call.method, call.path)
    if found is None:
        call.unknown = True
        return _error(404, "Not Found")
    handler, auth, match = found
    base = f"{request.url.scheme}://{request.url.netloc}"
    ctx = Ctx(
        fake,
        base,
        call.method,
        call.path,
        match.groupdict(),
        query,
        call.body,
        {k.lower(): v for k, v in request.headers.items()},
    )
    try:
        if auth != "none":
            _authenticate(ctx, auth == "jwt")
            if isinstance(call.body, str):
                raise HttpError(400, "Problems parsing JSON")
        violations = fake.schemas.validate(call.method, call.path, call.body)
        if violations:
            fake.schema_violations.extend(violations)
            raise HttpError(422, "Invalid request.", [v.message for v in violations])
        fault = fake.take_fault(call.method, call.path)
        if fault is not None:
            call.injected = True
            return JSONResponse(fault.body, fault.status, headers=fault.headers)
        status, payload = handler(ctx)
    except HttpError as exc:
        return _error(exc.status, exc.message, exc.errors)
    if isinstance(payload, Response):  # a web page or a redirect, not an API answer
        return payload
    if status == 304:
        return Response(status_code=304, headers=ctx.out_headers)
    headers = {**_rate_headers(fake, ctx.installation), **ctx.out_headers}
    return JSONResponse(payload, status, headers=headers)


def _route_for(method: str, path: str) -> tuple[Handler, str, re.Match[str]] | None:
    for route_method, pattern, handler, auth in ROUTES:
        match = pattern.match(path)
        if route_method == method and match:
            return handler, auth, match
    return None


def _error(status: int, message: str, errors: list[Any] | None = None) -> JSONResponse:
    payload: dict[str, Any] = {"message": message, "documentation_url": DOCS, "status": str(status)}
    if errors:
        payload["errors"] = errors
    return JSONResponse(payload, status)


def _rate_headers(fake: FakeGitHub, installation: int | None) -> dict[str, str]:
    now = time.time()
    if fake.rate_window_ends and now >= fake.rate_window_ends:  # a new hour: a fresh quota
        fake.rate_used.clear()
        fake.rate_scanned = len(fake.calls)
        fake.rate_window_ends = 0.0
    if not fake.rate_window_ends:
        fake.rate_window_ends = now + 3600
    # Counted incrementally (calls are only ever appended): a pass over thousands of
    # repositories would otherwise rescan every earlier call on each request.
    for call in fake.calls[fake.rate_scanned :]:
        fake.rate_used[call.installation] += 1
    fake.rate_scanned = len(fake.calls)
    used = fake.rate_used[installation] + 1
    return {
        "x-ratelimit-limit": str(fake.rate_limit),
        "x-ratelimit-used": str(used),
        "x-ratelimit-remaining": str(max(fake.rate_limit - used, 1)),
        "x-ratelimit-reset": str(int(fake.rate_window_ends)),
        "x-ratelimit-resource": "core",
    }


def _authenticate(ctx: Ctx, jwt_auth: bool) -> None:
    scheme, _, credential = ctx.headers.get("authorization", "").partition(" ")
    if not credential:
        raise HttpError(401, "Requires authentication")
    if jwt_auth:
        _check_jwt(ctx.fake, credential)
    elif scheme.lower() in ("token", "bearer") and credential in ctx.fake.oauth.tokens:
        ctx.user = ctx.fake.oauth.tokens[credential]
    else:
        if scheme.lower() not in ("token", "bearer") or credential not in ctx.fake.tokens:
            raise HttpError(401, "Bad credentials")
        ctx.installation = ctx.fake.tokens[credential]
    if "owner" in ctx.params and "repo" in ctx.params:
        repo = ctx.fake.repos.get(f"{ctx.params['owner']}/{ctx.params['repo']}")
        foreign = ctx.installation is not None and repo is not None
        if repo is None or (foreign and repo.installation_id != ctx.installation):
            raise HttpError(404, "Not Found")
        if ctx.user is not None and not ctx.fake.user_can_read(ctx.user, repo):
            raise HttpError(404, "Not Found")


def _check_jwt(fake: FakeGitHub, token: str) -> None:
    if fake.app_public_key is None:
        raise HttpError(401, "No app key is registered with the fake")
    try:
        claims = jwt.decode(
            token,
            fake.app_public_key,
            algorithms=["RS256"],
            leeway=60,
            options={"require": ["iss", "iat", "exp"]},
        )
    except jwt.PyJWTError as exc:
        raise HttpError(401, f"A JSON web token could not be decoded: {exc}") from exc
    if str(claims["iss"]) != str(fake.app_id):
        raise HttpError(401, f"'Issuer' claim ('iss') must be {fake.app_id}")
    if claims["exp"] - claims["iat"] > 600 + 60:
        raise HttpError(401, "'Expiration time' claim ('exp') is too far in the future")


def _paginate(ctx: Ctx, items: list[Any], max_per_page: int = 100) -> list[Any]:
    per_page = min(int(ctx.query.get("per_page", 30)), max_per_page)
    page = max(int(ctx.query.get("page", 1)), 1)
    last = max((len(items) + per_page - 1) // per_page, 1)
    links = []
    for rel, number in (("prev", page - 1), ("next", page + 1), ("last", last), ("first", 1)):
        if (rel in ("prev", "first") and page > 1) or (rel in ("next", "last") and page < last):
            query = urlencode({**ctx.query, "per_page": per_page, "page": number})
            links.append(f'<{ctx.base}{ctx.path}?{query}>; rel="{rel}"')
    if links:
        ctx.out_headers["link"] = ", ".join(links)
    return items[(page - 1) * per_page : page * per_page]


def _installation_json(ctx: Ctx, installation_id: int) -> dict[str, Any]:
    inst = ctx.fake.installations.get(installation_id)
    if inst is None:
        raise HttpError(404, "Not Found")
    return shapes.installation(ctx.base, ctx.fake, installation_id, inst)


# ---- app (JWT) --------------------------------------------------------------------------------
@route("POST", "/app/installations/{installation_id}/access_tokens", jwt_auth=True)
def create_token(ctx: Ctx) -> tuple[int, Any]:
    installation_id = int(ctx.params["installation_id"])
    _installation_json(ctx, installation_id)
    token = "ghs_" + secrets.token_hex(18)
    ctx.fake.tokens[token] = installation_id
    expires = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return 201, {
        "token": token,
        "expires_at": expires,
        "permissions": shapes.PERMISSIONS,
        "repository_selection": "all",
    }


@route("GET", "/app/installations/{installation_id}", jwt_auth=True)
def get_installation(ctx: Ctx) -> tuple[int, Any]:
    return 200, _installation_json(ctx, int(ctx.params["installation_id"]))


@route("GET", "/app/installations", jwt_auth=True)
def list_installations(ctx: Ctx) -> tuple[int, Any]:
    return 200, _paginate(ctx, [_installation_json(ctx, i) for i in ctx.fake.installations])


@route("GET", "/repos/{owner}/{repo}/installation", jwt_auth=True)
def get_repo_installation(ctx: Ctx) -> tuple[int, Any]:
    return 200, _installation_json(ctx, ctx.repo.installation_id)


@route("GET", "/app/hook/deliveries", jwt_auth=True)
def list_deliveries(ctx: Ctx) -> tuple[int, Any]:
    newest_first = sorted(ctx.fake.hook_deliveries, key=lambda d: -d.id)
    return 200, _paginate(ctx, [shapes.hook_delivery(d) for d in newest_first])


@route("POST", "/app/hook/deliveries/{delivery_id}/attempts", jwt_auth=True)
def redeliver(ctx: Ctx) -> tuple[int, Any]:
    for delivery in ctx.fake.hook_deliveries:
        if delivery.id == int(ctx.params["delivery_id"]):
            delivery.attempts += 1
            return 202, {}
    raise HttpError(404, "Not Found")


# ---- repositories, git data, contents --------------------------------------------------------
@route("GET", "/repos/{owner}/{repo}")
def get_repo(ctx: Ctx) -> tuple[int, Any]:
    return 200, shapes.repository(ctx.base, ctx.fake, ctx.repo)


@route("GET", "/repos/{owner}/{repo}/git/trees/{sha}")
def get_tree(ctx: Ctx) -> tuple[int, Any]:
    fake, sha = ctx.fake, ctx.params["sha"]
    commit_sha = fake.resolve(ctx.repo, sha)
    tree_sha = fake.commits[commit_sha].tree if commit_sha else sha
    if tree_sha not in fake.trees:
        raise HttpError(404, "Not Found")
    recursive = ctx.query.get("recursive") not in (None, "", "0", "false")
    entries = list(_walk_tree(fake, tree_sha, "", recursive))
    truncated = len(entries) > MAX_TREE_ENTRIES
    items = [shapes.tree_entry(ctx.base, ctx.repo, fake, *e) for e in entries[:MAX_TREE_ENTRIES]]
    url = f"{ctx.base}/repos/{ctx.repo.full_name}/git/trees/{tree_sha}"
    return 200, {"sha": tree_sha, "url": url, "tree": items, "truncated": truncated}


def _walk_tree(fake: FakeGitHub, tree_sha: str, prefix: str, recursive: bool) -> Any:
    for mode, kind, name, sha in fake.trees[tree_sha]:
        yield mode, kind, prefix + name, sha
        if kind == "tree" and recursive:
            yield from _walk_tree(fake, sha, f"{prefix}{name}/", recursive)


@route("GET", "/repos/{owner}/{repo}/git/blobs/{sha}")
def get_blob(ctx: Ctx) -> tuple[int, Any]:
    sha = ctx.params["sha"]
    data = ctx.fake.blobs.get(sha)
    if data is None:
        raise HttpError(404, "Not Found")
    return 200, {
        "sha": sha,
        "node_id": shapes.node_id("Blob", sha),
        "size": len(data),
        "url": f"{ctx.base}/repos/{ctx.repo.full_name}/git/blobs/{sha}",
        "content": base64.encodebytes(data).decode(),
        "encoding": "base64",
    }


@route("GET", "/repos/{owner}/{repo}/git/ref/{ref}")
def get_ref(ctx: Ctx) -> tuple[int, Any]:
    ref = "refs/" + ctx.params["ref"]
    sha = ctx.repo.branches.get(ref.removeprefix("refs/heads/"))
    if not ref.startswith("refs/heads/") or sha is None:
        raise HttpError(404, "Not Found")
    return 200, shapes.git_ref(ctx.base, ctx.repo, ref, sha)


@route("POST", "/repos/{owner}/{repo}/git/refs")
def create_ref(ctx: Ctx) -> tuple[int, Any]:
    ref, sha = ctx.body.get("ref", ""), ctx.body.get("sha", "")
    if not re.fullmatch(r"refs/heads/.+", ref):
        raise HttpError(422, "Reference name must start with 'refs/heads/' in this fake")
    if sha not in ctx.fake.commits:
        raise HttpError(422, "Object does not exist")
    branch = ref.removeprefix("refs/heads/")
    if branch in ctx.repo.branches:
        raise HttpError(422, "Reference already exists")
    ctx.repo.branches[branch] = sha
    ctx.fake.created_refs.append({"repo": ctx.repo.full_name, "ref": ref, "sha": sha})
    return 201, shapes.git_ref(ctx.base, ctx.repo, ref, sha)


@route("GET", "/repos/{owner}/{repo}/contents/{path}")
def get_contents(ctx: Ctx) -> tuple[int, Any]:
    fake, path = ctx.fake, ctx.params["path"].strip("/")
    commit_sha = fake.resolve(ctx.repo, ctx.query.get("ref"))
    if commit_sha is None:
        raise HttpError(404, f"No commit found for the ref {ctx.query.get('ref')}")
    files = fake.commits[commit_sha].files
    if path in files:
        blob = files[path]
        etag = f'"{blob}"'
        ctx.out_headers["etag"] = etag
        if etag in ctx.headers.get("if-none-match", ""):
            return 304, None
        return 200, shapes.content_file(ctx.base, ctx.repo, path, blob, fake.blobs[blob])
    children = sorted({p[len(path) + 1 :].split("/")[0] for p in files if p.startswith(path + "/")})
    if not children:
        raise HttpError(404, "Not Found")
    return 200, [
        shapes.content_entry(ctx.base, ctx.repo, f"{path}/{name}", files.get(f"{path}/{name}"))
        for name in children
    ]


@route("GET", "/repos/{owner}/{repo}/codeowners/errors")
def get_codeowners_errors(ctx: Ctx) -> tuple[int, Any]:
    """GitHub's own CODEOWNERS check, reduced to what the app reads: unknown users and teams."""
    fake = ctx.fake
    commit_sha = fake.resolve(ctx.repo, ctx.query.get("ref"))
    if commit_sha is None:
        raise HttpError(404, f"No commit found for the ref {ctx.query.get('ref')}")
    files = fake.commits[commit_sha].files
    path = next(
        (p for p in (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS") if p in files), None
    )
    if path is None:
        raise HttpError(404, "Not Found")
    errors = []
    for number, line in enumerate(fake.blobs[files[path]].decode().splitlines(), start=1):
        body = line.split(" #", 1)[0]
        if not body.strip() or body.lstrip().startswith("#"):
            continue
        for match in re.finditer(r"@([\w.-]+)(?:/([\w.-]+))?", body):
            if match.start() == 0 or body[match.start() - 1] not in " \t":
                continue
            login, slug = match.group(1), match.group(2)
            known = (login, slug) in fake.teams if slug else login in fake.users
            if not known:
                errors.append(
                    {
                        "line": number,
                        "column": match.start() + 1,
                        "kind": "Unknown owner",
                        "source": line,
                        "path": path,
                        "message": f"Unknown owner on line {number}: make sure {match.group(0)} exists "
                        "and has write access to the repository",
                    }
                )
    return 200, {"errors": errors}


@route("PUT", "/repos/{owner}/{repo}/contents/{path}")
def put_contents(ctx: Ctx) -> tuple[int, Any]:
    fake, repo, path, body = ctx.fake, ctx.repo, ctx.params["path"].strip("/"), ctx.body
    branch = body.get("branch") or repo.default_branch
    head = repo.branches.get(branch)
    if head is None:
        raise HttpError(404, f"Branch {branch} not found")
    existing = fake.commits[head].files.get(path)
    if existing and "sha" not in body:
        raise HttpError(422, 'Invalid request.\n\n"sha" wasn\'t supplied.')
    if existing and body["sha"] != existing:
        raise HttpError(409, f"{path} does not match {body['sha']}")
    data = base64.b64decode(body["content"])
    sha = fake.add_commit(repo.owner, repo.name, {path: data}, parent=head, message=body["message"])
    fake.push(repo.owner, repo.name, branch, sha)
    fake.content_writes.append(
        {
            "repo": repo.full_name,
            "path": path,
            "branch": branch,
            "message": body["message"],
            "content": data,
            "commit": sha,
        }
    )
    blob = fake.commits[sha].files[path]
    content = shapes.content_entry(ctx.base, repo, path, blob)
    written = {"content": content, "commit": shapes.commit(ctx.base, repo, fake.commits[sha])}
    return (200 if existing else 201), written


# ---- pull requests ----------------------------------------------------------------------------
@route("GET", "/repos/{owner}/{repo}/pulls/{number}")
def get_pull(ctx: Ctx) -> tuple[int, Any]:
    return 200, shapes.pull(ctx.base, ctx.fake, ctx.pull(), full=True)


@route("GET", "/repos/{owner}/{repo}/pulls")
def list_pulls(ctx: Ctx) -> tuple[int, Any]:
    state = ctx.query.get("state", "open")
    head, base = ctx.query.get("head"), ctx.query.get("base")
    pulls = [
        pr
        for (repo, _), pr in sorted(ctx.fake.pulls.items(), key=lambda kv: -kv[0][1])
        if repo == ctx.repo.full_name
        and state in ("all", pr.state)
        and (head is None or head.split(":")[-1] == pr.head_ref)
        and (base is None or base == pr.base_ref)
    ]
    return 200, _paginate(ctx, [shapes.pull(ctx.base, ctx.fake, pr) for pr in pulls])


@route("POST", "/repos/{owner}/{repo}/pulls")
def create_pull(ctx: Ctx) -> tuple[int, Any]:
    fake, repo, body = ctx.fake, ctx.repo, ctx.body
    head, base = body["head"].split(":")[-1], body["base"]
    if head not in repo.branches or base not in repo.branches:
        raise HttpError(422, "Validation Failed", [{"resource": "PullRequest", "code": "invalid"}])
    if repo.branches[head] == repo.branches[base]:
        raise HttpError(422, "Validation Failed", [f"No commits between {base} and {head}"])
    for pr in fake.pulls.values():
        if pr.repo == repo.full_name and pr.head_ref == head and pr.state == "open":
            raise HttpError(
                422,
                "Validation Failed",
                [f"A pull request already exists for {repo.owner}:{head}."],
            )
    pr = fake.open_pull(
        repo.owner, repo.name, head, base, body.get("title") or head, user=shapes.BOT
    )
    pr.body, pr.draft = body.get("body"), bool(body.get("draft"))
    return 201, shapes.pull(ctx.base, fake, pr, full=True)


@route("GET", "/repos/{owner}/{repo}/pulls/{number}/files")
def list_pull_files(ctx: Ctx) -> tuple[int, Any]:
    pr = ctx.pull()
    files = [shapes.diff_entry(ctx.base, ctx.repo, pr, f) for f in ctx.fake.changed_files(pr)]
    return 200, _paginate(ctx, files)


@route("POST", "/repos/{owner}/{repo}/pulls/{number}/requested_reviewers")
def request_reviewers(ctx: Ctx) -> tuple[int, Any]:
    pr, repo, fake = ctx.pull(), ctx.repo, ctx.fake
    users, teams = ctx.body.get("reviewers", []), ctx.body.get("team_reviewers", [])
    if pr.user in users:
        raise HttpError(422, "Review cannot be requested from pull request author.")
    strangers = [u for u in users if u not in repo.collaborators]
    strangers += [t for t in teams if (repo.owner, t) not in fake.teams]
    if strangers:
        raise HttpError(
            422,
            "Reviews may only be requested from collaborators. One or more of "
            f"the users or teams you specified is not a collaborator of the "
            f"{repo.full_name} repository.",
        )
    pr.requested_reviewers += [u for u in users if u not in pr.requested_reviewers]
    pr.requested_teams += [t for t in teams if t not in pr.requested_teams]
    return 201, shapes.pull(ctx.base, fake, pr)


# ---- reviews and review comments ------------------------------------------------------------
@route("POST", "/repos/{owner}/{repo}/pulls/{number}/reviews")
def create_review(ctx: Ctx) -> tuple[int, Any]:
    fake, pr, body = ctx.fake, ctx.pull(), ctx.body or {}
    event = body.get("event")
    if event == "REQUEST_CHANGES" and not body.get("body"):
        raise HttpError(422, "Unprocessable Entity", ["Body is required for REQUEST_CHANGES"])
    commit_id = body.get("commit_id") or pr.head_sha
    for comment in body.get("comments", []):
        problem = _diff_problem(fake, pr, comment)
        if problem:
            fake.schema_violations.append(shapes.diff_violation(ctx.method, ctx.path, problem))
            raise HttpError(422, "Unprocessable Entity", [problem])
    state = {
        "APPROVE": "APPROVED",
        "REQUEST_CHANGES": "CHANGES_REQUESTED",
        "COMMENT": "COMMENTED",
    }.get(event or "", "PENDING")
    review = {
        "id": fake.next_id(),
        "repo": pr.repo,
        "number": pr.number,
        "commit_id": commit_id,
        "body": body.get("body", ""),
        "event": event,
        "state": state,
        "user": shapes.BOT,
        "submitted_at": now_iso(),
    }
    fake.reviews.append(review)
    for comment in body.get("comments", []):
        fake.review_comments.append(
            {
                "id": fake.next_id(),
                "repo": pr.repo,
                "number": pr.number,
                "review_id": review["id"],
                "path": comment["path"],
                "line": comment.get("line"),
                "position": comment.get("position"),
                "side": comment.get("side", "RIGHT"),
                "start_line": comment.get("start_line"),
                "body": comment["body"],
                "commit_id": commit_id,
                "user": shapes.BOT,
                "created_at": now_iso(),
            }
        )
    return 200, shapes.review(ctx.base, pr, review)


def _diff_problem(fake: FakeGitHub, pr: PullRequest, comment: dict[str, Any]) -> str | None:
    """Why GitHub would refuse this review comment, or None."""
    changed = {f.filename: f for f in fake.changed_files(pr)}
    if comment["path"] not in changed:
        return "Path could not be resolved"
    if "line" not in comment and "position" not in comment:
        return "Pull request review thread position or line is required"
    if "position" in comment and "line" not in comment:
        patch = changed[comment["path"]].patch or ""
        if not 1 <= comment["position"] < len(patch.split("\n")):
            return "Pull request review thread position is invalid"
        return None
    sides = fake.commentable_lines(pr, comment["path"])
    side = comment.get("side", "RIGHT")
    lines = [comment["line"], comment.get("start_line", comment["line"])]
    if side not in sides or any(line not in sides[side] for line in lines):
        return "Pull request review thread line must be part of the diff"
    return None


@route("GET", "/repos/{owner}/{repo}/pulls/{number}/reviews")
def list_reviews(ctx: Ctx) -> tuple[int, Any]:
    pr = ctx.pull()
    mine = [r for r in ctx.fake.reviews if (r["repo"], r["number"]) == (pr.repo, pr.number)]
    return 200, _paginate(ctx, [shapes.review(ctx.base, pr, r) for r in mine])


@route("GET", "/repos/{owner}/{repo}/pulls/{number}/comments")
def list_review_comments(ctx: Ctx) -> tuple[int, Any]:
    pr, fake = ctx.pull(), ctx.fake
    patches = {f.filename: f.patch or "" for f in fake.changed_files(pr)}
    mine = [c for c in fake.review_comments if (c["repo"], c["number"]) == (pr.repo, pr.number)]
    return 200, _paginate(
        ctx, [shapes.review_comment(ctx.base, pr, c, patches.get(c["path"], "")) for c in mine]
    )


# ---- issues: comments, labels, reactions ----------------------------------------------------
@route("GET", "/repos/{owner}/{repo}/issues/{number}/comments")
def list_issue_comments(ctx: Ctx) -> tuple[int, Any]:
    key = (ctx.repo.full_name, int(ctx.params["number"]))
    mine = [c for c in ctx.fake.issue_comments if (c["repo"], c["number"]) == key]
    return 200, _paginate(ctx, [shapes.issue_comment(ctx.base, c) for c in mine])


@route("POST", "/repos/{owner}/{repo}/issues/{number}/comments")
def create_issue_comment(ctx: Ctx) -> tuple[int, Any]:
    comment = {
        "id": ctx.fake.next_id(),
        "repo": ctx.repo.full_name,
        "number": int(ctx.params["number"]),
        "body": ctx.body["body"],
        "user": shapes.BOT,
        "created_at": now_iso(),
        "updated_at": now_iso(),
        "edits": 0,
    }
    ctx.fake.issue_comments.append(comment)
    return 201, shapes.issue_comment(ctx.base, comment)


def _issue_comment(ctx: Ctx) -> dict[str, Any]:
    for comment in ctx.fake.issue_comments:
        if comment["id"] == int(ctx.params["comment_id"]) and comment["repo"] == ctx.repo.full_name:
            return comment
    raise HttpError(404, "Not Found")


@route("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}")
def update_issue_comment(ctx: Ctx) -> tuple[int, Any]:
    comment = _issue_comment(ctx)
    if not isinstance(ctx.body, dict) or not isinstance(ctx.body.get("body"), str):
        raise HttpError(422, "Invalid request.", ["body is required"])
    comment.update(body=ctx.body["body"], updated_at=now_iso(), edits=comment["edits"] + 1)
    return 200, shapes.issue_comment(ctx.base, comment)


@route("POST", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions")
def create_reaction(ctx: Ctx) -> tuple[int, Any]:
    comment = _issue_comment(ctx)
    content = (ctx.body or {}).get("content")
    if content not in ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"):
        raise HttpError(422, "Invalid request.", [f"content {content!r} is not a reaction"])
    for reaction in ctx.fake.reactions:
        if reaction["comment_id"] == comment["id"] and reaction["content"] == content:
            return 200, shapes.reaction(ctx.base, reaction)
    reaction = {
        "id": ctx.fake.next_id(),
        "comment_id": comment["id"],
        "content": content,
        "user": shapes.BOT,
        "created_at": now_iso(),
    }
    ctx.fake.reactions.append(reaction)
    return 201, shapes.reaction(ctx.base, reaction)


@route("POST", "/repos/{owner}/{repo}/issues/{number}/labels")
def add_labels(ctx: Ctx) -> tuple[int, Any]:
    number = int(ctx.params["number"])
    pr = ctx.fake.pulls.get((ctx.repo.full_name, number))
    if pr is None:
        raise HttpError(404, "Not Found")
    for label in ctx.body["labels"]:
        name = label if isinstance(label, str) else label["name"]
        if name not in pr.labels:
            pr.labels.append(name)
    return 200, [shapes.label(ctx.base, ctx.repo, name) for name in pr.labels]


# ---- check runs -------------------------------------------------------------------------------
@route("POST", "/repos/{owner}/{repo}/check-runs")
def create_check_run(ctx: Ctx) -> tuple[int, Any]:
    body = ctx.body
    if body["head_sha"] not in ctx.fake.commits:
        raise HttpError(422, "Validation Failed", ["No commit found for SHA: " + body["head_sha"]])
    run: dict[str, Any] = {
        "id": ctx.fake.next_id(),
        "repo": ctx.repo.full_name,
        "name": body["name"],
        "head_sha": body["head_sha"],
        "status": body.get("status", "queued"),
        "conclusion": body.get("conclusion"),
        "started_at": body.get("started_at") or now_iso(),
        "completed_at": body.get("completed_at"),
        "details_url": body.get("details_url"),
        "external_id": body.get("external_id", ""),
        "output": {},
        "annotations": [],
        "actions": [],
        "updates": 0,
    }
    _apply_check_run(run, body)
    ctx.fake.check_runs.append(run)
    return 201, shapes.check_run(ctx.base, ctx.fake, run)


@route("PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}")
def update_check_run(ctx: Ctx) -> tuple[int, Any]:
    run = _check_run(ctx)
    run["updates"] += 1
    for key in (
        "name",
        "status",
        "conclusion",
        "started_at",
        "completed_at",
        "details_url",
        "external_id",
    ):
        if key in ctx.body:
            run[key] = ctx.body[key]
    _apply_check_run(run, ctx.body)
    return 200, shapes.check_run(ctx.base, ctx.fake, run)


def _apply_check_run(run: dict[str, Any], body: dict[str, Any]) -> None:
    if body.get("conclusion") and "status" not in body:
        run["status"] = "completed"  # GitHub: a conclusion implies completed
    if run["status"] == "completed" and not run["completed_at"]:
        run["completed_at"] = now_iso()
    output = body.get("output") or {}
    run["output"].update({k: output[k] for k in ("title", "summary", "text") if k in output})
    run["annotations"] += output.get("annotations", [])  # GitHub appends on every update
    if "actions" in body:
        run["actions"] = body["actions"]


def _check_run(ctx: Ctx) -> dict[str, Any]:
    for run in ctx.fake.check_runs:
        if run["id"] == int(ctx.params["check_run_id"]) and run["repo"] == ctx.repo.full_name:
            return run
    raise HttpError(404, "Not Found")


@route("GET", "/repos/{owner}/{repo}/check-runs/{check_run_id}")
def get_check_run(ctx: Ctx) -> tuple[int, Any]:
    return 200, shapes.check_run(ctx.base, ctx.fake, _check_run(ctx))


@route("GET", "/repos/{owner}/{repo}/check-runs/{check_run_id}/annotations")
def list_annotations(ctx: Ctx) -> tuple[int, Any]:
    run = _check_run(ctx)
    return 200, _paginate(ctx, [shapes.annotation(ctx.base, run, a) for a in run["annotations"]])


@route("GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs")
def list_check_runs(ctx: Ctx) -> tuple[int, Any]:
    sha = ctx.fake.resolve(ctx.repo, ctx.params["ref"])
    name, status = ctx.query.get("check_name"), ctx.query.get("status")
    runs = [
        r
        for r in ctx.fake.check_runs_for(sha or "", name)
        if r["repo"] == ctx.repo.full_name and status in (None, r["status"])
    ]
    runs.sort(key=lambda r: -r["id"])
    page = _paginate(ctx, [shapes.check_run(ctx.base, ctx.fake, r) for r in runs])
    return 200, {"total_count": len(runs), "check_runs": page}


# ---- people -----------------------------------------------------------------------------------
@route("GET", "/users/{username}")
def get_user(ctx: Ctx) -> tuple[int, Any]:
    login = ctx.params["username"]
    if login not in ctx.fake.users:
        raise HttpError(404, "Not Found")
    return 200, shapes.public_user(ctx.base, login, ctx.fake.users[login])


@route("GET", "/orgs/{org}/teams/{team_slug}")
def get_team(ctx: Ctx) -> tuple[int, Any]:
    key = (ctx.params["org"], ctx.params["team_slug"])
    if key not in ctx.fake.teams:
        raise HttpError(404, "Not Found")
    return 200, shapes.team(ctx.base, ctx.fake, *key)


@route("GET", "/orgs/{org}/teams/{team_slug}/memberships/{username}")
def get_membership(ctx: Ctx) -> tuple[int, Any]:
    members = ctx.fake.teams.get((ctx.params["org"], ctx.params["team_slug"]), {})
    user = ctx.params["username"]
    if user not in members:
        raise HttpError(404, "Not Found")
    url = f"{ctx.base}/orgs/{ctx.params['org']}/teams/{ctx.params['team_slug']}/memberships/{user}"
    return 200, {"url": url, "role": members[user], "state": "active"}


@route("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission")
def get_permission(ctx: Ctx) -> tuple[int, Any]:
    user = ctx.params["username"]
    if user not in ctx.fake.users:
        raise HttpError(404, "Not Found")
    permission = ctx.repo.collaborators.get(user, "none")
    role = {"none": "none"}.get(permission, permission)
    collaborator = {
        **shapes.user(ctx.base, user),
        "role_name": role,
        "permissions": shapes.permission_flags(permission),
    }
    return 200, {"permission": permission, "role_name": role, "user": collaborator}

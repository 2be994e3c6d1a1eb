"""The fake's state: plain Python objects that tests seed and inspect directly.

Git objects get git's real ids (blob, tree and commit hashing as `git hash-object` does them), so
SHAs in webhooks, trees and check runs look and behave like GitHub's. Pull request patches are
computed with difflib from the two commits; `commentable_lines` says which lines a review comment
may target, which is what GitHub enforces with "must be part of the diff".
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .schemas import SchemaBook, Violation

FILE_MODE = "100644"
TREE_MODE = "040000"
PR_FILES_CAP = 3000  # GitHub stops listing pull request files here


def git_hash(kind: str, data: bytes) -> str:
    """Git's object id: sha1 over `<kind> <len>\\0<data>`."""
    return hashlib.sha1(f"{kind} {len(data)}\0".encode() + data).hexdigest()


def now_iso() -> str:
    """The current time in GitHub's timestamp format."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Commit:
    sha: str
    tree: str
    parents: list[str]
    message: str
    files: dict[str, str]  # path -> blob sha (flattened tree, for quick reads)


@dataclass
class Repo:
    owner: str
    name: str
    id: int
    installation_id: int
    default_branch: str = "main"
    private: bool = True
    branches: dict[str, str] = field(default_factory=dict)  # name -> commit sha
    collaborators: dict[str, str] = field(default_factory=dict)  # login -> admin|write|read

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


@dataclass
class PullRequest:
    repo: str  # "owner/name"
    number: int
    id: int
    title: str
    user: str
    base_ref: str
    base_sha: str
    head_ref: str
    head_sha: str
    body: str | None = None
    state: str = "open"
    draft: bool = False
    labels: list[str] = field(default_factory=list)
    requested_reviewers: list[str] = field(default_factory=list)
    requested_teams: list[str] = field(default_factory=list)
    created_at: str = field(default_factory=now_iso)


@dataclass
class ChangedFile:
    filename: str
    status: str  # added | removed | modified
    sha: str | None
    additions: int
    deletions: int
    patch: str | None


@dataclass
class Call:
    """One request the fake answered: what the app did, as GitHub's logs would show it."""

    method: str
    path: str
    query: str
    status: int
    installation: int | None
    body: Any = None
    injected: bool = False  # answered by fail_next, not by the fake's logic
    unknown: bool = False  # no such endpoint in the fake


@dataclass
class Fault:
    method: str
    path_regex: re.Pattern[str]
    status: int
    times: int
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class HookDelivery:
    id: int
    guid: str
    event: str
    action: str | None
    status_code: int
    installation_id: int | None
    repository_id: int | None
    payload: dict[str, Any]
    delivered_at: str = field(default_factory=now_iso)
    redelivery: bool = False
    attempts: int = 0


@dataclass
class OAuthApp:
    """The app's OAuth client as the fake's sign-in pages know it (tests/fakegithub/oauth.py):
    who the authorize page signs in, issued codes and user tokens, and organisation members."""

    client_id: str = "Iv1.fakeclientid"
    client_secret: str = "fake-client-secret"
    sign_in_as: str | None = None  # the login /login/oauth/authorize signs in (None: refuses)
    codes: dict[str, tuple[str, str]] = field(default_factory=dict)  # code -> (login, redirect)
    tokens: dict[str, str] = field(default_factory=dict)  # user access token -> login
    org_members: dict[str, set[str]] = field(default_factory=dict)


class FakeGitHub:
    """Everything the fake GitHub knows. Seed it from tests; the server reads and writes it."""

    def __init__(self, schemas: SchemaBook | None = None, app_id: int = 4242) -> None:
        self.lock = threading.RLock()  # the server thread and the test thread share this state
        self.schemas = schemas or SchemaBook.empty()
        self.app_id = app_id
        self.app_slug = "ghapp"
        self.app_public_key: str | None = None
        self.installations: dict[int, dict[str, Any]] = {}  # id -> {account, type}
        self.repos: dict[str, Repo] = {}
        self.blobs: dict[str, bytes] = {}
        self.trees: dict[str, list[tuple[str, str, str, str]]] = {}  # sha -> (mode,type,name,sha)
        self.commits: dict[str, Commit] = {}
        self.pulls: dict[tuple[str, int], PullRequest] = {}
        self.users: dict[str, str] = {}  # login -> "User" | "Organization" | "Bot"
        self.teams: dict[tuple[str, str], dict[str, str]] = {}  # (org, slug) -> member -> role
        self.check_runs: list[dict[str, Any]] = []
        self.reviews: list[dict[str, Any]] = []
        self.review_comments: list[dict[str, Any]] = []
        self.issue_comments: list[dict[str, Any]] = []
        self.reactions: list[dict[str, Any]] = []
        self.created_refs: list[dict[str, Any]] = []
        self.content_writes: list[dict[str, Any]] = []
        self.hook_deliveries: list[HookDelivery] = []
        self.tokens: dict[str, int] = {}  # installation token -> installation id
        self.calls: list[Call] = []
        self.schema_violations: list[Violation] = []
        self.faults: list[Fault] = []
        self.oauth = OAuthApp()
        self.rate_limit = 5000  # x-ratelimit-limit per token: GitHub's for an installation
        self.rate_used: Counter[int | None] = Counter()  # calls per installation, so far
        self.rate_scanned = 0  # how many of `calls` rate_used has counted
        self.rate_window_ends = 0.0  # when the hour's quota resets (set by the first request)
        self._ids = itertools.count(1001)

    # ---- seeding -------------------------------------------------------------------------
    def next_id(self) -> int:
        """A fresh numeric id, unique across every kind of object in this fake."""
        return next(self._ids)

    def register_app(self, public_key_pem: str, app_id: int | None = None) -> None:
        """Trust JWTs signed by the matching private key (RS256) with iss == app id."""
        self.app_public_key = public_key_pem
        if app_id is not None:
            self.app_id = app_id

    def add_installation(
        self, installation_id: int, account: str, kind: str = "Organization"
    ) -> None:
        """An installation of the app on `account` (an org unless kind says "User")."""
        with self.lock:
            self.installations[installation_id] = {"account": account, "type": kind}
            self.users.setdefault(account, kind)

    def add_user(self, login: str, kind: str = "User") -> None:
        with self.lock:
            self.users[login] = kind

    def add_team(self, org: str, slug: str, members: dict[str, str] | None = None) -> None:
        """A team; members maps login -> "member" | "maintainer"."""
        with self.lock:
            self.teams[(org, slug)] = dict(members or {})
            for login in self.teams[(org, slug)]:
                self.users.setdefault(login, "User")

    def add_repo(
        self, owner: str, name: str, installation_id: int, default_branch: str = "main"
    ) -> Repo:
        with self.lock:
            repo = Repo(owner, name, self.next_id(), installation_id, default_branch)
            self.repos[repo.full_name] = repo
            self.users.setdefault(owner, "Organization")
            return repo

    def add_collaborator(
        self, owner: str, repo: str, login: str, permission: str = "write"
    ) -> None:
        with self.lock:
            self.repos[f"{owner}/{repo}"].collaborators[login] = permission
            self.users.setdefault(login, "User")

    def add_commit(
        self,
        owner: str,
        repo: str,
        files: dict[str, str | bytes | None],
        parent: str | None = None,
        branch: str | None = None,
        message: str = "change",
    ) -> str:
        """A commit whose tree is the parent's files updated by `files` (None deletes a path)."""
        with self.lock:
            merged = dict(self.commits[parent].files) if parent else {}
            for path, data in files.items():
                if data is None:
                    merged.pop(path, None)
                    continue
                raw = data.encode() if isinstance(data, str) else data
                sha = git_hash("blob", raw)
                self.blobs[sha] = raw
                merged[path] = sha
            tree = self._write_tree(merged)
            parents = [parent] if parent else []
            sha = git_hash("commit", _commit_text(tree, parents, message).encode())
            self.commits[sha] = Commit(sha, tree, parents, message, merged)
            if branch:
                self.repos[f"{owner}/{repo}"].branches[branch] = sha
            return sha

    def open_pull(
        self,
        owner: str,
        repo: str,
        head: str,
        base: str | None = None,
        title: str = "Change",
        user: str = "octocat",
        number: int | None = None,
    ) -> PullRequest:
        """A pull request from branch `head` into `base` (default branch when None)."""
        with self.lock:
            r = self.repos[f"{owner}/{repo}"]
            base = base or r.default_branch
            self.users.setdefault(user, "User")
            taken = [n for (name, n) in self.pulls if name == r.full_name]
            number = number or max(taken, default=0) + 1
            pr = PullRequest(
                r.full_name,
                number,
                self.next_id(),
                title,
                user,
                base,
                r.branches[base],
                head,
                r.branches[head],
            )
            self.pulls[(r.full_name, number)] = pr
            return pr

    def push(self, owner: str, repo: str, branch: str, sha: str) -> None:
        """Move a branch; open pull requests from or into it follow, as on GitHub."""
        with self.lock:
            self.repos[f"{owner}/{repo}"].branches[branch] = sha
            for pr in self.pulls.values():
                if pr.repo == f"{owner}/{repo}" and pr.head_ref == branch:
                    pr.head_sha = sha

    def add_hook_delivery(
        self, guid: str, event: str, payload: dict[str, Any], status_code: int = 500
    ) -> HookDelivery:
        """A delivery in the app's hook log (`GET /app/hook/deliveries`), failed by default."""
        with self.lock:
            repo = payload.get("repository") or {}
            delivery = HookDelivery(
                self.next_id(),
                guid,
                event,
                payload.get("action"),
                status_code,
                (payload.get("installation") or {}).get("id"),
                repo.get("id"),
                payload,
            )
            self.hook_deliveries.append(delivery)
            return delivery

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int,
        times: int = 1,
        headers: dict[str, str] | None = None,
        message: str | None = None,
    ) -> None:
        """Answer the next `times` matching requests with `status` instead of handling them."""
        default = "You have exceeded a secondary rate limit." if status in (403, 429) else "Boom"
        with self.lock:
            self.faults.append(
                Fault(
                    method.upper(),
                    re.compile(path_regex),
                    status,
                    times,
                    dict(headers or {}),
                    {
                        "message": message or default,
                        "documentation_url": "https://docs.github.com/rest",
                    },
                )
            )

    def expire_tokens(self) -> None:
        """Revoke every installation token (the app must mint new ones)."""
        with self.lock:
            self.tokens.clear()

    # ---- reading ---------------------------------------------------------------------------
    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.method == method and fault.path_regex.search(path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
            return None

    def resolve(self, repo: Repo, ref: str | None) -> str | None:
        """A commit sha for a branch name, `refs/heads/x`, or a (full) commit sha."""
        ref = ref or repo.default_branch
        ref = ref.removeprefix("refs/heads/")
        if ref in repo.branches:
            return repo.branches[ref]
        return ref if ref in self.commits else None

    def changed_files(self, pr: PullRequest) -> list[ChangedFile]:
        """The PR's files as GitHub lists them: sorted by path, with unified-diff patches."""
        old, new = self.commits[pr.base_sha].files, self.commits[pr.head_sha].files
        out = []
        for path in sorted(set(old) | set(new)):
            if old.get(path) == new.get(path):
                continue
            before = self.blobs[old[path]] if path in old else b""
            after = self.blobs[new[path]] if path in new else b""
            status = "added" if path not in old else "removed" if path not in new else "modified"
            patch, adds, dels = _patch(before, after)
            out.append(ChangedFile(path, status, new.get(path), adds, dels, patch))
        return out[:PR_FILES_CAP]

    def commentable_lines(self, pr: PullRequest, path: str) -> dict[str, set[int]]:
        """Lines a review comment may target, per side (RIGHT: new file, LEFT: old file)."""
        sides: dict[str, set[int]] = {"RIGHT": set(), "LEFT": set()}
        for changed in self.changed_files(pr):
            if changed.filename == path and changed.patch:
                for kind, old_no, new_no in patch_lines(changed.patch):
                    if kind in " +":
                        sides["RIGHT"].add(new_no)
                    if kind in " -":
                        sides["LEFT"].add(old_no)
        return sides

    def user_can_read(self, login: str, repo: Repo) -> bool:
        """What a GitHub App user token reaches: public repositories, and private ones the
        user collaborates on."""
        return not repo.private or login in repo.collaborators

    def installation_calls(self, installation: int) -> list[Call]:
        """Calls made with that installation's token."""
        return [c for c in self.calls if c.installation == installation]

    def counters(self) -> Counter[int | None]:
        """Number of calls per installation (None: app JWT or unauthenticated)."""
        return Counter(c.installation for c in self.calls)

    def unknown_calls(self) -> list[Call]:
        return [c for c in self.calls if c.unknown]

    def check_runs_for(self, head_sha: str, name: str | None = None) -> list[dict[str, Any]]:
        return [
            run
            for run in self.check_runs
            if run["head_sha"] == head_sha and (name is None or run["name"] == name)
        ]

    def _write_tree(self, files: dict[str, str]) -> str:
        children: dict[str, dict[str, str]] = {}
        entries: list[tuple[str, str, str, str]] = []
        for path, sha in files.items():
            head, _, rest = path.partition("/")
            if rest:
                children.setdefault(head, {})[rest] = sha
            else:
                entries.append((FILE_MODE, "blob", head, sha))
        for name, sub in children.items():
            entries.append((TREE_MODE, "tree", name, self._write_tree(sub)))
        # git orders entries by name, a directory sorting as if its name ended with "/"
        entries.sort(key=lambda e: e[2] + ("/" if e[1] == "tree" else ""))
        raw = b"".join(
            f"{mode.lstrip('0')} {name}\0".encode() + bytes.fromhex(sha)
            for mode, _, name, sha in entries
        )
        sha = git_hash("tree", raw)
        self.trees[sha] = entries
        return sha


def patch_lines(patch: str) -> list[tuple[str, int, int]]:
    """(kind, old line, new line) for every line of a unified diff; kind is ' ', '+' or '-'."""
    out: list[tuple[str, int, int]] = []
    old_no = new_no = 0
    for line in patch.split("\n"):
        hunk = re.match(r"@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@", line)
        if hunk:
            old_no, new_no = int(hunk[1]), int(hunk[2])
            continue
        kind = line[:1] or " "
        if kind == "\\":
            continue
        out.append((kind, old_no, new_no))
        old_no += kind in " -"
        new_no += kind in " +"
    return out


def _patch(before: bytes, after: bytes) -> tuple[str | None, int, int]:
    if b"\0" in before or b"\0" in after:
        return None, 0, 0  # GitHub gives binary files no patch
    old = before.decode(errors="replace").splitlines()
    new = after.decode(errors="replace").splitlines()
    body = list(difflib.unified_diff(old, new, lineterm="", n=3))[2:]  # drop ---/+++ headers
    adds = sum(1 for line in body if line.startswith("+"))
    dels = sum(1 for line in body if line.startswith("-"))
    return "\n".join(body), adds, dels


def _commit_text(tree: str, parents: list[str], message: str) -> str:
    who = "Octo Cat <octocat@example.com> 1700000000 +0000"
    lines = [f"tree {tree}", *(f"parent {p}" for p in parents), f"author {who}", f"committer {who}"]
    return "\n".join(lines) + f"\n\n{message}\n"

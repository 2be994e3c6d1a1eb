"""Helpers for the app's unit tests: a fresh RSA key, settings, signed requests, and a tiny
respx-backed GitHub that serves trees, blobs and PR files from dicts and records what is posted."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import httpx
import respx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

with warnings.catch_warnings():
    # Starlette 1.x warns that its TestClient prefers httpx2; httpx (0.28) still works.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from ghapp.app.webhooks import sign
from ghapp.settings import Settings

__all__ = ["TestClient"]

API = "https://api.github.test"
SECRET = "s3cret"


@lru_cache(maxsize=1)
def private_key_pem() -> str:
    """A fresh 2048-bit RSA key (once per test session)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_key_pem() -> bytes:
    key = serialization.load_pem_private_key(private_key_pem().encode(), password=None)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def make_settings(**changes: Any) -> Settings:
    values: dict[str, Any] = {
        "app_id": 42,
        "private_key": private_key_pem(),
        "webhook_secret": SECRET,
        "github_api_url": API,
    }
    values.update(changes)
    return Settings(**values)


def signed_headers(body: bytes, event: str, delivery: str = "d-1") -> dict[str, str]:
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign(SECRET, body),
        "Content-Type": "application/json",
    }


def blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()


@dataclass
class MiniGitHub:
    """Commits as {path: text}; PR files as dicts; everything posted is recorded."""

    commits: dict[str, dict[str, str]] = field(default_factory=dict)
    pr_files: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    review_comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    posted: list[tuple[str, str, Any]] = field(default_factory=list)
    token_calls: int = 0
    next_id: int = 1000

    def install(self, router: respx.Router) -> None:
        repo = r"/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)"
        router.post(url__regex=rf"{API}/app/installations/\d+/access_tokens").mock(
            side_effect=self._token
        )
        router.get(url__regex=rf"{API}{repo}/git/trees/(?P<sha>\w+)").mock(side_effect=self._tree)
        router.get(url__regex=rf"{API}{repo}/git/blobs/(?P<sha>\w+)").mock(side_effect=self._blob)
        router.get(url__regex=rf"{API}{repo}/pulls/(?P<n>\d+)/files").mock(side_effect=self._files)
        router.get(url__regex=rf"{API}{repo}/pulls/(?P<n>\d+)$").mock(side_effect=self._pull)
        router.get(url__regex=rf"{API}{repo}/pulls/(?P<n>\d+)/comments").mock(
            side_effect=self._comments
        )
        router.get(url__regex=rf"{API}{repo}/issues/\d+/comments").mock(
            return_value=httpx.Response(200, json=[])
        )
        router.get(url__regex=rf"{API}{repo}/contents/").mock(return_value=httpx.Response(404))
        router.get(url__regex=rf"{API}{repo}/codeowners/errors").mock(
            return_value=httpx.Response(200, json={"errors": []})
        )
        router.get(url__regex=rf"{API}{repo}/commits/\w+/check-runs").mock(
            return_value=httpx.Response(200, json={"total_count": 0, "check_runs": []})
        )
        for method in ("POST", "PATCH"):
            router.route(method=method, url__regex=rf"{API}/repos/").mock(side_effect=self._record)

    def _pull(self, request: httpx.Request, owner: str, name: str, n: str) -> httpx.Response:
        pull = self.pulls.get(int(n))
        return httpx.Response(200, json=pull) if pull else httpx.Response(404, json={})

    def _token(self, request: httpx.Request) -> httpx.Response:
        self.token_calls += 1
        return httpx.Response(
            201, json={"token": f"tok-{self.token_calls}", "expires_at": "2099-01-01T00:00:00Z"}
        )

    def _tree(self, request: httpx.Request, owner: str, name: str, sha: str) -> httpx.Response:
        files = self.commits.get(sha)
        if files is None:
            return httpx.Response(404, json={"message": "Not Found"})
        tree = [
            {"path": p, "type": "blob", "sha": blob_sha(t.encode()), "size": len(t.encode())}
            for p, t in files.items()
        ]
        return httpx.Response(200, json={"sha": sha, "tree": tree, "truncated": False})

    def _blob(self, request: httpx.Request, owner: str, name: str, sha: str) -> httpx.Response:
        for files in self.commits.values():
            for text in files.values():
                if blob_sha(text.encode()) == sha:
                    content = base64.b64encode(text.encode()).decode()
                    return httpx.Response(200, json={"content": content, "encoding": "base64"})
        return httpx.Response(404, json={"message": "Not Found"})

    def _files(self, request: httpx.Request, owner: str, name: str, n: str) -> httpx.Response:
        page = int(request.url.params.get("page", "1"))
        per_page = int(request.url.params.get("per_page", "30"))
        files = self.pr_files.get(int(n), [])
        return httpx.Response(200, json=files[(page - 1) * per_page : page * per_page])

    def _comments(self, request: httpx.Request, owner: str, name: str, n: str) -> httpx.Response:
        return httpx.Response(200, json=self.review_comments.get(int(n), []))

    def _record(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        path = re.sub(r"^/repos/[^/]+/[^/]+", "", request.url.path)
        self.posted.append((request.method, path, body))
        self.next_id += 1
        return httpx.Response(201 if request.method == "POST" else 200, json={"id": self.next_id})

    def calls_to(self, method: str, suffix: str) -> list[Any]:
        return [body for m, path, body in self.posted if m == method and path.endswith(suffix)]


def pr_payload(
    number: int, head: str, base: str, action: str = "synchronize", installation: int = 7
) -> dict[str, Any]:
    return {
        "action": action,
        "number": number,
        "pull_request": {
            "number": number,
            "state": "open",
            "user": {"login": "alice", "type": "User"},
            "head": {"sha": head, "ref": "feature"},
            "base": {"sha": base, "ref": "main"},
        },
        "repository": {"full_name": "acme/shop", "default_branch": "main"},
        "installation": {"id": installation},
        "sender": {"login": "alice", "type": "User"},
    }


def latest_tag_evaluator(head: Any, *, catalog: Any, today: Any, base: Any = None, **_: Any) -> Any:
    """A stand-in for the core's evaluate: one error per `:latest` line in a changed YAML file,
    new unless the base has the same line; CODEOWNERS `* @team` gives the owner."""
    from ghapp.core.model import FileOwners, Finding, Report

    changed = _.get("changed")
    owners_text = (head.read(".github/CODEOWNERS") or b"").decode()
    owners = tuple(owners_text.split()[1:]) if owners_text.startswith("*") else ()
    findings = []
    for path in sorted(changed if changed is not None else head.paths()):
        if not path.endswith((".yaml", ".yml")):
            continue
        text = (head.read(path) or b"").decode()
        before = (base.read(path) or b"").decode() if base is not None else ""
        for n, line in enumerate(text.splitlines(), 1):
            if ":latest" in line:
                findings.append(
                    Finding(
                        rule="k8s/latest-tag",
                        severity="error",
                        message="image uses :latest",
                        path=path,
                        line=n,
                        owners=owners,
                        subject=line.strip(),
                        new=line not in before.splitlines(),
                    )
                )
    conclusion = "failure" if any(f.new for f in findings) else "success"
    files = tuple(FileOwners(p, owners, 1, "*") for p in sorted(changed or ()))
    return Report(conclusion, tuple(findings), files=files, policy_configured=True)

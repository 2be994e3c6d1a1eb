"""GitHubSnapshot: one tree call per commit, blobs fetched once per SHA, PR files paginated."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import respx

from ghapp.github.client import GitHubFactory, InstallationClient
from ghapp.github.errors import RetryableError
from ghapp.github.snapshot import (
    PR_FILES_LIMIT,
    BlobCache,
    Caches,
    GitHubSnapshot,
    load_changed_files,
    wanted_paths,
)
from tests.apphelpers import API, MiniGitHub, make_settings

FILES = {
    ".github/CODEOWNERS": "* @acme/core\n",
    ".github/workflows/ci.yml": "on: push\n",
    "deploy/app.yaml": "kind: Deployment\n",
    "src/main.py": "print('hi')\n",
}


@pytest.fixture
def github() -> MiniGitHub:
    gh = MiniGitHub(commits={"c1": dict(FILES), "c2": {**FILES, "src/new.py": "x = 1\n"}})
    with respx.mock(assert_all_called=False) as router:
        gh.install(router)
        yield gh


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def client() -> InstallationClient:
    return await GitHubFactory(make_settings()).installation(7)


def blob_calls(factory_client: InstallationClient) -> int:
    return sum(1 for *_, path in factory_client._factory.counter.calls if "/git/blobs/" in path)


def test_paths_and_sizes_come_from_one_tree_call(github: MiniGitHub) -> None:
    async def go() -> tuple[Any, ...]:
        c = await client()
        snap = await GitHubSnapshot.load(c, "acme/shop", "c1", Caches())
        return tuple(snap.paths()), snap.size("src/main.py"), snap.size("nope"), c

    paths, size, missing, c = run(go())
    assert paths == tuple(sorted(FILES))
    assert (size, missing) == (len(FILES["src/main.py"]), None)
    assert [p for *_, p in c._factory.counter.calls if "trees" in p] == [
        "/repos/acme/shop/git/trees/c1"
    ]


def test_prefetch_fetches_what_the_core_reads_and_read_uses_it(github: MiniGitHub) -> None:
    async def go() -> tuple[int, bytes | None, int]:
        c = await client()
        snap = await GitHubSnapshot.load(c, "acme/shop", "c1", Caches())
        fetched = await snap.prefetch()
        return fetched, snap.read("deploy/app.yaml"), blob_calls(c)

    fetched, data, calls = run(go())
    assert fetched == 3 and calls == 3  # CODEOWNERS, workflow, k8s YAML; not src/main.py
    assert data == b"kind: Deployment\n"


def test_an_unchanged_blob_is_never_fetched_twice_across_commits(github: MiniGitHub) -> None:
    caches = Caches()

    async def go() -> int:
        c = await client()
        for sha in ("c1", "c2"):
            snap = await GitHubSnapshot.load(c, "acme/shop", sha, caches)
            await snap.prefetch()
        return blob_calls(c)

    assert run(go()) == 3


def test_tree_is_cached_by_commit(github: MiniGitHub) -> None:
    caches = Caches()

    async def go() -> int:
        c = await client()
        for _ in range(3):
            await GitHubSnapshot.load(c, "acme/shop", "c1", caches)
        return c._factory.counter.total

    assert run(go()) == 2  # token + one tree


def test_unprefetched_read_from_a_worker_thread_fetches_lazily(github: MiniGitHub) -> None:
    async def go() -> tuple[bytes | None, bytes | None, int]:
        c = await client()
        snap = await GitHubSnapshot.load(c, "acme/shop", "c1", Caches())
        data = await asyncio.to_thread(snap.read, "src/main.py")
        missing = await asyncio.to_thread(snap.read, "src/absent.py")
        return data, missing, snap.lazy_reads

    assert run(go()) == (b"print('hi')\n", None, 1)


def test_unprefetched_read_on_the_loop_thread_is_a_clear_error(github: MiniGitHub) -> None:
    async def go() -> None:
        c = await client()
        snap = await GitHubSnapshot.load(c, "acme/shop", "c1", Caches())
        snap.read("src/main.py")

    with pytest.raises(RuntimeError, match="not prefetched"):
        run(go())


def test_truncated_tree_carries_a_note() -> None:
    with respx.mock() as router:
        router.post(f"{API}/app/installations/7/access_tokens").respond(
            201, json={"token": "t", "expires_at": "2099-01-01T00:00:00Z"}
        )
        router.get(f"{API}/repos/acme/big/git/trees/c9").respond(
            200,
            json={
                "sha": "c9",
                "truncated": True,
                "tree": [{"path": "a", "type": "blob", "sha": "1", "size": 1}],
            },
        )

        async def go() -> str | None:
            snap = await GitHubSnapshot.load(await client(), "acme/big", "c9", Caches())
            return snap.tree.note

        note = run(go())
    assert note is not None and "100,000 entries" in note


@pytest.mark.parametrize(
    ("count", "pages", "truncated"),
    [(0, 1, False), (99, 1, False), (100, 2, False), (250, 3, False), (3500, 30, True)],
)
def test_pr_files_are_paginated_and_stop_at_githubs_limit(
    count: int, pages: int, truncated: bool
) -> None:
    gh = MiniGitHub(pr_files={5: [{"filename": f"f{i}", "status": "added"} for i in range(count)]})
    with respx.mock(assert_all_called=False) as router:
        gh.install(router)

        async def go() -> tuple[Any, int]:
            c = await client()
            files = await load_changed_files(c, "acme/shop", 5)
            return files, sum(1 for *_, p in c._factory.counter.calls if p.endswith("/files"))

        files, calls = run(go())
    assert calls == pages
    assert len(files.files) == min(count, PR_FILES_LIMIT)
    assert files.truncated is truncated and (files.note is not None) is truncated


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("CODEOWNERS", True),
        ("docs/CODEOWNERS", True),
        ("services/pay/catalog-info.yaml", True),
        ("opslevel.yml", True),
        (".github/workflows/ci.yml", True),
        (".github/ghapp.yml", True),
        ("k8s/deployment.yaml", True),
        ("src/main.py", False),
        ("README.md", False),
    ],
)
def test_prefetch_selection(path: str, wanted: bool) -> None:
    assert (wanted_paths([path]) == [path]) is wanted


def test_blob_cache_is_bounded_by_bytes() -> None:
    cache = BlobCache(max_bytes=10)
    cache.put("a", b"12345")
    cache.put("b", b"12345")
    cache.get("a")  # a is now the most recent
    cache.put("c", b"123")
    assert cache.get("b") is None and cache.get("a") == b"12345" and cache.get("c") == b"123"
    cache.put("huge", b"x" * 11)
    assert cache.get("huge") is None


def test_blob_endpoint_error_propagates_from_lazy_read() -> None:
    with respx.mock() as router:
        router.post(f"{API}/app/installations/7/access_tokens").respond(
            201, json={"token": "t", "expires_at": "2099-01-01T00:00:00Z"}
        )
        router.get(f"{API}/repos/acme/x/git/trees/c1").respond(
            200, json={"tree": [{"path": "a.yaml", "type": "blob", "sha": "b1", "size": 3}]}
        )
        router.get(f"{API}/repos/acme/x/git/blobs/b1").mock(return_value=httpx.Response(503))

        async def go() -> None:
            snap = await GitHubSnapshot.load(await client(), "acme/x", "c1", Caches())
            await asyncio.to_thread(snap.read, "a.yaml")

        with pytest.raises(RetryableError):
            run(go())

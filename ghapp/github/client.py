"""The GitHub client: githubkit with App auth, per-installation tokens, errors the queue understands.

Each `GitHubFactory` owns its own githubkit cache strategy (githubkit's default cache is
process-wide, so two factories, or two tests, would otherwise share tokens) and turns off
githubkit's automatic retries: a rate limit becomes `RateLimited(delay=...)` and the queue
decides when to try again, instead of a handler sleeping for minutes. Calls go through
`InstallationClient.request`, which returns plain JSON (githubkit's typed models reject some
real responses) and counts every HTTP request in a `CallCounter`.
"""

from __future__ import annotations

import ssl
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from types import TracebackType
from typing import Any

import certifi
import httpx
from githubkit import AppAuthStrategy, GitHub
from githubkit.cache import MemCacheStrategy
from githubkit.exception import RequestError, RequestFailed

from ghapp.github.auth import (
    Clock,
    InstallationToken,
    InstallationTokens,
    load_private_key,
    parse_expiry,
)
from ghapp.github.budget import RateBudget
from ghapp.github.errors import (
    Forbidden,
    GitHubError,
    GitHubUnavailable,
    NotFound,
    RateLimited,
    Unprocessable,
)
from ghapp.settings import Settings

USER_AGENT = "ghapp"
TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class CallCounter:
    """Every HTTP request sent to GitHub: in total, per installation, and as a list of calls."""

    def __init__(self) -> None:
        self.by_installation: Counter[int | None] = Counter()
        self.calls: list[tuple[int | None, str, str]] = []
        # Called with (method, status, x-ratelimit-remaining, installation) per response,
        # e.g. the Prometheus metrics of `ghapp serve`.
        self.observers: list[Callable[[str, int, str | None, str], None]] = []

    @property
    def total(self) -> int:
        return len(self.calls)

    def record(self, installation_id: int | None, request: httpx.Request) -> None:
        self.by_installation[installation_id] += 1
        self.calls.append((installation_id, request.method, request.url.path))

    def reset(self) -> None:
        self.by_installation.clear()
        self.calls.clear()


class GitHubFactory:
    """Makes clients: one authenticated as the App (JWT), one per installation (token)."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        counter: CallCounter | None = None,
    ) -> None:
        self.settings = settings
        self.clock: Clock = clock or (lambda: datetime.now(UTC))
        self.counter = counter or CallCounter()
        self.budget = RateBudget()  # the quota each installation's responses report
        self._cache = MemCacheStrategy()  # this factory's own JWT cache
        self.tokens = InstallationTokens(self._mint_token, self.clock)
        self._app = self._github(
            # pyjwt accepts the parsed key object as well as PEM text.
            AppAuthStrategy(settings.app_id, load_private_key(settings.private_key)),
            installation_id=None,
        )

    def app(self) -> InstallationClient:
        """A client authenticated as the App itself (JWT): /app, /app/installations, hooks."""
        return InstallationClient(self._app, None, self)

    async def installation(self, installation_id: int) -> InstallationClient:
        """A client for one installation, with a cached (or freshly minted) token."""
        token = await self.tokens.get(installation_id)
        return InstallationClient(self._github(token, installation_id), installation_id, self)

    async def _mint_token(self, installation_id: int) -> InstallationToken:
        data = await self.app().request(
            "POST", f"/app/installations/{installation_id}/access_tokens"
        )
        return InstallationToken(str(data["token"]), parse_expiry(str(data["expires_at"])))

    def _github(self, auth: Any, installation_id: int | None) -> GitHub[Any]:
        async def count(request: httpx.Request) -> None:
            self.counter.record(installation_id, request)

        async def observe(response: httpx.Response) -> None:
            self.budget.observe(installation_id, response.headers)
            for observer in self.counter.observers:
                observer(
                    response.request.method,
                    response.status_code,
                    response.headers.get("x-ratelimit-remaining"),
                    str(installation_id or ""),
                )

        return GitHub(
            auth,
            base_url=self.settings.github_api_url + "/",
            user_agent=USER_AGENT,
            timeout=TIMEOUT,
            ssl_verify=tls_context(),
            cache_strategy=self._cache,
            http_cache=False,
            auto_retry=False,
            async_event_hooks={"request": [count], "response": [observe]},
        )


@lru_cache(maxsize=1)
def tls_context() -> ssl.SSLContext:
    """One TLS context for the process: githubkit opens an HTTP client per request outside
    `async with`, and loading the CA bundle each time costs about 0.1 s."""
    return ssl.create_default_context(cafile=certifi.where())


class InstallationClient:
    """Raw REST calls (JSON in, JSON out) with errors mapped to ghapp.github.errors.

    Use `async with client:` to reuse one HTTP connection pool for a whole delivery.
    """

    def __init__(
        self, gh: GitHub[Any], installation_id: int | None, factory: GitHubFactory
    ) -> None:
        self.gh = gh
        self.installation_id = installation_id
        self._factory = factory

    async def __aenter__(self) -> InstallationClient:
        await self.gh.__aenter__()  # type: ignore[no-untyped-call]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.gh.__aexit__(exc_type, exc, tb)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        """Send one request; the decoded JSON body (None when empty)."""
        try:
            response = await self.gh.arequest(
                method, path.lstrip("/"), params=dict(params) if params else None, json=json
            )
        except RequestFailed as exc:
            raise self._translate(exc.response.raw_response, method, path) from None
        except RequestError as exc:
            raise GitHubUnavailable(
                f"{method} {path}: {type(exc.exc).__name__}: {exc.exc}", method=method, path=path
            ) from None
        raw = response.raw_response
        return raw.json() if raw.content else None

    def _translate(self, response: httpx.Response, method: str, path: str) -> GitHubError:
        status = response.status_code
        message = f"{method} {path}: {status} {_message(response)}"
        if status == 401 and self.installation_id is not None:
            self._factory.tokens.forget(self.installation_id)
            return GitHubUnavailable(message, status=status, method=method, path=path)
        delay = rate_limit_delay(response, self._factory.clock())
        if delay is not None:
            return RateLimited(message, delay=delay, status=status, method=method, path=path)
        kind: type[GitHubError] = GitHubError
        if status >= 500:
            kind = GitHubUnavailable
        elif status == 404:
            kind = NotFound
        elif status == 422:
            kind = Unprocessable
        elif status == 403:
            kind = Forbidden
        return kind(message, status=status, method=method, path=path)


def rate_limit_delay(response: httpx.Response, now: datetime) -> float | None:
    """Seconds to wait when a 403/429 is a rate limit (Retry-After, or quota 0 until reset)."""
    if response.status_code not in (403, 429):
        return None
    headers = response.headers
    retry_after = headers.get("retry-after", "").strip()
    if retry_after.isdigit():
        return float(retry_after)
    reset = headers.get("x-ratelimit-reset", "").strip()
    if headers.get("x-ratelimit-remaining") == "0" and reset.isdigit():
        return max(0.0, int(reset) - now.timestamp())
    if response.status_code == 429:
        return 60.0  # GitHub's advice when a secondary limit gives no header
    return None


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    return str(body.get("message", "")) if isinstance(body, dict) else response.reason_phrase


def new_counter_for(factory: GitHubFactory) -> Callable[[], int]:
    """A function giving the number of calls made since it was created (per delivery counts)."""
    start = factory.counter.total
    return lambda: factory.counter.total - start

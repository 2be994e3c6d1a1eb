"""The GitHub client: App JWT, cached installation tokens, errors mapped for the queue, counting."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
import respx

from ghapp.github.client import GitHubFactory, rate_limit_delay
from ghapp.github.errors import (
    Forbidden,
    GitHubUnavailable,
    NotFound,
    RateLimited,
    RetryableError,
    Unprocessable,
)
from tests.apphelpers import API, make_settings, public_key_pem

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
TOKEN_URL = f"{API}/app/installations/7/access_tokens"


def token_response(expires: datetime, token: str = "tok") -> httpx.Response:
    return httpx.Response(
        201, json={"token": token, "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}
    )


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def mock() -> respx.MockRouter:
    with respx.mock(assert_all_called=False) as router:
        yield router


def test_token_request_is_signed_with_a_short_lived_rs256_jwt(mock: respx.MockRouter) -> None:
    route = mock.post(TOKEN_URL).mock(return_value=token_response(NOW + timedelta(hours=1)))
    asyncio.run(GitHubFactory(make_settings()).installation(7))
    scheme, _, token = route.calls[0].request.headers["authorization"].partition(" ")
    claims = jwt.decode(token, public_key_pem(), algorithms=["RS256"])
    assert scheme == "Bearer" and claims["iss"] == "42"
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    assert 0 < claims["exp"] - claims["iat"] <= 600
    assert claims["iat"] <= datetime.now(UTC).timestamp() - 50  # back-dated against clock drift


def test_installation_token_is_cached_per_installation(mock: respx.MockRouter) -> None:
    route = mock.post(TOKEN_URL).mock(return_value=token_response(NOW + timedelta(hours=1)))
    mock.get(f"{API}/repos/acme/shop").respond(200, json={"ok": True})
    factory = GitHubFactory(make_settings(), clock=Clock(NOW))

    async def two_clients() -> None:
        for _ in range(2):
            client = await factory.installation(7)
            await client.request("GET", "/repos/acme/shop")

    asyncio.run(two_clients())
    assert route.call_count == 1
    assert factory.counter.by_installation[7] == 2 and factory.counter.total == 3


def test_token_is_renewed_five_minutes_before_it_expires(mock: respx.MockRouter) -> None:
    route = mock.post(TOKEN_URL).mock(return_value=token_response(NOW + timedelta(minutes=30)))
    clock = Clock(NOW)
    factory = GitHubFactory(make_settings(), clock=clock)
    asyncio.run(factory.installation(7))
    clock.now = NOW + timedelta(minutes=24)
    asyncio.run(factory.installation(7))
    assert route.call_count == 1
    clock.now = NOW + timedelta(minutes=25, seconds=1)
    asyncio.run(factory.installation(7))
    assert route.call_count == 2


def test_concurrent_callers_mint_one_token(mock: respx.MockRouter) -> None:
    route = mock.post(TOKEN_URL).mock(return_value=token_response(NOW + timedelta(hours=1)))
    factory = GitHubFactory(make_settings(), clock=Clock(NOW))

    async def many() -> None:
        await asyncio.gather(*(factory.installation(7) for _ in range(5)))

    asyncio.run(many())
    assert route.call_count == 1


def test_two_factories_do_not_share_tokens(mock: respx.MockRouter) -> None:
    route = mock.post(TOKEN_URL).mock(return_value=token_response(NOW + timedelta(hours=1)))
    asyncio.run(GitHubFactory(make_settings()).installation(7))
    asyncio.run(GitHubFactory(make_settings()).installation(7))
    assert route.call_count == 2


def test_ghes_base_url_keeps_its_api_prefix(mock: respx.MockRouter) -> None:
    ghes = "https://ghe.example.com/api/v3"
    mock.post(f"{ghes}/app/installations/7/access_tokens").mock(
        return_value=token_response(NOW + timedelta(hours=1))
    )
    repo = mock.get(f"{ghes}/repos/acme/shop").respond(200, json={"id": 1})

    async def call() -> object:
        client = await GitHubFactory(make_settings(github_api_url=ghes)).installation(7)
        return await client.request("GET", "/repos/acme/shop")

    assert asyncio.run(call()) == {"id": 1}
    assert repo.calls[0].request.headers["authorization"] == "token tok"


@pytest.mark.parametrize(
    ("response", "error", "delay"),
    [
        (httpx.Response(403, headers={"retry-after": "30"}), RateLimited, 30.0),
        (httpx.Response(429, headers={"retry-after": "7"}), RateLimited, 7.0),
        (
            httpx.Response(
                403,
                headers={
                    "x-ratelimit-remaining": "0",
                    "x-ratelimit-reset": str(int(NOW.timestamp()) + 120),
                },
            ),
            RateLimited,
            120.0,
        ),
        (httpx.Response(429), RateLimited, 60.0),
        (httpx.Response(502), GitHubUnavailable, None),
        (httpx.Response(404, json={"message": "Not Found"}), NotFound, None),
        (httpx.Response(422, json={"message": "Validation Failed"}), Unprocessable, None),
        (httpx.Response(403, json={"message": "Resource not accessible"}), Forbidden, None),
    ],
    ids=[
        "403-retry-after",
        "429-retry-after",
        "quota-reset",
        "429-bare",
        "502",
        "404",
        "422",
        "403",
    ],
)
def test_error_statuses_map_to_what_the_queue_should_do(
    mock: respx.MockRouter, response: httpx.Response, error: type[Exception], delay: float | None
) -> None:
    mock.post(TOKEN_URL).mock(return_value=token_response(NOW + timedelta(hours=1)))
    mock.get(f"{API}/repos/acme/shop").mock(return_value=response)

    async def call() -> None:
        client = await GitHubFactory(make_settings(), clock=Clock(NOW)).installation(7)
        await client.request("GET", "/repos/acme/shop")

    with pytest.raises(error) as caught:
        asyncio.run(call())
    assert isinstance(caught.value, RetryableError) == (
        delay is not None or error is GitHubUnavailable
    )
    if delay is not None:
        assert caught.value.delay == pytest.approx(delay, abs=1)  # type: ignore[attr-defined]


def test_network_error_is_retryable(mock: respx.MockRouter) -> None:
    mock.post(TOKEN_URL).mock(return_value=token_response(NOW + timedelta(hours=1)))
    mock.get(f"{API}/repos/acme/shop").mock(side_effect=httpx.ConnectError("refused"))

    async def call() -> None:
        client = await GitHubFactory(make_settings()).installation(7)
        await client.request("GET", "/repos/acme/shop")

    with pytest.raises(GitHubUnavailable):
        asyncio.run(call())


def test_refused_token_is_forgotten_and_retryable(mock: respx.MockRouter) -> None:
    route = mock.post(TOKEN_URL).mock(return_value=token_response(NOW + timedelta(hours=1)))
    mock.get(f"{API}/repos/acme/shop").respond(401, json={"message": "Bad credentials"})
    factory = GitHubFactory(make_settings(), clock=Clock(NOW))

    async def call() -> None:
        client = await factory.installation(7)
        await client.request("GET", "/repos/acme/shop")

    for _ in range(2):
        with pytest.raises(GitHubUnavailable):
            asyncio.run(call())
    assert route.call_count == 2


def test_rate_limit_delay_ignores_non_limit_statuses() -> None:
    assert rate_limit_delay(httpx.Response(500, headers={"retry-after": "5"}), NOW) is None

"""Webhook intake: signature and parsing as pure functions, then the HTTP surface end to end."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ghapp.app.delivery import Delivery
from ghapp.app.server import create_app
from ghapp.app.webhooks import (
    HeadersMissing,
    PayloadInvalid,
    SignatureInvalid,
    SignatureMissing,
    parse_delivery,
    sign,
    verify_signature,
)
from tests.apphelpers import SECRET, TestClient, make_settings, signed_headers

NOW = datetime(2024, 5, 1, tzinfo=UTC)
BODY = json.dumps(
    {
        "action": "opened",
        "installation": {"id": 9},
        "repository": {"full_name": "acme/shop"},
    }
).encode()


class RecordingSink:
    def __init__(self, fail: bool = False) -> None:
        self.deliveries: list[Delivery] = []
        self.fail = fail

    async def accept(self, delivery: Delivery) -> bool:
        if self.fail:
            raise RuntimeError("database is down")
        if any(d.id == delivery.id for d in self.deliveries):
            return False
        self.deliveries.append(delivery)
        return True


def test_valid_signature_passes() -> None:
    verify_signature(SECRET, BODY, sign(SECRET, BODY))


@pytest.mark.parametrize(
    ("header", "error"),
    [
        (None, SignatureMissing),
        ("", SignatureMissing),
        ("sha256=" + "0" * 64, SignatureInvalid),
        ("sha256=", SignatureInvalid),
        ("sha1=" + hmac.new(SECRET.encode(), BODY, hashlib.sha1).hexdigest(), SignatureInvalid),
        (sign("other-secret", BODY), SignatureInvalid),
        (sign(SECRET, BODY + b" "), SignatureInvalid),
    ],
    ids=["absent", "empty", "forged", "no-digest", "sha1", "wrong-secret", "body-changed"],
)
def test_bad_signature_is_refused(header: str | None, error: type[Exception]) -> None:
    with pytest.raises(error):
        verify_signature(SECRET, BODY, header)


def test_parse_delivery_reads_headers_and_raw_json() -> None:
    headers = {"X-GitHub-Delivery": "abc", "X-GitHub-Event": "pull_request"}
    delivery = parse_delivery(headers, BODY, NOW)
    assert (delivery.id, delivery.event, delivery.action) == ("abc", "pull_request", "opened")
    assert (delivery.installation_id, delivery.repository) == (9, "acme/shop")
    assert delivery.payload == BODY and delivery.received_at == NOW


def test_parse_delivery_tolerates_payloads_without_installation_or_repository() -> None:
    delivery = parse_delivery({"x-github-delivery": "a", "x-github-event": "ping"}, b"{}", NOW)
    assert (delivery.action, delivery.installation_id, delivery.repository) == (None, None, None)


@pytest.mark.parametrize(
    ("headers", "body", "error"),
    [
        ({"X-GitHub-Event": "push"}, b"{}", HeadersMissing),
        ({"X-GitHub-Delivery": "a"}, b"{}", HeadersMissing),
        ({"X-GitHub-Delivery": "a", "X-GitHub-Event": "push"}, b"{not json", PayloadInvalid),
        ({"X-GitHub-Delivery": "a", "X-GitHub-Event": "push"}, b"[1, 2]", PayloadInvalid),
        ({"X-GitHub-Delivery": "a", "X-GitHub-Event": "push"}, b"\xff\xfe", PayloadInvalid),
    ],
)
def test_parse_delivery_refuses_bad_input(
    headers: dict[str, str], body: bytes, error: type[Exception]
) -> None:
    with pytest.raises(error):
        parse_delivery(headers, body, NOW)


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def client(sink: RecordingSink) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(max_body_bytes=10_000), sink)) as test_client:
        yield test_client


def test_signed_delivery_is_accepted(client: TestClient, sink: RecordingSink) -> None:
    response = client.post("/webhooks", content=BODY, headers=signed_headers(BODY, "pull_request"))
    assert response.status_code == 202
    assert [d.id for d in sink.deliveries] == ["d-1"]


def test_redelivery_of_the_same_id_is_a_duplicate(client: TestClient) -> None:
    headers = signed_headers(BODY, "pull_request")
    assert client.post("/webhooks", content=BODY, headers=headers).status_code == 202
    response = client.post("/webhooks", content=BODY, headers=headers)
    assert (response.status_code, response.json()) == (200, {"duplicate": True})


def test_forged_signature_is_401(client: TestClient, sink: RecordingSink) -> None:
    headers = signed_headers(BODY, "pull_request") | {"X-Hub-Signature-256": "sha256=" + "a" * 64}
    assert client.post("/webhooks", content=BODY, headers=headers).status_code == 401
    assert sink.deliveries == []


def test_sha1_only_signature_is_401(client: TestClient) -> None:
    headers = signed_headers(BODY, "pull_request")
    del headers["X-Hub-Signature-256"]
    headers["X-Hub-Signature"] = "sha1=" + hmac.new(SECRET.encode(), BODY, hashlib.sha1).hexdigest()
    assert client.post("/webhooks", content=BODY, headers=headers).status_code == 401


def test_unparseable_json_is_400(client: TestClient) -> None:
    body = b"{oops"
    assert (
        client.post("/webhooks", content=body, headers=signed_headers(body, "push")).status_code
        == 400
    )


def test_missing_event_header_is_400(client: TestClient) -> None:
    headers = signed_headers(BODY, "push")
    del headers["X-GitHub-Event"]
    assert client.post("/webhooks", content=BODY, headers=headers).status_code == 400


def test_ping_is_answered_without_the_sink(client: TestClient, sink: RecordingSink) -> None:
    body = b'{"zen": "Keep it logically awesome.", "hook_id": 1}'
    response = client.post("/webhooks", content=body, headers=signed_headers(body, "ping"))
    assert response.status_code == 200 and sink.deliveries == []


def test_body_over_the_limit_by_content_length_is_413(client: TestClient) -> None:
    body = b"{" + b" " * 20_000 + b"}"
    response = client.post("/webhooks", content=body, headers=signed_headers(body, "push"))
    assert response.status_code == 413


def test_chunked_body_over_the_limit_is_413_while_streaming(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(30):
            yield b" " * 1000

    headers = signed_headers(b"", "push")
    response = client.post("/webhooks", content=chunks(), headers=headers)
    assert response.status_code == 413


def test_sink_failure_is_503_so_github_redelivers() -> None:
    with TestClient(create_app(make_settings(), RecordingSink(fail=True))) as failing:
        response = failing.post("/webhooks", content=BODY, headers=signed_headers(BODY, "push"))
    assert response.status_code == 503


def test_healthz_answers_while_the_process_lives(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"ok": True}


@pytest.mark.parametrize(
    ("answer", "status", "body"),
    [
        (None, 200, {"ready": True}),
        (
            "database unreachable: refused",
            503,
            {"ready": False, "reason": "database unreachable: refused"},
        ),
        (
            ConnectionError("no route"),
            503,
            {"ready": False, "reason": "readiness check failed: ConnectionError('no route')"},
        ),
    ],
)
def test_readyz_answers_503_with_the_reason_the_check_gives(
    answer: str | Exception | None, status: int, body: dict[str, object]
) -> None:
    async def ready() -> str | None:
        if isinstance(answer, Exception):
            raise answer
        return answer

    with TestClient(create_app(make_settings(), RecordingSink(), ready=ready)) as test_client:
        response = test_client.get("/readyz")
    assert (response.status_code, response.json()) == (status, body)


def test_readyz_reason_never_shows_a_password() -> None:
    async def ready() -> str | None:
        return "database unreachable: postgresql://u:pw@db:5432/ghapp refused"

    with TestClient(create_app(make_settings(), RecordingSink(), ready=ready)) as test_client:
        reason = test_client.get("/readyz").json()["reason"]
    assert "pw" not in reason and "postgresql://u:***@db:5432/ghapp" in reason


def test_webhooks_arrive_at_probots_path_by_default_and_at_the_legacy_path() -> None:
    sink = RecordingSink()
    with TestClient(create_app(make_settings(), sink)) as test_client:
        for n, path in enumerate(("/api/github/webhooks", "/webhooks")):
            headers = signed_headers(BODY, "push", delivery=f"d-{n}")
            assert test_client.post(path, content=BODY, headers=headers).status_code == 202
    assert [d.id for d in sink.deliveries] == ["d-0", "d-1"]


def test_webhook_path_is_configurable() -> None:
    sink = RecordingSink()
    with TestClient(create_app(make_settings(webhook_path="/hooks/gh"), sink)) as test_client:
        headers = signed_headers(BODY, "push")
        assert test_client.post("/hooks/gh", content=BODY, headers=headers).status_code == 202
        assert (
            test_client.post("/api/github/webhooks", content=BODY, headers=headers).status_code
            == 404
        )


def test_every_shared_fixture_payload_is_accepted(shared_fixtures: Path) -> None:
    index = json.loads((shared_fixtures / "webhooks" / "index.json").read_text())
    sink = RecordingSink()
    with TestClient(create_app(make_settings(), sink)) as test_client:
        for n, entry in enumerate(index["files"]):
            body = (shared_fixtures / "webhooks" / entry["file"]).read_bytes()
            headers = signed_headers(body, entry["event"], delivery=f"fixture-{n}")
            response = test_client.post("/webhooks", content=body, headers=headers)
            assert response.status_code == 202, entry["file"]
    assert [(d.event, d.action) for d in sink.deliveries] == [
        (e["event"], e["action"]) for e in index["files"]
    ]
    with_installation = [d.installation_id is not None for d in sink.deliveries]
    assert with_installation == [e["has_installation"] for e in index["files"]]


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        (
            "pull_request",
            {
                "action": "synchronize",
                "number": 7,
                "pull_request": {
                    "number": 7,
                    "head": {"sha": "abc"},
                    "updated_at": "2026-01-02T03:04:05Z",
                },
                "repository": {"full_name": "acme/shop"},
            },
        ),
        ("pull_request", {"action": "closed", "number": 7, "repository": {"full_name": "a/b"}}),
        ("push", {"ref": "refs/heads/main", "repository": {"full_name": "acme/shop"}}),
    ],
)
def test_intake_computes_the_queue_coalescing_fields_once(event: str, payload: dict) -> None:
    from dataclasses import replace

    from ghapp.store.queue import coalescing_fields

    body = json.dumps(payload).encode()
    headers = {"x-github-delivery": "c-1", "x-github-event": event}
    delivery = parse_delivery(headers, body, NOW)
    assert delivery.coalescing == coalescing_fields(replace(delivery, coalescing=None))

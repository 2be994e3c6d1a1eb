"""Intake under hostile clients, on a real uvicorn socket: a client that hangs up halfway costs one
short log line (no traceback), a body that trickles in is cut off, deep nesting is a clean 400."""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator

import pytest

from ghapp.app.server import create_app
from tests.apphelpers import TestClient, make_settings, signed_headers
from tests.fakegithub.harness import LOOPBACK, ServerThread
from tests.test_webhooks import RecordingSink

HANGUPS = 50


@pytest.fixture
def server() -> Iterator[ServerThread]:
    app = create_app(make_settings(), RecordingSink(), body_timeout=1.0)
    with ServerThread(app) as running:
        yield running


def open_post(port: int, content_length: int) -> socket.socket:
    sock = socket.create_connection((LOOPBACK, port), timeout=5)
    head = (
        f"POST /webhooks HTTP/1.1\r\nHost: {LOOPBACK}\r\nContent-Type: application/json\r\n"
        f"X-GitHub-Event: push\r\nX-GitHub-Delivery: d1\r\nContent-Length: {content_length}\r\n\r\n"
    )
    sock.sendall(head.encode())
    return sock


def test_clients_that_hang_up_mid_body_cost_a_line_each_and_no_traceback(
    server: ServerThread, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for _ in range(HANGUPS):
        sock = open_post(server.port, 5000)
        sock.sendall(b'{"half": "a bo')
        sock.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if sum("hung up" in r.getMessage() for r in caplog.records) >= HANGUPS:
            break
        time.sleep(0.05)
    assert [r for r in caplog.records if r.exc_info] == []
    assert sum("hung up" in r.getMessage() for r in caplog.records) == HANGUPS
    assert len(caplog.records) <= HANGUPS + 2


def test_a_body_that_trickles_in_is_cut_off_with_408(server: ServerThread) -> None:
    sock = open_post(server.port, 1000)
    sock.settimeout(0.2)
    started, answer = time.monotonic(), b""
    while time.monotonic() - started < 10 and not answer:
        try:
            sock.sendall(b" ")
            answer = sock.recv(4096)
        except TimeoutError:
            continue
        except OSError:
            break
    sock.close()
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b"did not arrive within 1 s" in answer
    assert time.monotonic() - started < 5


def test_a_body_nested_too_deeply_is_400_with_the_reason() -> None:
    depth = 100_000
    body = b'{"action": "opened", "x": ' + b"[" * depth + b"]" * depth + b"}"
    sink = RecordingSink()
    with TestClient(create_app(make_settings(), sink)) as client:
        response = client.post("/webhooks", content=body, headers=signed_headers(body, "push"))
        assert response.status_code == 400
        assert json.loads(response.text) == {"error": "body is nested too deeply to decode"}
        ok = json.dumps({"action": "opened"}).encode()
        assert client.post("/webhooks", content=ok, headers=signed_headers(ok, "push")).is_success
    assert len(sink.deliveries) == 1


def test_a_delivery_id_no_queue_can_store_is_400_with_the_reason() -> None:
    body = json.dumps({"action": "opened"}).encode()
    headers = signed_headers(body, "push")
    headers["X-GitHub-Delivery"] = "x" * 300
    with TestClient(create_app(make_settings(), RecordingSink())) as client:
        response = client.post("/webhooks", content=body, headers=headers)
    assert response.status_code == 400
    assert "X-GitHub-Delivery must be at most 100" in response.text

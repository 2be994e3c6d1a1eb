"""Webhook intake as plain functions over (headers, body, secret): no I/O, no framework.

Signature first (HMAC-SHA256 of the raw body, constant-time compare, never SHA-1), parsing
second. Each error carries the HTTP status intake should answer, so the server maps errors to
responses without knowing why they happened.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ghapp.app.delivery import Delivery

SIGNATURE_HEADER = "x-hub-signature-256"
# What the durable queue can store (ghapp.store.schema sizes its columns with these): a delivery
# whose headers exceed them is refused; payload fields that exceed them are left out.
MAX_NAME = 100  # X-GitHub-Delivery, X-GitHub-Event, action
MAX_REPOSITORY = 300  # "owner/name"
MAX_KEY = 320  # coalescing key "owner/name#123"
MAX_SHA = 64
MAX_BIGINT = 2**63 - 1
# pull_request actions that (re)evaluate the PR's head; only these are coalesced by the queue.
EVALUATION_ACTIONS = frozenset({"opened", "synchronize", "reopened", "ready_for_review"})
Coalescing = tuple[str | None, str | None, float | None]
_NOT_COALESCED: Coalescing = (None, None, None)


class WebhookError(Exception):
    """A delivery intake must refuse; `status` is the HTTP status to answer."""

    status = 400


class SignatureMissing(WebhookError):
    status = 401


class SignatureInvalid(WebhookError):
    status = 401


class HeadersMissing(WebhookError):
    status = 400


class HeadersInvalid(WebhookError):
    status = 400


class PayloadInvalid(WebhookError):
    status = 400


def verify_signature(secret: str, body: bytes, header: str | None) -> None:
    """Check `X-Hub-Signature-256: sha256=<hex>` against the body; raise when absent or wrong."""
    if not header:
        raise SignatureMissing(
            "X-Hub-Signature-256 header is missing (SHA-1 signatures are not accepted)"
        )
    scheme, _, received = header.strip().partition("=")
    if scheme != "sha256" or not received:
        raise SignatureInvalid("X-Hub-Signature-256 must look like 'sha256=<hex digest>'")
    expected = sign(secret, body)
    if not hmac.compare_digest(expected.encode(), header.strip().encode()):
        raise SignatureInvalid("signature does not match the payload (check WEBHOOK_SECRET)")


def sign(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub sends for `body` (tests and the replay tool use it)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def parse_delivery(headers: Mapping[str, str], body: bytes, now: datetime) -> Delivery:
    """Build a Delivery from the headers and the raw JSON body (which stays raw for routing)."""
    lower = {k.lower(): v for k, v in headers.items()}
    delivery_id = lower.get("x-github-delivery", "").strip()
    event = lower.get("x-github-event", "").strip()
    missing = [
        h for h, v in (("X-GitHub-Delivery", delivery_id), ("X-GitHub-Event", event)) if not v
    ]
    if missing:
        raise HeadersMissing(f"missing header(s): {', '.join(missing)}")
    for name, value in (("X-GitHub-Delivery", delivery_id), ("X-GitHub-Event", event)):
        if not _storable(value, MAX_NAME):
            raise HeadersInvalid(f"{name} must be at most {MAX_NAME} printable characters")
    payload = load_payload(body)
    action = _str_or_none(payload.get("action"), MAX_NAME)
    return Delivery(
        id=delivery_id,
        event=event,
        action=action,
        installation_id=_installation_id(payload),
        repository=_str_or_none(_get(payload, "repository", "full_name"), MAX_REPOSITORY),
        payload=body,
        received_at=now,
        # Computed here, from the one parse intake does: the durable sink stores these columns.
        coalescing=coalescing_of(event, action, payload, now),
    )


def coalescing_of(
    event: str, action: str | None, payload: Any, received_at: datetime
) -> Coalescing:
    """(key "owner/name#123", head sha, GitHub's time of the PR state) for a pull-request
    evaluation; Nones for any other delivery or a payload not evaluable as a PR."""
    if event != "pull_request" or action not in EVALUATION_ACTIONS:
        return _NOT_COALESCED
    try:
        pull = payload["pull_request"]
        key = f"{payload['repository']['full_name']}#{int(pull['number'])}"
        head = str(pull["head"]["sha"])
        updated_at = pull.get("updated_at")
    except (ValueError, KeyError, TypeError, AttributeError):
        return _NOT_COALESCED  # not evaluable as a PR: run it uncoalesced, the router decides
    if not (_storable(key, MAX_KEY) and _storable(head, MAX_SHA)):
        return _NOT_COALESCED
    return key, head, _parse_time(updated_at) or received_at.timestamp()


def _parse_time(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def load_payload(body: bytes) -> dict[str, Any]:
    """Decode a webhook body: a JSON object, else PayloadInvalid."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadInvalid(f"body is not valid JSON: {exc}") from None
    except RecursionError:  # GitHub's payloads nest a dozen levels; this is an attack
        raise PayloadInvalid("body is nested too deeply to decode") from None
    if not isinstance(payload, dict):
        raise PayloadInvalid("body must be a JSON object")
    return payload


def _installation_id(payload: Mapping[str, Any]) -> int | None:
    value = _get(payload, "installation", "id")
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_BIGINT:
        return value
    return None  # absent, or no installation id GitHub could have sent


def _get(payload: Mapping[str, Any], *keys: str) -> Any:
    node: Any = payload
    for key in keys:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _str_or_none(value: Any, limit: int) -> str | None:
    return value if isinstance(value, str) and value and _storable(value, limit) else None


def _storable(value: str, limit: int) -> bool:
    """Fits its column, and holds no NUL or other control character (PostgreSQL text cannot
    hold NUL; no legitimate id or name has control characters)."""
    return len(value) <= limit and value.isprintable()

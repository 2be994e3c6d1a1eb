"""The webhook server: a Starlette app that reads the body and calls the pure intake functions.

Status codes follow what GitHub does with them: 2xx means "delivered" (GitHub never retries),
anything else is recorded as a failed delivery that the reconciliation pass (or a person) can
redeliver. So the answer is 503 whenever the sink could not take the delivery safely.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ghapp.app.delivery import DeliverySink
from ghapp.app.webhooks import SIGNATURE_HEADER, WebhookError, parse_delivery, verify_signature
from ghapp.logs import delivery_fields, log_json
from ghapp.masking import mask
from ghapp.settings import LEGACY_WEBHOOK_PATH, Settings

logger = logging.getLogger("ghapp.server")
# Readiness: None when ready, else the reason (database down, schema behind, key cannot sign).
Ready = Callable[[], Awaitable[str | None]]
# GitHub gives up on a delivery after 10 s, so a body still arriving later is never legitimate;
# without a bound, a client trickling bytes holds a connection (and its buffers) forever.
BODY_TIMEOUT = 15.0


class BodyTooLarge(WebhookError):
    status = 413


class BodyTooSlow(WebhookError):
    status = 408


class ClientHungUp(WebhookError):
    """The client closed the connection before sending its whole body (nobody reads the answer)."""


def create_app(
    settings: Settings,
    sink: DeliverySink,
    *,
    ready: Ready | None = None,
    body_timeout: float = BODY_TIMEOUT,
) -> Starlette:
    """The ASGI app: POST {WEBHOOK_PATH} (and the legacy /webhooks), GET /healthz (the process
    answers), GET /readyz (200, or 503 with the reason `ready` gives)."""

    async def webhook(request: Request) -> Response:
        try:
            body = await read_body(request, settings.max_body_bytes, body_timeout)
            verify_signature(settings.webhook_secret, body, request.headers.get(SIGNATURE_HEADER))
            delivery = parse_delivery(request.headers, body, datetime.now(UTC))
        except ClientHungUp as exc:  # one line, no traceback: hang-ups are cheap to send
            log_json(logger, logging.INFO, "client hung up", reason=str(exc))
            return Response(status_code=400)
        except WebhookError as exc:
            log_json(
                logger,
                logging.WARNING,
                "delivery refused",
                status=exc.status,
                reason=str(exc),
                delivery=request.headers.get("x-github-delivery"),
                event=request.headers.get("x-github-event"),
            )
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        fields = delivery_fields(delivery)
        if delivery.event == "ping":
            log_json(logger, logging.INFO, "ping", **fields)
            return JSONResponse({"ok": True, "pong": True})
        try:
            accepted = await sink.accept(delivery)
        except WebhookError as exc:  # the sink can never take this delivery (its values)
            log_json(logger, logging.WARNING, "delivery refused", reason=str(exc), **fields)
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        except Exception as exc:  # any sink failure: GitHub must see a failed delivery
            log_json(logger, logging.ERROR, "sink failed", error=repr(exc), **fields)
            return JSONResponse({"error": "temporarily unavailable"}, status_code=503)
        if not accepted:
            log_json(logger, logging.INFO, "duplicate delivery", **fields)
            return JSONResponse({"duplicate": True}, status_code=200)
        log_json(logger, logging.INFO, "delivery accepted", **fields)
        return JSONResponse({"accepted": True}, status_code=202)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def readyz(request: Request) -> Response:
        try:
            reason = None if ready is None else await ready()
        except Exception as exc:  # a failing check is an answer (not ready), never a 500
            reason = f"readiness check failed: {exc!r}"
        if reason is None:
            return JSONResponse({"ready": True})
        reason = mask(reason, settings.secrets)
        log_json(logger, logging.WARNING, "not ready", reason=reason)
        return JSONResponse({"ready": False, "reason": reason}, status_code=503)

    paths = dict.fromkeys((settings.webhook_path, LEGACY_WEBHOOK_PATH))
    return Starlette(
        routes=[
            *(Route(path, webhook, methods=["POST"]) for path in paths),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
        ]
    )


async def read_body(request: Request, limit: int, timeout: float = BODY_TIMEOUT) -> bytes:
    """The request body, refusing (413) before reading when Content-Length is over `limit`,
    and while streaming when a chunked body grows past it; 408 when it has not all arrived
    within `timeout` seconds; ClientHungUp when the client leaves halfway."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"payload of {declared} bytes exceeds the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge(f"payload exceeds the {limit}-byte limit")
                chunks.append(chunk)
    except TimeoutError:
        raise BodyTooSlow(
            f"the body did not arrive within {timeout:g} s ({size} bytes received)"
        ) from None
    except ClientDisconnect:
        raise ClientHungUp(f"after {size} of {declared or 'unknown'} bytes") from None
    return b"".join(chunks)

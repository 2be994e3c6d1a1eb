"""The webhook server: a Starlette app that reads the body and calls the pure intake functions.

Status codes follow what GitHub does with them: 2xx means "delivered" (GitHub never retries),
anything else is recorded as a failed delivery that the reconciliation pass (or a person) can
redeliver. So the answer is 503 whenever the sink could not take the delivery safely.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ghapp.app.delivery import DeliverySink
from ghapp.app.logs import delivery_fields, log_json
from ghapp.app.webhooks import SIGNATURE_HEADER, WebhookError, parse_delivery, verify_signature
from ghapp.masking import mask
from ghapp.settings import LEGACY_WEBHOOK_PATH, Settings

logger = logging.getLogger("ghapp.server")
# Readiness: None when ready, else the reason (database down, schema behind, key cannot sign).
Ready = Callable[[], Awaitable[str | None]]


class BodyTooLarge(WebhookError):
    status = 413


def create_app(settings: Settings, sink: DeliverySink, *, ready: Ready | None = None) -> Starlette:
    """The ASGI app: POST {WEBHOOK_PATH} (and the legacy /webhooks), GET /healthz (the process
    answers), GET /readyz (200, or 503 with the reason `ready` gives)."""

    async def webhook(request: Request) -> Response:
        try:
            body = await read_body(request, settings.max_body_bytes)
            verify_signature(settings.webhook_secret, body, request.headers.get(SIGNATURE_HEADER))
            delivery = parse_delivery(request.headers, body, datetime.now(UTC))
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


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) before reading when Content-Length is over `limit`,
    and while streaming when a chunked body grows past it."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"payload of {declared} bytes exceeds the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"payload exceeds the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)

"""`ghapp serve` (webhook intake and workers in one process) and `ghapp replay` (local debugging)."""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ghapp.app.delivery import DeliverySink
from ghapp.app.memory import Memory
from ghapp.app.processor import Processor
from ghapp.app.sandbox import Sandbox
from ghapp.commands.audit import AuditLog
from ghapp.core.errors import GhappError
from ghapp.settings import Settings, SettingsError


def add_commands(subparsers: Any) -> None:
    """Add `serve` and `replay` to the `ghapp` command line."""
    serve = subparsers.add_parser(
        "serve",
        help="run the GitHub App: webhook server and in-process workers",
        description="Run the webhook server (uvicorn) configured from the environment "
        "(APP_ID, PRIVATE_KEY or PRIVATE_KEY_PATH, WEBHOOK_SECRET, GITHUB_API_URL, PORT, ...) "
        "and from a .env file in the working directory (the environment wins).",
    )
    add_evaluation_options(serve)
    serve.set_defaults(run=run_serve)
    replay = subparsers.add_parser(
        "replay",
        help="process one webhook payload against the configured GitHub (debugging)",
        description="Feed PAYLOAD.json through the processor as if GitHub had delivered it.",
    )
    replay.add_argument("payload", type=Path, metavar="PAYLOAD.json")
    replay.add_argument("--event", required=True, help="the X-GitHub-Event name, e.g. pull_request")
    replay.add_argument("--action", help="override the payload's action")
    replay.set_defaults(run=run_replay)


def add_evaluation_options(parser: argparse.ArgumentParser) -> None:
    """Where and under which budget evaluations run (`ghapp serve`, `ghapp worker`)."""
    from ghapp.app.sandbox import DEFAULT_MEMORY, DEFAULT_TIMEOUT

    parser.add_argument(
        "--evaluation-timeout",
        type=_positive_float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"stop an evaluation after this long and report it (default {DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--evaluation-memory",
        type=_positive_float,
        default=DEFAULT_MEMORY / 1024**2,
        metavar="MIB",
        help=f"address space of each evaluation process (default {DEFAULT_MEMORY // 1024**2})",
    )
    parser.add_argument(
        "--evaluation-processes",
        type=int,
        metavar="N",
        help="evaluation processes (default: WORKERS, at most one per CPU)",
    )


def evaluation_sandbox(args: argparse.Namespace, workers: int) -> Sandbox:
    """The process pool evaluations run in, per the options above."""
    from ghapp.app.sandbox import ProcessSandbox, default_processes

    return ProcessSandbox(
        args.evaluation_processes or default_processes(workers),
        timeout=args.evaluation_timeout,
        memory=int(args.evaluation_memory * 1024**2),
    )


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above 0: {text!r}")
    return value


def load_settings() -> Settings:
    """The app's settings from the environment and ./.env, with logging configured from them."""
    from ghapp.logs import configure_logging
    from ghapp.settings import load_env_file

    load_env_file()
    try:
        settings = Settings.from_process_env()
    except SettingsError as exc:
        raise GhappError(str(exc)) from None
    configure_logging(settings.log_level, settings.log_format, secrets=settings.secrets)
    return settings


def build_processor(
    settings: Settings,
    *,
    audit: AuditLog | None = None,
    memory: Memory | None = None,
    sandbox: Sandbox | None = None,
) -> Processor:
    """The app's processor with every handler: events, check-run buttons, comment commands.
    `audit` keeps commands and `/waive` waivers (in memory when not given); `sandbox` is
    where evaluations run (a thread of this process when not given)."""
    from ghapp.commands.audit import MemoryAuditLog
    from ghapp.commands.register import register as register_commands
    from ghapp.github.client import GitHubFactory
    from ghapp.rules import default_catalog

    audit = audit or MemoryAuditLog()
    processor = Processor(
        settings,
        GitHubFactory(settings),
        catalog=default_catalog(),
        clock=lambda: datetime.now(UTC),
        audit=audit,
        memory=memory,
        sandbox=sandbox,
    )
    # After the app's own routes: commands replace the unaudited `recheck` button.
    register_commands(processor.router, processor.services, audit)
    return processor


def build_sink(settings: Settings, processor: Processor, store: Any = None) -> DeliverySink:
    """The one place that decides where deliveries go: the durable queue (DATABASE_URL), with
    `settings.workers` in-process workers (ghapp.store.service)."""
    from ghapp.store.service import durable_sink

    return durable_sink(
        settings, processor, store=store, reconcile_interval=settings.reconcile_interval or None
    )


def open_store(settings: Settings) -> Any:
    """The migrated database (DATABASE_URL): queue, audit log, memory of posted comments."""
    from ghapp.store.service import Store

    try:
        return Store.open(settings.database_url, retention_days=settings.evaluation_retention_days)
    except Exception as exc:  # unreachable database, bad URL, failed migration
        raise GhappError(database_error(settings.database_url, exc, settings.secrets)) from None


def database_error(url: str, exc: Exception, secrets: tuple[str, ...] = ()) -> str:
    """One line naming the database (credentials masked) and why it cannot be opened."""
    from ghapp.masking import mask, url_secrets

    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return mask(f"cannot open the database {url}: {reason}", (*secrets, *url_secrets(url)))


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from ghapp.app.health import readiness
    from ghapp.app.server import create_app
    from ghapp.store.metrics import metrics_route
    from ghapp.web.routes import web_routes

    settings = load_settings()
    store = open_store(settings)
    sandbox = evaluation_sandbox(args, settings.workers)
    processor = build_processor(settings, audit=store.audit, memory=store.memory, sandbox=sandbox)
    processor.services.evaluations = store.evaluations
    processor.github.counter.observers.append(store.metrics.count_github_call)
    processor.services.report_hooks.append(
        lambda report: store.metrics.count_findings([f.rule for f in report.findings])
    )
    ready = readiness(store.queue.engine, settings.private_key)
    sink = build_sink(settings, processor, store)
    app = create_app(settings, sink, ready=ready)
    app.router.routes.append(metrics_route(store.metrics))
    app.router.routes.append(web_routes(settings, store.evaluations, github=processor.github))
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,  # uvicorn's lines go through ghapp's logging (one format, masked)
        log_level=_uvicorn_level(settings),
        http="httptools",  # both from uvicorn[standard]: the fastest parser and event loop
        loop="uvloop",
        access_log=False,  # intake logs every delivery itself, as JSON with its id
    )
    # Running jobs finish first (or are released), then their evaluation processes stop.
    stop_workers = getattr(sink, "stop_workers", None)
    if stop_workers is not None:
        stop_workers()
    sandbox.close()
    return 0


def run_replay(args: argparse.Namespace) -> int:
    from ghapp.app.webhooks import WebhookError, load_payload, parse_delivery

    settings = load_settings()
    try:
        body = args.payload.read_bytes()
        payload = load_payload(body)
    except OSError as exc:
        raise GhappError(f"{args.payload}: {exc.strerror}") from None
    except WebhookError as exc:
        raise GhappError(f"{args.payload}: {exc}") from None
    if args.action:
        payload["action"] = args.action
        body = json.dumps(payload).encode()
    headers = {"X-GitHub-Event": args.event, "X-GitHub-Delivery": f"replay-{uuid.uuid4()}"}
    delivery = parse_delivery(headers, body, datetime.now(UTC))
    processor = build_processor(settings)
    asyncio.run(processor.process(delivery))
    print(json.dumps({"delivery": delivery.id, "api_calls": processor.github.counter.total}))
    return 0


def _uvicorn_level(settings: Settings) -> str:
    return {"trace": "trace", "warn": "warning", "fatal": "critical", "silent": "critical"}.get(
        settings.log_level, settings.log_level
    )

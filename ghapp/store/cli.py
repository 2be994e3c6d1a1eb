"""`ghapp worker`, `ghapp deliveries [list|retry ID]`, `ghapp reconcile`, `ghapp audit`.

The database comes from `--database-url`, else DATABASE_URL (environment, then ./.env).
`deliveries` and `audit` need nothing else: an operator can run them without the app's secrets.
`worker` and `reconcile` talk to GitHub and read the app's whole configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from ghapp.core.errors import GhappError
from ghapp.store.schema import STATUSES


def add_commands(subparsers: Any) -> None:
    """Add the store's subcommands to the `ghapp` command line."""
    worker = subparsers.add_parser(
        "worker",
        help="run queue workers only (no webhook server); run any number against PostgreSQL",
    )
    _database_option(worker)
    worker.add_argument("--concurrency", type=int, help="jobs at once (default: WORKERS)")
    worker.add_argument("--max-attempts", type=int, default=8, help="attempts before dead letter")
    worker.add_argument("--lease-seconds", type=float, default=60.0)
    worker.add_argument(
        "--reconcile-interval",
        type=float,
        help="also run the reconciliation pass and the dashboard's refresh every N seconds",
    )
    from ghapp.app.cli import add_evaluation_options

    add_evaluation_options(worker)
    worker.set_defaults(run=run_worker)

    deliveries = subparsers.add_parser("deliveries", help="list deliveries, requeue dead letters")
    _database_option(deliveries)
    actions = deliveries.add_subparsers(dest="action", metavar="ACTION")
    listing = actions.add_parser("list", help="newest first (default: the dead letters)")
    listing.add_argument("--status", choices=(*STATUSES, "all"), default="dead")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--format", choices=("text", "json"), default="text")
    retry = actions.add_parser("retry", help="requeue a dead-lettered delivery")
    retry.add_argument("delivery_id", metavar="ID")
    for sub in (listing, retry):  # accepted after the action too
        sub.add_argument("--database-url", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    deliveries.set_defaults(run=run_deliveries, status="dead", limit=50, format="text")

    reconcile = subparsers.add_parser(
        "reconcile",
        help="redeliver failed webhooks and re-check open PRs without a check run or whose run "
        "a dead job left in progress (one pass)",
    )
    _database_option(reconcile)
    reconcile.add_argument("--lookback-hours", type=float, default=24.0)
    reconcile.add_argument("--no-redeliver", action="store_true", help="skip failed deliveries")
    reconcile.add_argument("--no-recheck", action="store_true", help="skip open pull requests")
    reconcile.set_defaults(run=run_reconcile)

    audit = subparsers.add_parser("audit", help="show the audit log, newest first")
    _database_option(audit)
    audit.add_argument("--repo", help="owner/name")
    audit.add_argument("--pr", type=int)
    audit.add_argument("--actor")
    audit.add_argument("--since", type=_datetime, help="ISO date or time (UTC)")
    audit.add_argument("--limit", type=int, default=100)
    audit.add_argument("--format", choices=("text", "json"), default="text")
    audit.set_defaults(run=run_audit)


def _database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", help="default: DATABASE_URL (environment or .env)")


def _datetime(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date or time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _settings() -> Any:
    from ghapp.app.cli import load_settings

    return load_settings()


def _operator_database_url(given: str | None = None) -> str:
    """`given`, else DATABASE_URL alone, with logging set up from LOG_LEVEL/LOG_FORMAT: no app
    secrets needed."""
    from ghapp.logs import configure_logging
    from ghapp.masking import url_secrets
    from ghapp.settings import (
        SettingsError,
        database_url_from_env,
        load_env_file,
        log_options_from_env,
    )

    load_env_file()
    try:
        url = given or database_url_from_env()
        level, log_format = log_options_from_env()
    except SettingsError as exc:
        raise GhappError(str(exc)) from None
    configure_logging(level, log_format or "json", secrets=url_secrets(url))
    return url


def _store(args: argparse.Namespace, url: str | None = None, **options: Any) -> Any:
    from ghapp.app.cli import database_error
    from ghapp.store.service import Store

    url = url or _operator_database_url(args.database_url)
    try:
        return Store.open(url, **options)
    except Exception as exc:  # bad URL, unreachable database, bad credentials, ...
        raise GhappError(database_error(url, exc)) from None


def run_worker(args: argparse.Namespace) -> int:
    from ghapp.app.cli import build_processor, evaluation_sandbox
    from ghapp.store.reconcile import reconcile_forever
    from ghapp.store.refresh import Refresher, refresh_forever
    from ghapp.store.worker import run_workers

    settings = _settings()
    store = _store(
        args,
        args.database_url or settings.database_url,
        max_attempts=args.max_attempts,
        lease_seconds=args.lease_seconds,
    )
    concurrency = args.concurrency or settings.workers
    sandbox = evaluation_sandbox(args, concurrency)
    processor = build_processor(settings, audit=store.audit, memory=store.memory, sandbox=sandbox)
    processor.services.evaluations = store.evaluations  # the details page and the dashboard

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        tasks = [
            run_workers(
                store.queue, processor, concurrency=concurrency, stop=stop, metrics=store.metrics
            )
        ]
        if args.reconcile_interval:
            import httpx

            tasks.append(
                reconcile_forever(
                    lambda: httpx.AsyncClient(base_url=settings.github_api_url, timeout=30),
                    app_id=settings.app_id,
                    private_key=settings.private_key,
                    queue=store.queue,
                    interval=args.reconcile_interval,
                    lookback=86_400.0,
                    stop=stop,
                    metrics=store.metrics,
                )
            )
            tasks.append(
                refresh_forever(
                    lambda: httpx.AsyncClient(base_url=settings.github_api_url, timeout=30),
                    Refresher(store.queue, store.evaluations, processor.github.budget),
                    app_id=settings.app_id,
                    private_key=settings.private_key,
                    interval=args.reconcile_interval,
                    stop=stop,
                )
            )
        await asyncio.gather(*tasks)

    try:
        asyncio.run(main())
    finally:
        sandbox.close()
    return 0


def run_deliveries(args: argparse.Namespace) -> int:
    from ghapp.masking import mask

    store = _store(args)
    if args.action == "retry":
        if not store.queue.retry(args.delivery_id):
            raise GhappError(f"{args.delivery_id}: no dead-lettered delivery with this id")
        print(f"requeued {args.delivery_id}")
        return 0
    status = None if args.status == "all" else args.status
    records = store.queue.list(status=status, limit=args.limit)
    if args.format == "json":
        # last_error quotes whatever failed, URLs included: masked like every log line.
        print(mask(json.dumps([vars(r) for r in records], indent=2)))
        return 0
    for r in records:
        received = datetime.fromtimestamp(r.received_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = f"{r.event}.{r.action}" if r.action else r.event
        error = f"  {mask(r.last_error).splitlines()[0][:80]}" if r.last_error else ""
        print(
            f"{r.delivery_id}  {received}  {r.status:<10} {r.attempts:>2}  {event}  "
            f"{r.repository or '-'}{error}"
        )
    if not records:
        print(f"no deliveries with status {args.status}", file=sys.stderr)
    return 0


def run_reconcile(args: argparse.Namespace) -> int:
    import httpx

    from ghapp.store.reconcile import instrument, reconcile

    settings = _settings()
    store = _store(args, args.database_url or settings.database_url)
    since = datetime.now(UTC) - timedelta(hours=args.lookback_hours)

    async def main() -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=settings.github_api_url, timeout=30) as client:
            instrument(client, store.metrics)
            report = await reconcile(
                client,
                app_id=settings.app_id,
                private_key=settings.private_key,
                queue=store.queue,
                since=since,
                redeliver_failed=not args.no_redeliver,
                recheck_pulls=not args.no_recheck,
            )
            return report.to_json()

    report = asyncio.run(main())
    print(json.dumps(report, indent=2))
    return 1 if report["errors"] else 0


def run_audit(args: argparse.Namespace) -> int:
    store = _store(args)
    entries = store.audit.query(
        repo=args.repo, actor=args.actor, since=args.since, limit=args.limit, pr=args.pr
    )
    if args.format == "json":
        print(json.dumps([e.to_json() for e in entries], indent=2))
        return 0
    for e in entries:
        target = f"{e.repository}#{e.pr}" if e.pr else e.repository
        arguments = " ".join(e.arguments)
        print(
            f"{e.at:%Y-%m-%dT%H:%M:%SZ}  {e.actor}  {target}  /{e.command} {arguments}".rstrip()
            + f"  -> {e.outcome}"
            + (f": {e.detail}" if e.detail else "")
        )
    return 0

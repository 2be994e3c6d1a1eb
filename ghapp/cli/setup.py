"""`ghapp setup`: register the GitHub App from its manifest and write its credentials to `.env`.

Probot's one-click flow: a local page with one button posts the manifest to GitHub, GitHub sends
the browser back with a code, and the code becomes APP_ID, the private key, the webhook secret and
the OAuth client, saved under Probot's names in a 0600 `.env` beside a 0600 key file.
"""

from __future__ import annotations

import argparse
import base64
import logging
import os
import re
import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ghapp.core.errors import GhappError

LOOPBACK = "127.0.0.1"
_PLAIN_VALUE = re.compile(r"^[A-Za-z0-9_./:@+=-]*$")


def add_command(sub: Any) -> None:
    """Add `ghapp setup` to the command line."""
    p = sub.add_parser(
        "setup",
        help="register the GitHub App from its manifest and write .env (one button)",
        description="Open a local page with one button that registers ghapp on GitHub (or "
        "GitHub Enterprise Server: GHE_HOST, GHE_PROTOCOL) from its manifest, then write APP_ID, "
        "the private key, WEBHOOK_SECRET and the OAuth client to .env (mode 0600).",
    )
    p.add_argument("--org", help="register the App under this organisation (default: your account)")
    p.add_argument(
        "--public-url",
        help="the address GitHub reaches the app at, e.g. https://ghapp.example.com "
        "(default: PUBLIC_URL); webhooks go to its /api/github/webhooks",
    )
    p.add_argument(
        "--webhook-url",
        help="where GitHub posts webhooks when not PUBLIC_URL/api/github/webhooks, e.g. the "
        "channel URL of a webhook-forwarding service on a laptop",
    )
    p.add_argument("--port", type=int, default=3000, help="port of the local setup page (3000)")
    p.add_argument("--name", default="ghapp", help="the App's name (editable on GitHub too)")
    p.add_argument(
        "--read-only",
        action="store_true",
        help="ask for contents: read, not write (no /claim-ownership pull requests)",
    )
    p.add_argument("--env-file", type=Path, default=Path(".env"), help="where to write (.env)")
    p.add_argument(
        "--key-in-env",
        action="store_true",
        help="put the private key in the env file (PRIVATE_KEY, base64) instead of a key file: "
        "for docker --env-file and Kubernetes secrets",
    )
    p.add_argument("--force", action="store_true", help="overwrite an existing env file")
    p.add_argument("--no-open", action="store_true", help="do not open a browser, print the URL")
    p.set_defaults(run=run_setup)


def run_setup(args: argparse.Namespace) -> int:
    import uvicorn

    from ghapp.logs import configure_logging
    from ghapp.manifest import app_manifest
    from ghapp.settings import SettingsError, github_target_from_env, log_options_from_env
    from ghapp.web.setup import CALLBACK_PATH, SetupFlow, create_setup_app

    try:
        level, log_format = log_options_from_env()
        target = github_target_from_env()
    except SettingsError as exc:
        raise GhappError(str(exc)) from None
    env_file = args.env_file.resolve()
    if env_file.exists() and not args.force:
        raise GhappError(f"{args.env_file} exists: pass --force to overwrite it")
    public_url = args.public_url or target.public_url
    if not public_url or not public_url.startswith(("http://", "https://")):
        raise GhappError(
            "setup needs the address GitHub will send webhooks to: --public-url "
            "https://ghapp.example.com (on a laptop, a webhook-forwarding URL; docs/deploy.md)"
        )
    if args.webhook_url and not args.webhook_url.startswith(("http://", "https://")):
        raise GhappError(f"--webhook-url must be an http(s) URL, not {args.webhook_url!r}")
    _check_port_free(args.port)
    configure_logging(level, log_format or "pretty")  # a person is watching
    base = f"http://{LOOPBACK}:{args.port}"
    manifest = app_manifest(
        public_url,
        base + CALLBACK_PATH,
        name=args.name,
        webhook_url=args.webhook_url,
        read_only=args.read_only,
    )
    flow = SetupFlow(
        web_url=target.web_url,
        api_url=target.api_url,
        manifest=manifest,
        org=args.org,
        on_registered=lambda registration: save_credentials(
            registration,
            env_file,
            public_url.rstrip("/"),
            target.variables,
            force=args.force,
            key_in_env=args.key_in_env,
        ),
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_setup_app(flow),
            host=LOOPBACK,
            port=args.port,
            log_config=None,
            log_level=logging.WARNING,
            lifespan="off",
        )
    )
    flow.on_finished = lambda: setattr(server, "should_exit", True)
    threading.Thread(target=_announce, args=(server, base, not args.no_open), daemon=True).start()
    server.run()
    if flow.registration is None:
        print("ghapp setup stopped before GitHub sent the App's credentials; nothing was written.")
        return 1
    if flow.saved is None:
        print(
            f"ghapp setup stopped before saving the credentials of {flow.registration.name}: "
            f"delete the App ({flow.registration.html_url}) and run setup again."
        )
        return 1
    print(f"\nRegistered {flow.registration.name} (App ID {flow.registration.app_id}).")
    key = f"; private key: {flow.saved.key_file}" if flow.saved.key_file else " (key included)"
    print(f"Credentials: {flow.saved.env_file}{key}, readable only by you (0600).")
    print("\nNext steps:")
    for n, step in enumerate(flow.next_steps(), 1):
        print(f"  {n}. {step.text}")
        for extra in (step.url, step.command):
            if extra:
                print(f"     {extra}")
    return 0


def _check_port_free(port: int) -> None:
    with socket.socket() as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            raise GhappError(f"port {port} is in use: choose another with --port") from None


def _announce(server: Any, base: str, open_browser: bool) -> None:
    # Wait for the page to answer before pointing a browser (or a person) at it.
    while not server.started and not server.should_exit:
        time.sleep(0.05)
    if server.should_exit:
        return
    print(f"Open {base}/ and press the button to register the App.", flush=True)
    if open_browser:
        import webbrowser

        webbrowser.open(f"{base}/")


def save_credentials(
    registration: Any,
    env_file: Path,
    public_url: str,
    variables: tuple[tuple[str, str], ...] = (),
    *,
    force: bool = False,
    key_in_env: bool = False,
) -> Any:
    """Write the private key and the env file (both 0600); the `Saved` locations.
    `key_in_env` puts the key in the env file (base64 PRIVATE_KEY) instead of its own file."""
    from ghapp.web.setup import Saved

    key_file: Path | None = None
    if key_in_env:
        key = ("PRIVATE_KEY", base64.b64encode(registration.pem.encode()).decode())
    else:
        key_file = env_file.parent / f"{registration.slug}.private-key.pem"
        write_private(key_file, registration.pem, force=True)  # a new App's key: a new file
        key = ("PRIVATE_KEY_PATH", str(key_file))
    values = [
        ("APP_ID", str(registration.app_id)),
        ("APP_SLUG", registration.slug),
        key,
        ("WEBHOOK_SECRET", registration.webhook_secret),
        ("GITHUB_CLIENT_ID", registration.client_id),
        ("GITHUB_CLIENT_SECRET", registration.client_secret),
        ("PUBLIC_URL", public_url),
        *variables,  # the GitHub this App lives on (GitHub Enterprise Server)
    ]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"# The GitHub App {registration.name} ({registration.html_url or registration.slug}),",
        f"# written by `ghapp setup` on {stamp}. Secrets: keep this file private (mode 0600).",
        *(f"{name}={env_value(value)}" for name, value in values),
    ]
    write_private(env_file, "\n".join(lines) + "\n", force=force)
    return Saved(env_file=env_file, key_file=key_file)


def write_private(path: Path, text: str, *, force: bool) -> None:
    """Create `path` readable and writable by its owner only (0600) before any byte is in it;
    refuse to replace an existing file unless `force`."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise FileExistsError(f"{path} exists (run setup with --force to replace it)") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        os.fchmod(handle.fileno(), 0o600)  # an existing file keeps its old mode otherwise
        handle.write(text)


def env_value(value: str) -> str:
    """A value as python-dotenv reads it back unchanged (double-quoted when not plain)."""
    if _PLAIN_VALUE.match(value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'

"""The app's configuration, read from the environment (Probot names) in this module only.

`Settings.from_env(os.environ)` validates every variable at once and raises `SettingsError`
listing each missing or malformed one, so a deployment is fixed in one go, not one restart per
variable. Commands that need less than the whole app read only their part
(`database_url_from_env`, `log_options_from_env`, `github_target_from_env`). `load_env_file` adds
a `.env` (Probot's habit, written by `ghapp setup`) under the real environment.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from ghapp.masking import HIDDEN, mask, url_secrets

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_WEB_URL = "https://github.com"
DEFAULT_MAX_BODY_BYTES = 25 * 1024 * 1024  # GitHub caps webhook payloads at 25 MB
LOG_LEVELS = ("trace", "debug", "info", "warn", "warning", "error", "fatal", "critical", "silent")
LOG_FORMATS = ("json", "pretty")
DEFAULT_DATABASE_URL = "sqlite:///ghapp.db"
# Probot's path; the legacy /webhooks keeps answering too (ghapp.app.server).
DEFAULT_WEBHOOK_PATH = "/api/github/webhooks"
LEGACY_WEBHOOK_PATH = "/webhooks"

T = TypeVar("T")


class SettingsError(Exception):
    """One or more environment variables are missing or malformed (the message lists each)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = tuple(problems)
        if len(problems) == 1:  # one problem, one line
            super().__init__(f"invalid configuration: {problems[0]}")
            return
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid configuration ({len(problems)} problems):\n{lines}")


@dataclass(frozen=True)
class Settings:
    """Everything the server, workers and GitHub client need; immutable once read."""

    app_id: int
    private_key: str
    webhook_secret: str
    github_api_url: str = DEFAULT_API_URL
    webhook_path: str = DEFAULT_WEBHOOK_PATH
    host: str = "0.0.0.0"
    port: int = 3000
    log_level: str = "info"
    log_format: str = "json"  # LOG_FORMAT: json lines, or pretty for people
    database_url: str = DEFAULT_DATABASE_URL
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    workers: int = 4
    reconcile_interval: float = 900.0  # RECONCILE_INTERVAL seconds; 0 turns the pass off
    app_slug: str | None = None  # APP_SLUG: "<slug>[bot]" is the app's own login
    github_web_url: str = DEFAULT_WEB_URL  # where people sign in and register apps
    public_url: str | None = None  # PUBLIC_URL: this server's external address
    github_client_id: str | None = None  # GITHUB_CLIENT_ID: the app's OAuth client (sign-in)
    github_client_secret: str | None = None  # GITHUB_CLIENT_SECRET
    evaluation_retention_days: float = 90.0  # EVALUATION_RETENTION_DAYS; 0 keeps them forever

    def __repr__(self) -> str:
        # Never print the key or the secret (settings end up in logs and tracebacks).
        return (
            f"Settings(app_id={self.app_id}, github_api_url={mask(self.github_api_url)!r}, "
            f"webhook_path={self.webhook_path!r}, port={self.port}, workers={self.workers})"
        )

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values no log line may show: the webhook and client secrets, URL credentials."""
        values = [self.webhook_secret, self.github_client_secret or ""]
        for url in (self.database_url, self.github_api_url):
            values.extend(url_secrets(url))
        return tuple(v for v in values if v)

    @classmethod
    def from_process_env(cls) -> Settings:
        """`from_env(os.environ)`: the one place the process environment is read."""
        return cls.from_env(os.environ)

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Read and validate every variable; raise SettingsError naming each problem."""
        reader = _Reader(environ)
        app_id = reader.required("APP_ID", _positive_int, "a positive integer (the App ID)")
        private_key = _read_private_key(environ, reader)
        secret = reader.required("WEBHOOK_SECRET", _non_empty, "a non-empty string")
        web_url, api_url = _github_urls(reader)
        public_url = reader.optional("PUBLIC_URL", _api_url, "an http(s) URL", None)
        client_id = reader.optional("GITHUB_CLIENT_ID", _non_empty, "the app's client id", None)
        client_secret = reader.optional(
            "GITHUB_CLIENT_SECRET", _non_empty, "the app's client secret", None
        )
        path = reader.optional(
            "WEBHOOK_PATH", _url_path, "a path starting with '/'", DEFAULT_WEBHOOK_PATH
        )
        host = reader.optional("HOST", _non_empty, "a host name or address", "0.0.0.0")
        port = reader.optional("PORT", _port, "an integer 1-65535", 3000)
        level, log_format = _log_options(reader)
        db = _database_url(reader)
        max_body = reader.optional(
            "MAX_BODY_BYTES", _positive_int, "a positive integer", DEFAULT_MAX_BODY_BYTES
        )
        workers = reader.optional("WORKERS", _positive_int, "a positive integer", 4)
        reconcile = reader.optional(
            "RECONCILE_INTERVAL", _seconds, "a number of seconds (0 turns it off)", 900.0
        )
        slug = reader.optional("APP_SLUG", _non_empty, "the App's slug", None)
        retention = reader.optional(
            "EVALUATION_RETENTION_DAYS", _seconds, "a number of days (0 keeps them forever)", 90.0
        )
        if reader.problems:
            raise SettingsError(reader.problems)
        return cls(
            app_id=app_id,  # type: ignore[arg-type]  # None only when a problem was raised
            private_key=private_key or "",
            webhook_secret=secret or "",
            github_api_url=api_url,
            webhook_path=path,
            host=host,
            port=port,
            log_level=level,
            log_format=log_format,
            database_url=db,
            max_body_bytes=max_body,
            workers=workers,
            reconcile_interval=reconcile,
            app_slug=slug,
            github_web_url=web_url,
            public_url=public_url,
            github_client_id=client_id,
            github_client_secret=client_secret,
            evaluation_retention_days=retention,
        )


def database_url_from_env(environ: Mapping[str, str] | None = None) -> str:
    """DATABASE_URL alone, for operator commands that need nothing else (deliveries, audit)."""
    reader = _Reader(os.environ if environ is None else environ)
    url = _database_url(reader)
    if reader.problems:
        raise SettingsError(reader.problems)
    return url


def log_options_from_env(environ: Mapping[str, str] | None = None) -> tuple[str, str | None]:
    """(LOG_LEVEL, LOG_FORMAT or None when unset) for processes that read nothing else."""
    reader = _Reader(os.environ if environ is None else environ)
    level, log_format = _log_options(reader)
    if reader.problems:
        raise SettingsError(reader.problems)
    return level, log_format if reader.environ.get("LOG_FORMAT", "").strip() else None


@dataclass(frozen=True)
class GitHubTarget:
    """Where `ghapp setup` registers the App, and the variables that said so (kept in .env)."""

    web_url: str
    api_url: str
    public_url: str | None
    variables: tuple[tuple[str, str], ...]  # GHE_HOST, GHE_PROTOCOL, GITHUB_API_URL as set


def github_target_from_env(environ: Mapping[str, str] | None = None) -> GitHubTarget:
    """GHE_HOST, GHE_PROTOCOL, GITHUB_API_URL and PUBLIC_URL, validated (`ghapp setup`)."""
    reader = _Reader(os.environ if environ is None else environ)
    web_url, api_url = _github_urls(reader)
    public_url = reader.optional("PUBLIC_URL", _api_url, "an http(s) URL", None)
    if reader.problems:
        raise SettingsError(reader.problems)
    names = ("GHE_HOST", "GHE_PROTOCOL", "GITHUB_API_URL")
    variables = tuple(
        (n, reader.environ[n].strip()) for n in names if reader.environ.get(n, "").strip()
    )
    return GitHubTarget(web_url, api_url, public_url, variables)


def load_env_file(path: Path | str = ".env") -> bool:
    """Add the variables of `path` (if it exists) that the real environment does not set."""
    from dotenv import load_dotenv

    return load_dotenv(Path(path), override=False) if Path(path).is_file() else False


def _github_urls(reader: _Reader) -> tuple[str, str]:
    ghe_host = reader.optional("GHE_HOST", _host, "a host name such as ghe.example.com", None)
    ghe_protocol = reader.optional("GHE_PROTOCOL", _protocol, "http or https", "https")
    web_url, default_api = github_urls(ghe_host, ghe_protocol)
    return web_url, reader.optional("GITHUB_API_URL", _api_url, "an http(s) URL", default_api)


def _log_options(reader: _Reader) -> tuple[str, str]:
    level = reader.optional("LOG_LEVEL", _log_level, f"one of {', '.join(LOG_LEVELS)}", "info")
    log_format = reader.optional("LOG_FORMAT", _log_format, "json or pretty", "json")
    return level, log_format


def _database_url(reader: _Reader) -> str:
    return reader.optional(
        "DATABASE_URL", _db_url, "a URL like sqlite:///ghapp.db", DEFAULT_DATABASE_URL
    )


def github_urls(ghe_host: str | None, protocol: str = "https") -> tuple[str, str]:
    """(web URL, API URL): github.com, or GitHub Enterprise Server at `ghe_host` (Probot's
    GHE_HOST and GHE_PROTOCOL: web `{proto}://{host}`, API `{proto}://{host}/api/v3`)."""
    if not ghe_host:
        return DEFAULT_WEB_URL, DEFAULT_API_URL
    return f"{protocol}://{ghe_host}", f"{protocol}://{ghe_host}/api/v3"


def _host(raw: str) -> str:
    # A host name with an optional port: no scheme, no path (Probot's GHE_HOST).
    parts = urlsplit(f"//{raw}")
    if not parts.hostname or parts.path or parts.query or "@" in raw:
        raise ValueError("a bare host name, without scheme or path")
    return raw


def _protocol(raw: str) -> str:
    if raw.lower() not in ("http", "https"):
        raise ValueError("")
    return raw.lower()


def _seconds(raw: str) -> float:
    value = float(raw)
    if value < 0 or value != value:
        raise ValueError("must be 0 or more")
    return value


class _Reader:
    """Collects problems instead of stopping at the first one."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.problems: list[str] = []

    def required(self, name: str, parse: Callable[[str], T], expected: str) -> T | None:
        raw = self.environ.get(name, "").strip()
        if not raw:
            self.problems.append(f"{name} is missing: set it to {expected}")
            return None
        return self._parse(name, raw, parse, expected)

    def optional(self, name: str, parse: Callable[[str], T], expected: str, default: T) -> T:
        raw = self.environ.get(name, "").strip()
        if not raw:
            return default
        value = self._parse(name, raw, parse, expected)
        return default if value is None else value

    def _parse(self, name: str, raw: str, parse: Callable[[str], T], expected: str) -> T | None:
        try:
            return parse(raw)
        except ValueError as exc:
            detail = f" ({exc})" if str(exc) else ""
            self.problems.append(
                f"{name}={_shown(name, raw)} is malformed: expected {expected}{detail}"
            )
            return None


def _read_private_key(environ: Mapping[str, str], reader: _Reader) -> str | None:
    inline = environ.get("PRIVATE_KEY", "").strip()
    path = environ.get("PRIVATE_KEY_PATH", "").strip()
    if inline:
        key, source = _inline_key(inline), "PRIVATE_KEY"
    elif path:
        try:
            key = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not a text file"
            reader.problems.append(f"PRIVATE_KEY_PATH={path} cannot be read: {reason}")
            return None
        source = "PRIVATE_KEY_PATH"
    else:
        reader.problems.append(
            "PRIVATE_KEY is missing: set PRIVATE_KEY to the App's PEM private key (as is, with "
            "literal \\n for newlines, or base64-encoded) or PRIVATE_KEY_PATH to a file holding it"
        )
        return None
    if "-----BEGIN" not in key or "PRIVATE KEY-----" not in key:
        reader.problems.append(
            f"{source} is malformed: expected a PEM private key (-----BEGIN ...), "
            "the PEM with literal \\n, or the PEM in base64"
        )
        return None
    problem = _signing_problem(key)
    if problem:
        reader.problems.append(f"{source} is not a usable private key: {problem}")
        return None
    return key


def _inline_key(value: str) -> str:
    # Probot's forms: the PEM itself, the PEM on one line with literal "\n", or base64 of the PEM.
    if "-----BEGIN" in value:
        return value.replace("\\n", "\n")
    try:
        decoded = base64.b64decode("".join(value.split()), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return value
    return decoded if "-----BEGIN" in decoded else value


def _signing_problem(key: str) -> str | None:
    # The key is parsed here, once, so a garbled one stops start-up with this line instead of a
    # traceback at the first delivery (the parse is cached for the GitHub client).
    try:
        from ghapp.github.auth import signing_problem
    except ImportError:  # the light CLI install has no cryptography; it never signs
        return None
    return signing_problem(key)


def _shown(name: str, raw: str) -> str:
    secret = ("WEBHOOK_SECRET", "PRIVATE_KEY", "GITHUB_CLIENT_SECRET")
    if name in secret:
        return "<hidden>"
    if "@" in raw and name.endswith("_URL"):
        # A malformed URL may hide credentials where no pattern finds them: drop all before "@".
        raw = f"{HIDDEN}@{raw.rsplit('@', 1)[1]}"
    return mask(repr(raw))


def _non_empty(raw: str) -> str:
    return raw


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("must be greater than 0")
    return value


def _port(raw: str) -> int:
    value = int(raw)
    if not 0 < value < 65536:
        raise ValueError("out of range")
    return value


def _api_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("")
    parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    return raw.rstrip("/")


def _url_path(raw: str) -> str:
    if not raw.startswith("/"):
        raise ValueError("")
    return raw


def _log_level(raw: str) -> str:
    if raw.lower() not in LOG_LEVELS:
        raise ValueError("")
    return raw.lower()


def _log_format(raw: str) -> str:
    if raw.lower() not in LOG_FORMATS:
        raise ValueError("")
    return raw.lower()


def _db_url(raw: str) -> str:
    if "://" not in raw:
        raise ValueError("")
    return raw

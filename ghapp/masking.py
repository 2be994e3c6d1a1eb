"""Secrets out of everything ghapp prints: credentials in URLs, password parameters, known values.

`mask(text)` is applied by the log formatters, the command line's error line, the readiness
answer and `ghapp deliveries`, so a DATABASE_URL password or a token embedded in GITHUB_API_URL
never reaches a terminal, a log pipeline or a scrape, whichever error happened to quote it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

HIDDEN = "***"
# scheme://userinfo@ — userinfo runs to the last "@" before the path (a raw "@" in a password
# must not leave the rest of the password visible).
_URL_CREDENTIALS = re.compile(
    r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^\s/'\"<>]*)@"
)
# key=value secrets: URL query parameters and libpq keyword strings ("host=db password=pw").
_SECRET_PARAMETER = re.compile(
    r"(?i)\b(?P<key>password|passwd|pwd|sslpassword|client_secret|access_token|token|secret)"
    r"(?P<sep>\s*=\s*)(?P<value>[^&\s'\",;]+)"
)
_MIN_KNOWN_SECRET = 4  # shorter values would mask ordinary words


def mask(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with URL credentials, password-like parameters and the given `secrets` hidden."""
    text = _URL_CREDENTIALS.sub(_hide_userinfo, text)
    text = _SECRET_PARAMETER.sub(lambda m: f"{m['key']}{m['sep']}{HIDDEN}", text)
    for secret in sorted(
        {s for s in secrets if len(s) >= _MIN_KNOWN_SECRET}, key=len, reverse=True
    ):
        text = text.replace(secret, HIDDEN)
    return text


def _hide_userinfo(match: re.Match[str]) -> str:
    user, colon, _password = match["userinfo"].partition(":")
    if colon:  # user:password keeps the user (useful, not secret)
        return f"{match['scheme']}{user}:{HIDDEN}@"
    # A lone userinfo is a token in a web URL (https://TOKEN@host), a user name elsewhere.
    token = match["scheme"].lower() in ("http://", "https://")
    return f"{match['scheme']}{HIDDEN if token else user}@"


def url_secrets(url: str) -> tuple[str, ...]:
    """The password (or token) a URL carries, raw and percent-decoded, to mask anywhere."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ()
    found = [parts.password] if parts.password else []
    if parts.username and not parts.password and parts.scheme in ("http", "https"):
        found.append(parts.username)  # https://TOKEN@host
    return tuple({value for raw in found for value in (raw, unquote(raw))})

"""Errors of the GitHub layer, split by what the caller should do: retry later, or give up.

HTTP statuses map to subclasses of one base (`GitHubError`), as gidgethub does; transient ones
are also `RetryableError`, which is what the processor and the queues look for.
"""

from __future__ import annotations


class RetryableError(Exception):
    """A transient failure: the delivery should be processed again later.

    `delay` is the number of seconds to wait when the cause says so (rate limits), else None
    (the queue's own backoff applies).
    """

    def __init__(self, message: str, *, delay: float | None = None) -> None:
        super().__init__(message)
        self.delay = delay


class GitHubError(Exception):
    """GitHub answered with an error (or not at all); `status` is the HTTP status, 0 for none."""

    def __init__(self, message: str, *, status: int = 0, method: str = "", path: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.method = method
        self.path = path


class NotFound(GitHubError):
    """404: the repository, ref or installation is gone (or the app lost access)."""


class Unprocessable(GitHubError):
    """422: GitHub rejected the request's content (for example a comment outside the diff)."""


class Forbidden(GitHubError):
    """403 without rate-limit headers: the app lacks a permission."""


class GitHubUnavailable(GitHubError, RetryableError):
    """5xx, a timeout or a network error."""

    def __init__(self, message: str, *, status: int = 0, method: str = "", path: str = "") -> None:
        GitHubError.__init__(self, message, status=status, method=method, path=path)
        self.delay = None


class RateLimited(GitHubError, RetryableError):
    """403/429 with Retry-After or an exhausted quota; `delay` says when to try again."""

    def __init__(
        self, message: str, *, delay: float, status: int = 429, method: str = "", path: str = ""
    ) -> None:
        GitHubError.__init__(self, message, status=status, method=method, path=path)
        self.delay = delay

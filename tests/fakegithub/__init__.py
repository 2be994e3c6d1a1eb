"""A stateful fake GitHub REST API for end-to-end tests, served by uvicorn on loopback.

`FakeGitHub` (state.py) holds installations, repositories with real git object ids, pull requests
with difflib patches, check runs, reviews, comments and the call log. `create_fake_app` (server.py)
serves it as a starlette app; request bodies are validated against GitHub's published OpenAPI
schemas (schemas.py). harness.py starts servers, signs webhooks and waits for conditions.
"""

from . import (
    history,  # noqa: F401  (registers the commits, org teams and team members routes)
    installation,  # noqa: F401  (registers GET /installation/repositories)
    manifests,  # noqa: F401  (registers the App-manifest flow's routes)
    oauth,  # registers the user-token API routes  # noqa: F401
)
from .history import add_authored_commit
from .oauth import create_fake_web_app, sign_in_as
from .schemas import SchemaBook, Violation
from .server import create_fake_app
from .state import Call, FakeGitHub, PullRequest

__all__ = [
    "Call",
    "FakeGitHub",
    "PullRequest",
    "SchemaBook",
    "Violation",
    "add_authored_commit",
    "create_fake_app",
    "create_fake_web_app",
    "sign_in_as",
]

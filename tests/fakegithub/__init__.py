"""A stateful fake GitHub REST API for end-to-end tests, served by uvicorn on loopback.

`FakeGitHub` (state.py) holds installations, repositories with real git object ids, pull requests
with difflib patches, check runs, reviews, comments and the call log. `create_fake_app` (server.py)
serves it as a starlette app; request bodies are validated against GitHub's published OpenAPI
schemas (schemas.py). harness.py starts servers, signs webhooks and waits for conditions.
"""

from . import history  # registers the commits and team members endpoints
from .history import add_authored_commit
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
    "history",
]

"""The repositories an installation token reaches: `GET /installation/repositories`, as the
dashboard's refresh pass lists them (100 per page, `total_count`, Link headers)."""

from __future__ import annotations

from typing import Any

from . import shapes
from .server import Ctx, HttpError, _paginate, route


@route("GET", "/installation/repositories")
def list_installation_repositories(ctx: Ctx) -> tuple[int, Any]:
    if ctx.installation is None:
        raise HttpError(403, "You must authenticate with an installation access token")
    repos = [r for r in ctx.fake.repos.values() if r.installation_id == ctx.installation]
    items = [shapes.repository(ctx.base, ctx.fake, r) for r in repos]
    return 200, {"total_count": len(items), "repositories": _paginate(ctx, items)}

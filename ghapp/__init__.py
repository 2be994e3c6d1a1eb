"""ghapp: pull-request governance for GitHub (ownership, security coverage, deploy safety)."""

from __future__ import annotations

from typing import Any

__all__ = ["CodeOwners", "Match", "__version__"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Lazy, so `import ghapp.cli` stays cheap and submodules import in any order.
    if name in ("CodeOwners", "Match"):
        from ghapp.core.ownership import codeowners

        return getattr(codeowners, name)
    raise AttributeError(name)

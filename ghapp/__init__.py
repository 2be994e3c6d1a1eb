"""ghapp: pull-request governance for GitHub (ownership, security coverage, deploy safety)."""

from ghapp.core.codeowners import CodeOwners, Match

__all__ = ["CodeOwners", "Match", "__version__"]
__version__ = "0.1.0"

"""GitHub Actions workflows: parsing, if: expressions, scanner detection, coverage, hygiene."""

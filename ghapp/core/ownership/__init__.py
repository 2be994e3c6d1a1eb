"""CODEOWNERS: GitHub's semantics, the matching engine, lint, claims, and who exists."""

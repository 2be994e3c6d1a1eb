"""The shipped rules catalog: valid against its schema (checked here, not at every start-up)."""

from __future__ import annotations

from ghapp.rules import catalog_dir, default_catalog, load_catalog


def test_the_shipped_catalog_is_valid_and_loads_the_same_without_validation() -> None:
    validated = load_catalog(sorted(catalog_dir().glob("*.yaml")), validate=True)
    assert validated == default_catalog()
    assert "config/unused-suppression" in validated.rules

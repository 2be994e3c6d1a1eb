"""Shared test helpers: where ../shared fixtures live, skipping when they are absent."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["tests.browser"]  # chromium / browser_page fixtures, screenshot()

ROOT = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = ROOT.parent / "shared" / "fixtures"
EXAMPLES = ROOT / "examples"


@pytest.fixture
def shared_fixtures() -> Path:
    """../shared/fixtures beside the checkout (real payloads, corpora, schemas); skip if absent."""
    if not SHARED_FIXTURES.is_dir():
        pytest.skip("../shared/fixtures is not beside this checkout")
    return SHARED_FIXTURES

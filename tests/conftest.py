"""Shared fixtures: where the third-party data lives and how to skip without it."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
NANOSTORE = SHARED_DATA / "autocheckout"


@pytest.fixture(scope="session")
def nanostore_dir() -> Path:
    """Return the AiFi NanoStore data folder, or skip when it is not beside the repo."""
    if not (NANOSTORE / "cps-test-01" / "weight_csv").is_dir():
        pytest.skip(f"AiFi NanoStore data not found at {NANOSTORE}")
    return NANOSTORE

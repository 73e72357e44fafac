"""Shared fixtures: where the third-party data lives and how to skip without it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
NANOSTORE = SHARED_DATA / "autocheckout"


@pytest.fixture(autouse=True)
def restore_root_logging() -> Iterator[None]:
    """Put back the root logger's handlers and level after each test.

    ``walkout serve`` reconfigures logging with ``force=True``. Under
    ``CliRunner`` its handler writes to a stream the runner closes, and
    every later test that logs would print "--- Logging error ---".
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


@pytest.fixture(scope="session")
def nanostore_dir() -> Path:
    """Return the AiFi NanoStore data folder, or skip when it is not beside the repo."""
    if not (NANOSTORE / "cps-test-01" / "weight_csv").is_dir():
        pytest.skip(f"AiFi NanoStore data not found at {NANOSTORE}")
    return NANOSTORE

"""Fixtures of the recording tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from recording_builders import RawFiles, write_raw


@pytest.fixture
def write_recording_files(tmp_path: Path) -> Callable[[RawFiles], Path]:
    """Return a function that writes raw files into a fresh recording directory."""

    def write(files: RawFiles) -> Path:
        return write_raw(tmp_path / "recording", files)

    return write

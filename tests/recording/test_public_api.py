"""The package's public names import from ``walkout.recording`` itself."""

from __future__ import annotations

import walkout.recording as recording


def test_public_names_importable() -> None:
    missing = [name for name in recording.__all__ if not hasattr(recording, name)]

    assert missing == []


def test_core_api_exported() -> None:
    core = {
        "read_recording",
        "write_recording",
        "read_receipts",
        "write_receipts",
        "read_truth",
        "RecordingError",
        "Recording",
        "Store",
    }

    assert core <= set(recording.__all__)

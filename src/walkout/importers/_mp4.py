"""Duration and frame count of an MP4 file, read from its ISO base media boxes."""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mp4Timing:
    duration_s: float
    frames: int | None

    @property
    def fps(self) -> float | None:
        if self.frames is None or self.duration_s <= 0:
            return None
        return self.frames / self.duration_s


def _boxes(data: bytes, start: int, end: int) -> list[tuple[str, int, int]]:
    """Return (type, payload start, box end) of the boxes in ``data[start:end]``."""
    found: list[tuple[str, int, int]] = []
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        header = 8
        if size == 1:
            (size,) = struct.unpack(">Q", data[offset + 8 : offset + 16])
            header = 16
        elif size == 0:
            size = end - offset
        if size < header or offset + size > end:
            raise ValueError(f"box {kind!r} at byte {offset} has invalid size {size}")
        found.append((kind.decode("latin-1"), offset + header, offset + size))
        offset += size
    return found


def _child(data: bytes, start: int, end: int, kind: str) -> tuple[int, int] | None:
    for found, payload, box_end in _boxes(data, start, end):
        if found == kind:
            return payload, box_end
    return None


def read_mp4_timing(path: Path) -> Mp4Timing:
    """Read the movie duration (mvhd) and the first track's sample count (stsz).

    Raises ``ValueError`` when the file has no readable ``moov/mvhd`` box.
    """
    data = path.read_bytes()
    moov = _child(data, 0, len(data), "moov")
    if moov is None:
        raise ValueError("no moov box")
    mvhd = _child(data, *moov, "mvhd")
    if mvhd is None:
        raise ValueError("no mvhd box in moov")
    start = mvhd[0]
    if data[start] == 1:
        timescale, duration = struct.unpack(">IQ", data[start + 20 : start + 32])
    else:
        timescale, duration = struct.unpack(">II", data[start + 12 : start + 20])
    if timescale == 0:
        raise ValueError("mvhd timescale is 0")

    frames: int | None = None
    path_to_stsz = ("trak", "mdia", "minf", "stbl", "stsz")
    box: tuple[int, int] | None = moov
    for kind in path_to_stsz:
        box = _child(data, *box, kind) if box is not None else None
    if box is not None:
        (frames,) = struct.unpack(">I", data[box[0] + 8 : box[0] + 12])
    return Mp4Timing(duration_s=duration / timescale, frames=frames)

"""Store recordings (format ``walkout-recording/1``) and receipts: model, I/O, checks.

``read_recording`` validates a recording directory up front and raises
``RecordingError`` with a one-line message on the first problem it finds.
``write_recording`` writes the same layout back. ``read_receipts`` and
``write_receipts`` handle receipts.json, and ``read_truth`` reads truth.json
on its own.
"""

from __future__ import annotations

from walkout.recording.errors import RecordingError
from walkout.recording.model import (
    RECEIPTS_FORMAT,
    RECORDING_FORMAT,
    Camera,
    Facing,
    FloatArray,
    GateEvent,
    IntArray,
    Plate,
    PlateSeries,
    PoseSamples,
    Product,
    Receipt,
    ReceiptLine,
    Recording,
    Store,
    StoreInfo,
    Truth,
    TruthEvent,
    TruthReceipt,
    VideoFile,
    VisionObservations,
    WeightReadings,
    Zone,
)
from walkout.recording.reader import read_recording, read_store, read_truth
from walkout.recording.receipts_io import read_receipts, write_receipts
from walkout.recording.writer import write_recording

__all__ = [
    "RECEIPTS_FORMAT",
    "RECORDING_FORMAT",
    "Camera",
    "Facing",
    "FloatArray",
    "GateEvent",
    "IntArray",
    "Plate",
    "PlateSeries",
    "PoseSamples",
    "Product",
    "Receipt",
    "ReceiptLine",
    "Recording",
    "RecordingError",
    "Store",
    "StoreInfo",
    "Truth",
    "TruthEvent",
    "TruthReceipt",
    "VideoFile",
    "VisionObservations",
    "WeightReadings",
    "Zone",
    "read_receipts",
    "read_recording",
    "read_store",
    "read_truth",
    "write_receipts",
    "write_recording",
]

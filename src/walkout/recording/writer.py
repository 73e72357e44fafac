"""Write a ``Recording`` as a directory in format ``walkout-recording/1``.

Streams are written column by column with ``pyarrow.csv``, whose float
formatting is the shortest text that parses back to the same double, so
timestamps such as ``1580250245.19951`` keep every digit. Each file is
written under a temporary name and renamed into place.
"""

from __future__ import annotations

import gzip
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from walkout.recording._csv import write_csv_table
from walkout.recording._files import remove_if_present, replace_atomically, write_json
from walkout.recording._store import STORE_FILE, store_document
from walkout.recording.model import (
    GateEvent,
    PoseSamples,
    Recording,
    Truth,
    VideoFile,
    VisionObservations,
    WeightReadings,
)

logger = logging.getLogger(__name__)

# Compression level of weights.csv.gz: 6 is zlib's default balance of size
# against time, and the readings are read far more often than written.
GZIP_LEVEL = 6


def write_recording(
    recording: Recording, path: Path, *, gzip_weights: bool = False
) -> None:
    """Write ``recording`` to the directory ``path``, creating it if needed.

    Optional files are written only when the recording has them. A file of
    the format that the recording lacks is deleted, so the directory reads
    back as exactly this recording: an old truth.json or poses.csv, or a
    weights.csv beside a new weights.csv.gz. Video files themselves are not
    copied: only video/index.json is written.
    """
    path.mkdir(parents=True, exist_ok=True)
    write_json(store_document(recording.store), path / STORE_FILE)

    weights_name = "weights.csv.gz" if gzip_weights else "weights.csv"
    stale_weights = "weights.csv" if gzip_weights else "weights.csv.gz"
    _write_table(weights_table(recording.weights), path / weights_name)
    remove_if_present(path / stale_weights)

    if recording.poses is not None:
        _write_table(poses_table(recording.poses), path / "poses.csv")
    else:
        remove_if_present(path / "poses.csv")
    remove_if_present(path / "poses.csv.gz")

    if recording.gates:
        _write_table(gates_table(recording.gates), path / "gates.csv")
    else:
        remove_if_present(path / "gates.csv")

    if recording.vision is not None:
        _write_table(vision_table(recording.vision), path / "vision.csv")
    else:
        remove_if_present(path / "vision.csv")

    if recording.video:
        write_json(video_document(recording.video), path / "video" / "index.json")
    else:
        remove_if_present(path / "video" / "index.json")

    if recording.truth is not None:
        write_json(truth_document(recording.truth), path / "truth.json")
    else:
        remove_if_present(path / "truth.json")

    logger.info(
        "wrote %s: %d weight readings%s",
        path,
        len(recording.weights),
        " (gzip)" if gzip_weights else "",
    )


def _write_table(table: pa.Table, target: Path) -> None:
    with replace_atomically(target) as sink:
        if target.suffix != ".gz":
            write_csv_table(table, sink)
            return
        # A fixed mtime and the final name keep the gzip header reproducible.
        with gzip.GzipFile(
            filename=target.with_suffix("").name,
            mode="wb",
            fileobj=sink,
            compresslevel=GZIP_LEVEL,
            mtime=0,
        ) as packed:
            write_csv_table(table, packed)


# --- tables ----------------------------------------------------------------


def _check_lengths(name: str, **columns: Any) -> None:
    lengths = {key: len(value) for key, value in columns.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"{name} columns differ in length: {lengths}")


def weights_table(weights: WeightReadings) -> pa.Table:
    """Return the rows of weights.csv in memory order."""
    _check_lengths("weights", t=weights.t, plate=weights.plate, g=weights.g)
    if len(weights) and not (
        weights.plate.min() >= 0 and weights.plate.max() < len(weights.plate_ids)
    ):
        raise ValueError(
            "weights.plate contains an index outside the valid range "
            f"0..{len(weights.plate_ids) - 1} of weights.plate_ids"
        )
    plate_ids = pa.array(list(weights.plate_ids), type=pa.string())
    return pa.table(
        {
            "t": pa.array(weights.t, type=pa.float64()),
            "plate": pc.take(plate_ids, pa.array(weights.plate, type=pa.int32())),
            "g": pa.array(weights.g, type=pa.float64()),
        }
    )


def poses_table(poses: PoseSamples) -> pa.Table:
    """Return the rows of poses.csv in memory order."""
    xyz = np.asarray(poses.xyz, dtype=np.float64).reshape(-1, 3)
    _check_lengths(
        "poses",
        t=poses.t,
        track=poses.track,
        joint=poses.joint,
        xyz=xyz,
        score=poses.score,
    )
    return pa.table(
        {
            "t": pa.array(poses.t, type=pa.float64()),
            "track": pa.array(poses.track, type=pa.string()),
            "joint": pa.array(poses.joint, type=pa.string()),
            "x": pa.array(xyz[:, 0]),
            "y": pa.array(xyz[:, 1]),
            "z": pa.array(xyz[:, 2]),
            "score": pa.array(poses.score, type=pa.float64()),
        }
    )


def gates_table(gates: list[GateEvent]) -> pa.Table:
    """Return the rows of gates.csv; a missing account is an empty field."""
    return pa.table(
        {
            "t": pa.array([gate.t for gate in gates], type=pa.float64()),
            "action": pa.array([gate.action for gate in gates], type=pa.string()),
            "track": pa.array([gate.track for gate in gates], type=pa.string()),
            "account": pa.array(
                [gate.account or "" for gate in gates], type=pa.string()
            ),
        }
    )


def vision_table(vision: VisionObservations) -> pa.Table:
    """Return the rows of vision.csv in memory order."""
    _check_lengths(
        "vision",
        t=vision.t,
        track=vision.track,
        hand=vision.hand,
        sku=vision.sku,
        p=vision.p,
    )
    return pa.table(
        {
            "t": pa.array(vision.t, type=pa.float64()),
            "track": pa.array(vision.track, type=pa.string()),
            "hand": pa.array(vision.hand, type=pa.string()),
            "sku": pa.array(vision.sku, type=pa.string()),
            "p": pa.array(vision.p, type=pa.float64()),
        }
    )


# --- JSON documents --------------------------------------------------------


def video_document(video: dict[str, VideoFile]) -> dict[str, Any]:
    """Return video/index.json's content."""
    return {
        camera_id: {
            "file": entry.file,
            "start_t": float(entry.start_t),
            "fps": float(entry.fps),
        }
        for camera_id, entry in video.items()
    }


def truth_document(truth: Truth) -> dict[str, Any]:
    """Return truth.json's content."""
    return {
        "receipts": [
            {
                "account": receipt.account,
                "items": [
                    {"sku": sku, "qty": int(qty)} for sku, qty in receipt.items.items()
                ],
            }
            for receipt in truth.receipts
        ],
        "events": [
            {
                "t": float(event.t),
                "track": event.track,
                "action": event.action,
                "sku": event.sku,
                "qty": int(event.qty),
                "plate": event.plate,
            }
            for event in truth.events
        ],
    }

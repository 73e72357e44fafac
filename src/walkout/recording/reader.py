"""Read and validate a store recording directory (format ``walkout-recording/1``).

``read_recording`` checks everything up front: a recording that loads is
consistent (known plates and SKUs, finite readings, time ordered within each
plate). Each problem raises ``RecordingError`` with a one-line message that
names the file, the line where there is one, the bad value and what to do.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from walkout.recording._csv import (
    CsvTable,
    data_line,
    find_csv,
    first_true,
    for_each_chunk,
    read_csv_table,
)
from walkout.recording._json import JsonObject, load_json
from walkout.recording._store import read_store_file
from walkout.recording.errors import RecordingError
from walkout.recording.model import (
    FloatArray,
    GateEvent,
    IntArray,
    PoseSamples,
    Recording,
    Store,
    Truth,
    TruthEvent,
    TruthReceipt,
    VideoFile,
    VisionObservations,
    WeightReadings,
)

logger = logging.getLogger(__name__)

WEIGHT_COLUMNS = ("t", "plate", "g")
POSE_COLUMNS = ("t", "track", "joint", "x", "y", "z", "score")
GATE_COLUMNS = ("t", "action", "track", "account")
VISION_COLUMNS = ("t", "track", "hand", "sku", "p")
GATE_ACTIONS = ("enter", "exit")
HANDS = ("left", "right")
TRUTH_ACTIONS = ("take", "put")


def read_store(path: Path) -> Store:
    """Read and validate only the store.json of the recording directory ``path``."""
    _check_directory(path)
    return read_store_file(path)


def read_recording(path: Path) -> Recording:
    """Read and validate the recording directory ``path``.

    Optional files may be absent; weights.csv (or weights.csv.gz) may not.
    """
    _check_directory(path)
    store = read_store_file(path)

    weights_file = find_csv(path, "weights.csv", compressed=True)
    if weights_file is None:
        raise RecordingError(
            path / "weights.csv",
            "not found (nor weights.csv.gz)",
            hint="a recording needs the load-cell readings",
        )
    weights = read_weights(weights_file, tuple(store.plates))

    poses_file = find_csv(path, "poses.csv", compressed=True)
    gates_file = find_csv(path, "gates.csv", compressed=False)
    vision_file = find_csv(path, "vision.csv", compressed=False)
    video_file = path / "video" / "index.json"
    truth_file = path / "truth.json"

    recording = Recording(
        store=store,
        weights=weights,
        poses=None if poses_file is None else read_poses(poses_file),
        gates=[] if gates_file is None else read_gates(gates_file),
        vision=None if vision_file is None else read_vision(vision_file, store),
        video=read_video_index(video_file) if video_file.is_file() else {},
        truth=read_truth(truth_file, store=store) if truth_file.is_file() else None,
        path=path,
    )
    logger.info(
        "read %s: %d plates, %d weight readings over %.1f s, %d pose rows, "
        "%d gate events, %d vision rows, truth %s",
        path,
        len(store.plates),
        len(weights),
        weights.time_span[1] - weights.time_span[0],
        0 if recording.poses is None else len(recording.poses),
        len(recording.gates),
        0 if recording.vision is None else len(recording.vision),
        "present" if recording.truth is not None else "absent",
    )
    return recording


def _check_directory(path: Path) -> None:
    if not path.exists():
        raise RecordingError(
            path, "recording directory not found", hint="check the path"
        )
    if not path.is_dir():
        raise RecordingError(
            path,
            "is not a directory",
            hint="pass the recording directory that contains store.json",
        )


# --- weights.csv -----------------------------------------------------------


def read_weights(file: Path, plate_ids: tuple[str, ...]) -> WeightReadings:
    """Read weights.csv(.gz), grouped by plate in ``plate_ids`` order.

    Rows of one plate keep their file order (a stable sort by plate index).
    """
    table = read_csv_table(file, WEIGHT_COLUMNS, dictionary_columns=("plate",))
    if len(table) == 0:
        raise RecordingError(
            file,
            "file has a header but no readings",
            hint="a recording needs load-cell readings",
        )
    t = table.floats("t")
    g = table.floats("g")
    plate = _plate_indices(table, plate_ids)

    # Group by plate. The sort is skipped when the file is grouped already,
    # and then row i is still data row i (order None).
    order: npt.NDArray[np.intp] | None = None
    if np.any(plate[1:] < plate[:-1]):
        order = np.argsort(plate, kind="stable")
        t, g, plate = t[order], g[order], plate[order]

    _check_time_order(file, t, plate, order, plate_ids)
    return WeightReadings(plate_ids=plate_ids, t=t, plate=plate, g=g)


def _plate_indices(table: CsvTable, plate_ids: tuple[str, ...]) -> IntArray:
    names = table.text("plate")
    known = pa.array(list(plate_ids), type=pa.string())
    if pa.types.is_dictionary(names.type):
        # Look up each chunk's distinct names once, then spread them by index.
        lookups = [
            pc.index_in(chunk.dictionary, value_set=known) for chunk in names.chunks
        ]
        if all(lookup.null_count == 0 for lookup in lookups):
            return _spread_lookups(names, lookups)
        indices = pa.chunked_array(
            [
                pc.take(lookup, chunk.indices)
                for lookup, chunk in zip(lookups, names.chunks, strict=True)
            ],
            type=pa.int32(),
        )
    else:
        indices = pc.index_in(names, value_set=known)
    row = first_true(pc.is_null(indices))
    if row is not None:
        raise table.error(
            row,
            f"plate {names[row].as_py()!r} is not in store.json",
            hint="add the plate to store.json or drop its readings",
        )
    result: IntArray = indices.to_numpy().astype(np.int32, copy=False)
    return result


def _spread_lookups(names: pa.ChunkedArray, lookups: list[pa.Array]) -> IntArray:
    """Return the plate index of every row from each chunk's dictionary lookup."""
    result: IntArray = np.empty(len(names), dtype=np.int32)
    chunks = names.chunks

    def spread_chunk(index: int, start: int) -> None:
        lookup = lookups[index].to_numpy(zero_copy_only=False).astype(np.int32)
        codes = chunks[index].indices.to_numpy(zero_copy_only=False)
        # Dictionary codes are always in range, so "clip" never changes one,
        # and unlike the default mode it writes into ``out`` without a buffer.
        np.take(lookup, codes, out=result[start : start + len(codes)], mode="clip")

    for_each_chunk(names, spread_chunk)
    return result


def _check_time_order(
    file: Path,
    t: FloatArray,
    plate: IntArray,
    order: npt.NDArray[np.intp] | None,
    plate_ids: tuple[str, ...],
) -> None:
    # Time usually goes back where one plate's rows end and the next plate's
    # begin, so the comparison finds a few candidates and only those are
    # checked for being on the same plate.
    candidates = np.flatnonzero(t[1:] < t[:-1])
    backwards = candidates[plate[candidates + 1] == plate[candidates]]
    if backwards.size == 0:
        return
    later = int(backwards[0]) + 1
    line = data_line(later if order is None else int(order[later]))
    earlier_line = data_line(later - 1 if order is None else int(order[later - 1]))
    raise RecordingError(
        file,
        f"time runs backwards on plate {plate_ids[plate[later]]!r}: "
        f"t={float(t[later])!r} comes after t={float(t[later - 1])!r} "
        f"on line {earlier_line}",
        line=line,
        hint="order each plate's readings by time",
    )


# --- poses.csv, gates.csv, vision.csv --------------------------------------


def read_poses(file: Path) -> PoseSamples:
    """Read poses.csv(.gz) in file order."""
    table = read_csv_table(file, POSE_COLUMNS)
    table.require_text("track", "track id")
    table.require_text("joint", "joint name")
    t = table.floats("t")
    xyz = np.column_stack([table.floats("x"), table.floats("y"), table.floats("z")])
    score = table.floats("score", minimum=0.0, maximum=1.0)
    return PoseSamples(
        t=t,
        track=table.objects("track"),
        joint=table.objects("joint"),
        xyz=xyz,
        score=score,
    )


def read_gates(file: Path) -> list[GateEvent]:
    """Read gates.csv in file order. An ``exit`` row may leave ``account`` empty."""
    table = read_csv_table(file, GATE_COLUMNS)
    table.require_text("track", "track id")
    table.require_choice("action", GATE_ACTIONS)
    t = table.floats("t")

    actions = table.text("action")
    accounts = table.text("account")
    unpaid = pc.and_(pc.equal(actions, "enter"), pc.equal(accounts, ""))
    row = first_true(unpaid)
    if row is not None:
        raise table.error(
            row,
            "enter row has an empty account",
            hint="write the account the shopper scanned at the gate",
        )

    return [
        GateEvent(t=float(time), action=action, track=track, account=account or None)
        for time, action, track, account in zip(
            t.tolist(),
            actions.to_pylist(),
            table.text("track").to_pylist(),
            accounts.to_pylist(),
            strict=True,
        )
    ]


def read_vision(file: Path, store: Store) -> VisionObservations:
    """Read vision.csv, rejecting SKUs that are not in the store's products."""
    table = read_csv_table(file, VISION_COLUMNS)
    table.require_text("track", "track id")
    table.require_choice("hand", HANDS)

    skus = table.text("sku")
    known = pa.array(list(store.products), type=pa.string())
    unknown = pc.invert(pc.is_in(skus, value_set=known))
    row = first_true(unknown)
    if row is not None:
        raise table.error(
            row,
            f"sku {skus[row].as_py()!r} is not in store.json's products",
            hint="add the product to store.json or fix the SKU",
        )

    return VisionObservations(
        t=table.floats("t"),
        track=table.objects("track"),
        hand=table.objects("hand"),
        sku=table.objects("sku"),
        p=table.floats("p", minimum=0.0, maximum=1.0),
    )


# --- video/index.json and truth.json ---------------------------------------


def read_video_index(file: Path) -> dict[str, VideoFile]:
    """Read video/index.json: camera id to its video file, first-frame time and rate."""
    root = JsonObject(file, "", load_json(file))
    videos: dict[str, VideoFile] = {}
    for camera_id in root.data:
        entry = root.child(camera_id)
        videos[camera_id] = VideoFile(
            file=entry.text("file"),
            start_t=entry.number("start_t"),
            fps=entry.number("fps", positive=True),
        )
        if not (file.parent / videos[camera_id].file).is_file():
            logger.warning(
                "%s: video file %s of camera %s is missing",
                file,
                videos[camera_id].file,
                camera_id,
            )
    return videos


def read_truth(path: Path, *, store: Store | None = None) -> Truth:
    """Read truth.json, checking SKUs and plates against ``store`` when given.

    Quantities of a SKU listed twice in one receipt are summed.
    """
    root = JsonObject(path, "", load_json(path))
    receipts: list[TruthReceipt] = []
    for entry in root.objects("receipts"):
        items: dict[str, int] = {}
        for item in entry.objects("items"):
            sku = _known_sku(item, store)
            items[sku] = items.get(sku, 0) + item.integer("qty", minimum=0)
        receipts.append(TruthReceipt(account=entry.text("account"), items=items))

    events: list[TruthEvent] = []
    for entry in root.objects("events", optional=True):
        action = entry.text("action")
        if action not in TRUTH_ACTIONS:
            raise entry.error("action", f"is {action!r}", "expected take or put")
        plate = entry.text("plate")
        if store is not None and plate not in store.plates:
            raise entry.error(
                "plate", f"{plate!r} is not in store.json", "fix the plate id"
            )
        events.append(
            TruthEvent(
                t=entry.number("t"),
                track=entry.text("track"),
                action=action,
                sku=_known_sku(entry, store),
                qty=entry.integer("qty", minimum=1),
                plate=plate,
            )
        )
    return Truth(receipts=receipts, events=events)


def _known_sku(entry: JsonObject, store: Store | None) -> str:
    sku = entry.text("sku")
    if store is not None and sku not in store.products:
        raise entry.error(
            "sku",
            f"{sku!r} is not in store.json's products",
            "add the product to store.json or fix the SKU",
        )
    return sku

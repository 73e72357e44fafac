"""Validation and storage of live sensor batches.

A batch carries any of ``weights``, ``poses`` and ``vision`` rows as
columnar arrays with the columns of the recording format. Every value is
checked before anything is stored, and a batch is committed before it is
acknowledged. A retried batch (same ``batch_id``) is stored once.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from walkout.db.live_models import BATCH_ID_LENGTH, LiveInput, LivePlateClock
from walkout.db.models import Store
from walkout.store.errors import ConflictError, InvalidRequestError, NotFoundError

from .fusion import GATE, SENSORS

logger = logging.getLogger(__name__)

# Rows per stream in one batch; about a minute of a 120-plate store at 60 Hz.
MAX_ROWS = 500_000

_NAME = re.compile(r"^[\x21-\x7e]{1,64}$")
_JOINT = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
HANDS = ("left", "right")


class WeightRows(BaseModel):
    """Load-cell readings: ``t`` (s), ``plate`` (plate id), ``g`` (grams)."""

    # Strict, so that true, false and numeric strings are rejected, not coerced.
    model_config = ConfigDict(strict=True)

    t: list[float] = Field(max_length=MAX_ROWS)
    plate: list[str] = Field(max_length=MAX_ROWS)
    g: list[float] = Field(max_length=MAX_ROWS)


class PoseRows(BaseModel):
    """Tracked joints: time, track, joint name, position x, y, z (m) and score."""

    # Strict, so that true, false and numeric strings are rejected, not coerced.
    model_config = ConfigDict(strict=True)

    t: list[float] = Field(max_length=MAX_ROWS)
    track: list[str] = Field(max_length=MAX_ROWS)
    joint: list[str] = Field(max_length=MAX_ROWS)
    x: list[float] = Field(max_length=MAX_ROWS)
    y: list[float] = Field(max_length=MAX_ROWS)
    z: list[float] = Field(max_length=MAX_ROWS)
    score: list[float] = Field(max_length=MAX_ROWS)


class VisionRows(BaseModel):
    """Products recognised in hands: ``t``, ``track``, ``hand``, ``sku``, ``p``."""

    # Strict, so that true, false and numeric strings are rejected, not coerced.
    model_config = ConfigDict(strict=True)

    t: list[float] = Field(max_length=MAX_ROWS)
    track: list[str] = Field(max_length=MAX_ROWS)
    hand: list[str] = Field(max_length=MAX_ROWS)
    sku: list[str] = Field(max_length=MAX_ROWS)
    p: list[float] = Field(max_length=MAX_ROWS)


class SensorBatch(BaseModel):
    """One batch of sensor rows from a gateway.

    ``batch_id`` names the batch uniquely per store, for example the
    gateway's id and its sequence number; a retry with the same id is
    stored once.
    """

    batch_id: str = Field(
        min_length=1, max_length=BATCH_ID_LENGTH, pattern=r"^[\x21-\x7e]+$"
    )
    weights: WeightRows | None = None
    poses: PoseRows | None = None
    vision: VisionRows | None = None


@dataclass(frozen=True)
class BatchAck:
    """The acknowledgement of a stored batch."""

    batch_id: str
    input_id: int
    duplicate: bool
    weights: int
    poses: int
    vision: int


def _invalid(field: str, row: int | None, value: object, reason: str) -> None:
    where = field if row is None else f"{field}[{row}]"
    raise InvalidRequestError(
        "invalid_sensor_batch", f"{where} = {value!r} is invalid: {reason}"
    )


def _check_lengths(stream: str, columns: dict[str, list[Any]]) -> int:
    lengths = {name: len(values) for name, values in columns.items()}
    expected = next(iter(lengths.values()))
    for name, length in lengths.items():
        if length != expected:
            _invalid(
                f"{stream}.{name}",
                None,
                f"{length} values",
                f"every column of {stream} needs {expected} values, as {stream}.t has",
            )
    return expected


def _check_finite(field: str, values: list[float]) -> None:
    for row, value in enumerate(values):
        if not math.isfinite(value):
            _invalid(field, row, value, "a finite number is required")


def _check_range(field: str, values: list[float], low: float, high: float) -> None:
    for row, value in enumerate(values):
        if not low <= value <= high:
            _invalid(field, row, value, f"it must lie in [{low}, {high}]")


def _check_names(field: str, values: list[str], pattern: re.Pattern[str]) -> None:
    for row, value in enumerate(values):
        if not pattern.match(value):
            _invalid(field, row, value, f"it must match {pattern.pattern}")


def sensor_clock(clocks: Iterable[LivePlateClock], now: datetime) -> float | None:
    """Return the store's sensor time at ``now``, or None before any reading.

    Each plate's last reading is carried forward by the wall time since it
    was received. The clock is the newest of those, so plates that stopped
    reporting do not hold it back.
    """
    times = [
        row.t + max(0.0, (now - row.received_at).total_seconds())
        for row in clocks
        if row.received_at is not None
    ]
    return max(times, default=None)


def _check_weights(
    rows: WeightRows,
    plates: set[str],
    last_t: dict[str, float],
    reference: float | None,
    max_lead_s: float,
) -> dict[str, float]:
    """Check readings and return each plate's last time after this batch.

    A reading more than ``max_lead_s`` ahead of ``reference`` (the store's
    sensor clock, or this batch's median time before the store has one) is
    rejected. Stored, it would make every later reading of its plate look
    as if time went back.
    """
    _check_lengths("weights", {"t": rows.t, "plate": rows.plate, "g": rows.g})
    _check_finite("weights.t", rows.t)
    _check_finite("weights.g", rows.g)
    if reference is None:
        reference = statistics.median(rows.t)
        source = "the median time of this batch"
    else:
        source = "the store's newest reading, carried forward in wall time"
    clock = dict(last_t)
    for row, (t, plate) in enumerate(zip(rows.t, rows.plate, strict=True)):
        if plate not in plates:
            _invalid(
                "weights.plate", row, plate, "the plate is not in the store layout"
            )
        if t > reference + max_lead_s:
            _invalid(
                "weights.t",
                row,
                t,
                f"it is {t - reference:.1f} s ahead of t={reference:.3f} ({source}). "
                f"Readings may lead by at most {max_lead_s:g} s. Check the clock "
                f"of the gateway that reads plate {plate}",
            )
        previous = clock.get(plate)
        if previous is not None and t < previous:
            _invalid(
                "weights.t",
                row,
                t,
                f"time goes back on plate {plate} from {previous!r}; send each "
                "plate's readings in time order",
            )
        clock[plate] = t
    return clock


def _check_poses(rows: PoseRows) -> None:
    _check_lengths(
        "poses",
        {
            "t": rows.t,
            "track": rows.track,
            "joint": rows.joint,
            "x": rows.x,
            "y": rows.y,
            "z": rows.z,
            "score": rows.score,
        },
    )
    for name in ("t", "x", "y", "z", "score"):
        _check_finite(f"poses.{name}", getattr(rows, name))
    _check_range("poses.score", rows.score, 0.0, 1.0)
    _check_names("poses.track", rows.track, _NAME)
    _check_names("poses.joint", rows.joint, _JOINT)


def _check_vision(rows: VisionRows, skus: set[str]) -> None:
    _check_lengths(
        "vision",
        {
            "t": rows.t,
            "track": rows.track,
            "hand": rows.hand,
            "sku": rows.sku,
            "p": rows.p,
        },
    )
    _check_finite("vision.t", rows.t)
    _check_finite("vision.p", rows.p)
    _check_range("vision.p", rows.p, 0.0, 1.0)
    _check_names("vision.track", rows.track, _NAME)
    for row, hand in enumerate(rows.hand):
        if hand not in HANDS:
            _invalid("vision.hand", row, hand, "use left or right")
    for row, sku in enumerate(rows.sku):
        if sku not in skus:
            _invalid("vision.sku", row, sku, "the sku is not in the store catalogue")


def _layout_names(store: Store) -> tuple[set[str], set[str]]:
    layout = store.layout
    plates = {str(plate["id"]) for plate in layout.get("plates", [])}
    skus = {str(product["sku"]) for product in layout.get("products", [])}
    return plates, skus


def _find(session: Session, store_id: str, batch_id: str) -> LiveInput | None:
    statement = select(LiveInput).where(
        LiveInput.store_id == store_id, LiveInput.batch_id == batch_id
    )
    return session.scalars(statement).first()


def _ack(row: LiveInput, *, duplicate: bool) -> BatchAck:
    payload = row.payload
    return BatchAck(
        batch_id=row.batch_id,
        input_id=row.id,
        duplicate=duplicate,
        weights=len((payload.get("weights") or {}).get("t", [])),
        poses=len((payload.get("poses") or {}).get("t", [])),
        vision=len((payload.get("vision") or {}).get("t", [])),
    )


def _batch_payload(batch: SensorBatch) -> dict[str, Any]:
    """Return the rows of ``batch`` as they are stored, leaving out empty streams."""
    streams = {"weights": batch.weights, "poses": batch.poses, "vision": batch.vision}
    return {
        name: rows.model_dump()
        for name, rows in streams.items()
        if rows is not None and rows.t
    }


def _ack_retry(existing: LiveInput, batch: SensorBatch) -> BatchAck:
    """Acknowledge a retried batch again, or raise if its id now names other rows."""
    if existing.payload != _batch_payload(batch):
        raise ConflictError(
            "batch_id_reused",
            f"batch id {batch.batch_id!r} was stored with other rows; a retry "
            "must repeat the same rows, and new rows need a new batch id",
        )
    return _ack(existing, duplicate=True)


def store_batch(
    session: Session,
    store_id: str,
    batch: SensorBatch,
    *,
    now: datetime,
    max_lead_s: float,
) -> BatchAck:
    """Validate ``batch`` and commit it as an input of ``store_id``'s stream.

    Raises ``InvalidRequestError`` naming the field, row and value of the
    first invalid value, and ``NotFoundError`` for an unknown store. A
    batch whose id was stored before is acknowledged again, unchanged.
    Readings dated more than ``max_lead_s`` ahead of the store's sensor
    clock are rejected (see ``sensor_clock``).
    """
    store = session.get(Store, store_id)
    if store is None:
        raise NotFoundError("store_not_found", f"store {store_id!r} not found")
    existing = _find(session, store_id, batch.batch_id)
    if existing is not None:
        return _ack_retry(existing, batch)

    plates, skus = _layout_names(store)
    payload: dict[str, Any] = {}
    clock: dict[str, float] = {}
    stored_clocks: dict[str, LivePlateClock] = {}
    if batch.weights is not None and batch.weights.t:
        statement = select(LivePlateClock).where(LivePlateClock.store_id == store_id)
        stored_clocks = {row.plate: row for row in session.scalars(statement)}
        clock = _check_weights(
            batch.weights,
            plates,
            {p: row.t for p, row in stored_clocks.items()},
            sensor_clock(stored_clocks.values(), now),
            max_lead_s,
        )
        payload["weights"] = batch.weights.model_dump()
    if batch.poses is not None and batch.poses.t:
        _check_poses(batch.poses)
        payload["poses"] = batch.poses.model_dump()
    if batch.vision is not None and batch.vision.t:
        _check_vision(batch.vision, skus)
        payload["vision"] = batch.vision.model_dump()

    row = LiveInput(
        store_id=store_id,
        batch_id=batch.batch_id,
        kind=SENSORS,
        payload=payload,
        received_at=now,
    )
    session.add(row)
    for plate, t in clock.items():
        stored = stored_clocks.get(plate)
        if stored is None:
            session.add(
                LivePlateClock(store_id=store_id, plate=plate, t=t, received_at=now)
            )
        elif stored.t != t:
            stored.t = t
            stored.received_at = now
    try:
        session.commit()
    except IntegrityError:
        # Another request stored the same batch id (or plate clock) first.
        session.rollback()
        existing = _find(session, store_id, batch.batch_id)
        if existing is None:
            raise ConflictError(
                "batch_conflict",
                f"batch {batch.batch_id!r} raced another batch of store "
                f"{store_id!r} for a plate clock; send it again",
            ) from None
        return _ack_retry(existing, batch)
    logger.debug(
        "sensor_batch_stored store=%s batch=%s input=%d", store_id, row.batch_id, row.id
    )
    return _ack(row, duplicate=False)


def add_gate_input(
    session: Session,
    *,
    store_id: str,
    visit_id: str,
    action: str,
    tracks: list[str],
    t: float,
    staff: bool,
    now: datetime,
) -> LiveInput:
    """Add a gate row to the store's input stream; the caller commits.

    ``visit_id`` is the fusion account of the tracks. Its batch id is
    derived from the visit, action and tracks, so it is stored once.
    """
    digest = hashlib.sha256("\n".join(tracks).encode()).hexdigest()[:16]
    row = LiveInput(
        store_id=store_id,
        batch_id=f"gate:{visit_id}:{action}:{digest}",
        kind=GATE,
        payload={
            "t": t,
            "action": action,
            "tracks": list(tracks),
            "account": visit_id,
            "staff": staff,
        },
        received_at=now,
    )
    session.add(row)
    return row

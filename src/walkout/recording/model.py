"""In-memory form of a store recording (format ``walkout-recording/1``).

Sensor streams are array-backed (one numpy array per column); layout,
catalogue and decisions are plain dataclasses. Units are metres, grams and
seconds on the recording's clock. Money is ``Decimal``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]

RECORDING_FORMAT = "walkout-recording/1"
RECEIPTS_FORMAT = "walkout-receipts/1"


# --- store.json ------------------------------------------------------------


@dataclass(frozen=True)
class StoreInfo:
    id: str
    name: str
    currency: str


@dataclass(frozen=True)
class Product:
    sku: str
    name: str
    price: Decimal
    unit_weight_g: float
    unit_weight_sd_g: float | None = None
    age_restricted: bool = False
    vision_class: str | None = None


@dataclass(frozen=True)
class Plate:
    """One load-cell plate; ``center`` is the middle of its top surface."""

    id: str
    gondola: int
    shelf: int
    plate: int
    center: tuple[float, float, float]
    size: tuple[float, float]
    max_load_g: float | None = None


@dataclass(frozen=True)
class Facing:
    """One planogram entry: a product placed on one or more plates."""

    sku: str
    plates: tuple[str, ...]
    qty: int | None = None


@dataclass(frozen=True)
class Zone:
    id: str
    kind: str
    polygon: tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class Camera:
    """A calibrated camera; ``K`` is always in pixels once loaded."""

    id: str
    width: int
    height: int
    K: FloatArray
    dist: FloatArray
    world_to_camera: FloatArray


@dataclass
class Store:
    info: StoreInfo
    products: dict[str, Product]
    plates: dict[str, Plate]
    planogram: list[Facing]
    zones: list[Zone] = field(default_factory=list)
    staff_accounts: frozenset[str] = frozenset()
    cameras: list[Camera] = field(default_factory=list)

    def neighbours(self, plate_id: str) -> list[str]:
        """Return the plates directly left and right of ``plate_id`` on its shelf."""
        plate = self.plates[plate_id]
        return [
            other.id
            for other in self.plates.values()
            if other.gondola == plate.gondola
            and other.shelf == plate.shelf
            and abs(other.plate - plate.plate) == 1
        ]


# --- streams ---------------------------------------------------------------


@dataclass
class PlateSeries:
    """Readings of one plate, ordered by time."""

    plate: str
    t: FloatArray
    g: FloatArray


@dataclass
class WeightReadings:
    """All load-cell readings, grouped by plate and ordered by time within one.

    ``plate`` holds indices into ``plate_ids``; rows of one plate are
    contiguous, so ``series`` slices without copying.
    """

    plate_ids: tuple[str, ...]
    t: FloatArray
    plate: IntArray
    g: FloatArray

    def __len__(self) -> int:
        return int(self.t.shape[0])

    def series(self) -> Iterator[PlateSeries]:
        """Yield one ``PlateSeries`` per plate that has readings."""
        if len(self) == 0:
            return
        # Comparing neighbours avoids the copy and the difference array that
        # np.diff with prepend makes, which matters at tens of millions of rows.
        changes = np.flatnonzero(self.plate[1:] != self.plate[:-1]) + 1
        starts = np.concatenate(([0], changes))
        ends = np.append(starts[1:], len(self))
        for start, end in zip(starts, ends, strict=True):
            index = int(self.plate[start])
            yield PlateSeries(
                self.plate_ids[index], self.t[start:end], self.g[start:end]
            )

    def for_plate(self, plate_id: str) -> PlateSeries:
        index = self.plate_ids.index(plate_id)
        rows = np.flatnonzero(self.plate == index)
        return PlateSeries(plate_id, self.t[rows], self.g[rows])

    @property
    def time_span(self) -> tuple[float, float]:
        if len(self) == 0:
            return (0.0, 0.0)
        return (float(self.t.min()), float(self.t.max()))


@dataclass
class PoseSamples:
    """Tracked joints: one row per (time, track, joint)."""

    t: FloatArray
    track: npt.NDArray[np.object_]
    joint: npt.NDArray[np.object_]
    xyz: FloatArray
    score: FloatArray

    def __len__(self) -> int:
        return int(self.t.shape[0])


@dataclass(frozen=True)
class GateEvent:
    t: float
    action: str
    track: str
    account: str | None


@dataclass
class VisionObservations:
    """Recognised products in hands; several rows per observation are candidates."""

    t: FloatArray
    track: npt.NDArray[np.object_]
    hand: npt.NDArray[np.object_]
    sku: npt.NDArray[np.object_]
    p: FloatArray

    def __len__(self) -> int:
        return int(self.t.shape[0])


@dataclass(frozen=True)
class VideoFile:
    file: str
    start_t: float
    fps: float


# --- truth and receipts ----------------------------------------------------


@dataclass(frozen=True)
class TruthEvent:
    t: float
    track: str
    action: str
    sku: str
    qty: int
    plate: str


@dataclass
class TruthReceipt:
    account: str
    items: dict[str, int]


@dataclass
class Truth:
    receipts: list[TruthReceipt]
    events: list[TruthEvent] = field(default_factory=list)


@dataclass
class ReceiptLine:
    sku: str
    qty: int
    unit_price: Decimal
    confidence: float
    needs_review: bool = False
    review_reason: str | None = None


@dataclass
class Receipt:
    account: str
    tracks: list[str]
    items: list[ReceiptLine]

    @property
    def total(self) -> Decimal:
        return sum((line.unit_price * line.qty for line in self.items), Decimal("0.00"))

    @property
    def needs_review(self) -> bool:
        return any(line.needs_review for line in self.items)


# --- the whole recording ---------------------------------------------------


@dataclass
class Recording:
    store: Store
    weights: WeightReadings
    poses: PoseSamples | None = None
    gates: list[GateEvent] = field(default_factory=list)
    vision: VisionObservations | None = None
    video: dict[str, VideoFile] = field(default_factory=dict)
    truth: Truth | None = None
    path: Path | None = None

"""Products in shoppers' hands: wrist crops through the recogniser to ``vision.csv``.

For every confirmed track and hand, a square ``crop_size_m`` wide at the
wrist's depth is cut out around the wrist and the product recogniser
classifies it. The square comes from the nearest camera that detected the
wrist, or else from the nearest camera that has the wrist's projected
store position in frame. Only hands
at a shelf, or that left one less than ``after_shelf_s`` ago, are cropped,
because that is where an item is picked up or put back. Elsewhere the
crop shows clothes and floor.

The recogniser's classes become skus through each product's
``vision_class`` in store.json, which names a fine class of the recogniser
or one of its coarse classes (whose probability is the sum over its fine
classes). A class that no product has writes nothing. Products that share
a class split its probability evenly, as the simulator's ``vision.csv``
does, so the rows of one observation sum to at most 1.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from walkout.perception.geometry import camera_centre, project
from walkout.perception.pose import Image
from walkout.perception.recognition import Recogniser
from walkout.perception.tracking import Track
from walkout.recording import Camera, FloatArray, Plate, Store, VisionObservations
from walkout.recording._csv import write_csv_table
from walkout.recording._files import replace_atomically
from walkout.recording.writer import vision_table

logger = logging.getLogger(__name__)

HANDS = {"left_wrist": "left", "right_wrist": "right"}


@dataclass(frozen=True)
class HandParams:
    """When and how hands are cropped and how many candidates are written.

    ``crop_size_m``: side of the crop around the wrist, in metres at the
    wrist's depth; larger takes in more of a big item but also more
    background. ``min_crop_px`` and ``max_crop_px`` bound it in pixels.
    ``shelf_reach_m``: a wrist closer than this to a plate's top surface
    counts as at the shelf. ``after_shelf_s``: how long after leaving a
    shelf a hand is still cropped, to see the item it took.
    ``interval_s``: the least time between two crops of one hand, which
    bounds the recogniser's cost. ``top_k``: candidate skus written per
    observation. ``min_p``: candidates below this probability are left out.
    """

    crop_size_m: float = 0.35
    min_crop_px: int = 48
    max_crop_px: int = 320
    shelf_reach_m: float = 0.35
    after_shelf_s: float = 1.0
    interval_s: float = 0.2
    top_k: int = 3
    min_p: float = 0.01


@dataclass
class HandCrop:
    """One wrist crop: who, when, which camera, and the RGB pixels."""

    t: float
    track: str
    hand: str
    camera: str
    rgb: Image


def product_classes(store: Store) -> dict[str, list[str]]:
    """Return the skus of each ``vision_class`` in the store, sorted."""
    skus: dict[str, list[str]] = {}
    for sku in sorted(store.products):
        vision_class = store.products[sku].vision_class
        if vision_class is not None:
            skus.setdefault(vision_class, []).append(sku)
    return skus


def plate_distance(point: FloatArray, plate: Plate) -> float:
    """Return the distance in metres from ``point`` to a plate's top rectangle."""
    dx = max(0.0, abs(point[0] - plate.center[0]) - plate.size[0] / 2)
    dy = max(0.0, abs(point[1] - plate.center[1]) - plate.size[1] / 2)
    dz = point[2] - plate.center[2]
    return float(np.sqrt(dx * dx + dy * dy + dz * dz))


def crop_square(frame: Image, u: float, v: float, side: int) -> Image:
    """Cut a ``side``-pixel square centred on (u, v), padding outside the frame.

    Pixels outside the frame repeat its border, so a wrist at the image
    edge still gives a full square.
    """
    half = side // 2
    left = round(u) - half
    top = round(v) - half
    height, width = frame.shape[:2]
    pad = max(0, -left, -top, left + side - width, top + side - height)
    if pad:
        frame = np.asarray(
            cv2.copyMakeBorder(frame, pad, pad, pad, pad, cv2.BORDER_REPLICATE),
            dtype=np.uint8,
        )
        left += pad
        top += pad
    crop: Image = frame[top : top + side, left : left + side]
    return crop


@dataclass
class _HandState:
    last_at_shelf_t: float = -np.inf
    last_crop_t: float = -np.inf


@dataclass
class HandObserver:
    """Collect wrist crops per instant, recognise them and keep vision rows."""

    store: Store
    cameras: Mapping[str, Camera]
    recogniser: Recogniser
    params: HandParams = field(default_factory=HandParams)
    crops: int = 0
    rows: dict[str, list[object]] = field(
        default_factory=lambda: {k: [] for k in ("t", "track", "hand", "sku", "p")}
    )
    _states: dict[tuple[str, str], _HandState] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._plates = list(self.store.plates.values())
        self._skus = product_classes(self.store)
        self._class_columns = self._class_columns_of(self._skus)

    def _class_columns_of(
        self, skus: Mapping[str, list[str]]
    ) -> dict[str, npt.NDArray[np.int64]]:
        """Map each store vision class to the recogniser's fine class ids."""
        classes = self.recogniser.classes
        columns: dict[str, npt.NDArray[np.int64]] = {}
        for name in skus:
            ids = [i for i, fine in enumerate(classes.fine_names) if fine == name]
            if not ids:
                ids = [
                    i for i in range(classes.num_fine) if classes.coarse_name(i) == name
                ]
            if not ids:
                logger.warning(
                    "vision class %r of products %s is not a class of the "
                    "recogniser; they get no vision rows",
                    name,
                    ", ".join(skus[name]),
                )
                continue
            columns[name] = np.asarray(ids, dtype=np.int64)
        return columns

    @property
    def active(self) -> bool:
        """Whether any product maps to a recogniser class."""
        return bool(self._class_columns)

    def observe(
        self, t: float, frames: Mapping[str, Image], tracks: Sequence[Track]
    ) -> list[HandCrop]:
        """Crop the hands at or leaving a shelf, recognise them, keep the rows.

        Returns the crops taken at this instant.
        """
        if not self.active:
            return []
        crops = []
        for track in tracks:
            for joint, hand in HANDS.items():
                if joint not in track.joints:
                    continue
                wrist = track.joints[joint][0]
                detected = track.pixels.get(joint, {})
                crop = self._crop_if_due(t, track.id, hand, wrist, detected, frames)
                if crop is not None:
                    crops.append(crop)
        if crops:
            self._recognise(crops)
        return crops

    def _crop_if_due(
        self,
        t: float,
        track: str,
        hand: str,
        wrist: FloatArray,
        detected: Mapping[str, tuple[float, float]],
        frames: Mapping[str, Image],
    ) -> HandCrop | None:
        state = self._states.setdefault((track, hand), _HandState())
        if any(
            plate_distance(wrist, plate) <= self.params.shelf_reach_m
            for plate in self._plates
        ):
            state.last_at_shelf_t = t
        if t - state.last_at_shelf_t > self.params.after_shelf_s:
            return None
        # The tolerance keeps frame times such as 0.6 - 0.4 on the grid.
        if t - state.last_crop_t < self.params.interval_s - 1e-6:
            return None
        crop = self._crop(wrist, detected, frames)
        if crop is None:
            return None
        state.last_crop_t = t
        camera, rgb = crop
        return HandCrop(t, track, hand, camera, rgb)

    def _crop(
        self,
        wrist: FloatArray,
        detected: Mapping[str, tuple[float, float]],
        frames: Mapping[str, Image],
    ) -> tuple[str, Image] | None:
        """Return the RGB crop of the wrist from the nearest camera that has it.

        Cameras that detected the wrist at this instant come first, and the
        crop is centred on the detected pixel. A calibration error or a
        single-view lift moves the projected store position off the hand,
        while the detected pixel stays on it. Otherwise the projected
        position is used.
        """
        # (not detected, distance to the camera, camera id, u, v, depth).
        best: tuple[bool, float, str, float, float, float] | None = None
        for camera_id, frame in frames.items():
            camera = self.cameras.get(camera_id)
            if camera is None:
                continue
            pixels, depths = project(camera, wrist[None, :])
            u, v = detected.get(camera_id, (float(pixels[0, 0]), float(pixels[0, 1])))
            if np.isnan(u) or not (0 <= u < frame.shape[1] and 0 <= v < frame.shape[0]):
                continue
            distance = float(np.linalg.norm(wrist - camera_centre(camera)))
            depth = float(depths[0]) if depths[0] > 0 else distance
            key = (camera_id not in detected, distance, camera_id, u, v, depth)
            if best is None or key[:2] < best[:2]:
                best = key
        if best is None:
            return None
        _, _, camera_id, u, v, depth = best
        camera = self.cameras[camera_id]
        focal = float(np.asarray(camera.K)[0, 0])
        side = int(
            np.clip(
                focal * self.params.crop_size_m / max(depth, 1e-3),
                self.params.min_crop_px,
                self.params.max_crop_px,
            )
        )
        square = crop_square(frames[camera_id], u, v, side)
        rgb: Image = np.asarray(cv2.cvtColor(square, cv2.COLOR_BGR2RGB), np.uint8)
        return camera_id, rgb

    def _recognise(self, crops: Sequence[HandCrop]) -> None:
        probabilities = self.recogniser.probabilities([crop.rgb for crop in crops])
        self.crops += len(crops)
        for crop, row in zip(crops, probabilities, strict=True):
            candidates: list[tuple[float, str]] = []
            for name, columns in self._class_columns.items():
                p_class = float(row[columns].sum())
                skus = self._skus[name]
                candidates.extend((p_class / len(skus), sku) for sku in skus)
            candidates.sort(key=lambda item: (-item[0], item[1]))
            for p, sku in candidates[: self.params.top_k]:
                if p < self.params.min_p:
                    break
                self.rows["t"].append(round(crop.t, 3))
                self.rows["track"].append(crop.track)
                self.rows["hand"].append(crop.hand)
                self.rows["sku"].append(sku)
                self.rows["p"].append(round(min(1.0, p), 4))

    def observations(self) -> VisionObservations:
        """Return the rows collected so far, in time order."""
        t = np.asarray(self.rows["t"], dtype=np.float64)
        order = np.argsort(t, kind="stable")
        return VisionObservations(
            t=t[order],
            track=np.asarray(self.rows["track"], dtype=object)[order],
            hand=np.asarray(self.rows["hand"], dtype=object)[order],
            sku=np.asarray(self.rows["sku"], dtype=object)[order],
            p=np.asarray(self.rows["p"], dtype=np.float64)[order],
        )


def write_vision(target: Path, observations: VisionObservations) -> None:
    """Write ``vision.csv`` through a temporary file and a rename."""
    with replace_atomically(target) as sink:
        write_csv_table(vision_table(observations), sink)
    logger.info("wrote %s: %d rows", target, len(observations))

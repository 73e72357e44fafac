"""NanoStore layout (store_meta/*.json): plate placement and camera calibration."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from walkout.importers._errors import AutocheckoutImportError
from walkout.importers._geometry import (
    RigidTransform,
    footprint_size,
    plate_top_center,
    world_to_camera_metres,
)
from walkout.recording import Camera

logger = logging.getLogger(__name__)

# The RGB cameras are ids 1 to 12; ids 21 and up are depth cameras.
RGB_CAMERA_IDS = tuple(str(number) for number in range(1, 13))
# Every NanoStore RGB camera delivers 640x360 frames.
RGB_WIDTH = 640
RGB_HEIGHT = 360


@dataclass(frozen=True)
class PlateGeometry:
    gondola: int
    shelf: int
    plate: int
    center: tuple[float, float, float]
    size: tuple[float, float]

    @property
    def id(self) -> str:
        return f"{self.gondola}.{self.shelf}.{self.plate}"


def load_json_file(path: Path, description: str) -> Any:
    if not path.is_file():
        raise AutocheckoutImportError(
            path, f"{description} not found", "pass the right folder or file"
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise AutocheckoutImportError(
            path, f"cannot read {description} ({error})", "replace it with a valid copy"
        ) from error


def _placement(entry: dict[str, Any]) -> tuple[RigidTransform, float, float]:
    coordinates = entry["coordinates"]
    transform = coordinates["transform"]
    rotation = [float(transform["rotation"][axis]) for axis in "xyz"]
    translation = [float(transform["translation"][axis]) for axis in "xyz"]
    placement = RigidTransform.from_rotvec(rotation, translation)
    return placement, float(coordinates["dim_x"]), float(coordinates["dim_y"])


def read_plates(store_meta: Path) -> dict[str, PlateGeometry]:
    """Place every plate of Plates.json in the world, keyed by "G.S.P"."""
    files = {
        name: store_meta / f"{name}.json" for name in ("Gondolas", "Shelves", "Plates")
    }
    documents = {name: load_json_file(path, path.name) for name, path in files.items()}
    current = files["Gondolas"]
    try:
        gondolas = {
            int(entry["id"]["id"]): _placement(entry)[0]
            for entry in documents["Gondolas"]["gondolas"]
        }
        current = files["Shelves"]
        shelves = {
            (int(entry["id"]["gondola_id"]["id"]), int(entry["id"]["shelf_index"])): (
                _placement(entry)[0]
            )
            for entry in documents["Shelves"]["shelves"]
        }
        current = files["Plates"]
        plates: dict[str, PlateGeometry] = {}
        for entry in documents["Plates"]["plates"]:
            shelf_id = entry["id"]["shelf_id"]
            gondola = int(shelf_id["gondola_id"]["id"])
            shelf = int(shelf_id["shelf_index"])
            number = int(entry["id"]["plate_index"])
            in_shelf, dim_x, dim_y = _placement(entry)
            world = gondolas[gondola].compose(shelves[(gondola, shelf)])
            world = world.compose(in_shelf)
            center = plate_top_center(world, dim_x, dim_y)
            geometry = PlateGeometry(
                gondola=gondola,
                shelf=shelf,
                plate=number,
                center=(float(center[0]), float(center[1]), float(center[2])),
                size=footprint_size(world, dim_x, dim_y),
            )
            plates[geometry.id] = geometry
    except (KeyError, TypeError, ValueError) as error:
        raise AutocheckoutImportError(
            current,
            f"unexpected layout entry ({type(error).__name__}: {error})",
            "use the store_meta files of the AiFi NanoStore",
        ) from error
    return plates


def read_cameras(store_meta: Path) -> list[Camera]:
    """Read the RGB cameras of calibration.json in the recording's conventions.

    ``Tw`` maps camera coordinates (OpenCV axes, z forward) to world inches,
    and ``K`` is normalised by the image size. The result has ``K`` in
    pixels and ``world_to_camera`` in metres.

    NOTE: Even with footage matched to the right calibration, projected upper
    shelves sit 20 to 80 px off the visible ones in some frames.
    """
    path = store_meta / "calibration.json"
    document = load_json_file(path, "camera calibration")
    cameras: list[Camera] = []
    try:
        entries = document["cameras"]
        for camera_id in RGB_CAMERA_IDS:
            if camera_id not in entries:
                logger.warning("%s: no calibration for camera %s", path, camera_id)
                continue
            entry = entries[camera_id]
            K = np.array(entry["K"], dtype=np.float64)
            if K.shape != (3, 3):
                raise ValueError(f"camera {camera_id}: K has shape {K.shape}")
            K[0, :] *= RGB_WIDTH
            K[1, :] *= RGB_HEIGHT
            tw = np.array(entry["Tw"], dtype=np.float64)
            world_to_camera = world_to_camera_metres(tw)
            cameras.append(
                Camera(
                    id=camera_id,
                    width=RGB_WIDTH,
                    height=RGB_HEIGHT,
                    K=K,
                    dist=np.array(entry["dist_coeffs"], dtype=np.float64),
                    world_to_camera=world_to_camera,
                )
            )
    except (KeyError, TypeError, ValueError) as error:
        raise AutocheckoutImportError(
            path,
            f"unexpected calibration entry ({type(error).__name__}: {error})",
            "use the calibration.json of the AiFi NanoStore",
        ) from error
    return cameras

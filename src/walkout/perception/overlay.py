"""Overlay pictures and videos: camera frames with plates, skeletons and track ids."""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from walkout.perception.geometry import project
from walkout.perception.outputs import temporary_sibling
from walkout.perception.pose import PersonDetection, draw_detection
from walkout.perception.tracking import Track
from walkout.recording import Camera, Plate

logger = logging.getLogger(__name__)

Image = npt.NDArray[np.uint8]

# BGR colour per gondola number; other gondolas are grey.
GONDOLA_COLOURS = {
    1: (0, 0, 255),
    2: (0, 200, 0),
    3: (255, 0, 0),
    4: (0, 220, 220),
    5: (255, 0, 255),
}


def plate_outline(plate: Plate) -> npt.NDArray[np.float64]:
    """Return the four corners (4, 3) of a plate's top surface in store metres."""
    cx, cy, cz = plate.center
    sx, sy = plate.size
    return np.array(
        [
            [cx - sx / 2, cy - sy / 2, cz],
            [cx + sx / 2, cy - sy / 2, cz],
            [cx + sx / 2, cy + sy / 2, cz],
            [cx - sx / 2, cy + sy / 2, cz],
        ]
    )


def draw_plates(
    frame: Image,
    camera: Camera,
    plates: Iterable[Plate],
    *,
    label: Collection[str] = (),
) -> None:
    """Draw the projected top surface of each plate onto ``frame`` in place.

    Plates partly behind the camera or far outside the image are skipped.
    Plate ids in ``label`` are written next to their outline.
    """
    height, width = frame.shape[:2]
    for plate in plates:
        pixels, _ = project(camera, plate_outline(plate))
        if np.isnan(pixels).any() or np.abs(pixels).max() > 4 * max(width, height):
            continue
        colour = GONDOLA_COLOURS.get(plate.gondola, (160, 160, 160))
        cv2.polylines(frame, [pixels.astype(np.int32)], True, colour, 1)
        if plate.id in label:
            u, v = pixels.mean(axis=0)
            cv2.putText(
                frame,
                plate.id,
                (int(u), int(v)),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.4,
                (255, 255, 255),
                1,
            )


class OverlayWriter:
    """Write a mosaic video of all cameras with plates, skeletons and track ids.

    Frames go to a temporary file beside ``path``. ``close`` renames it to
    ``path``, and ``discard`` deletes it, so a failed run leaves no partial
    video and keeps any earlier one.
    """

    def __init__(
        self,
        path: Path,
        cameras: Sequence[Camera],
        plates: Iterable[Plate],
        *,
        fps: float = 10.0,
        columns: int = 2,
    ) -> None:
        self.path = path
        self.cameras = list(cameras)
        self.columns = min(columns, len(self.cameras))
        self.rows = math.ceil(len(self.cameras) / self.columns)
        self._plates = list(plates)
        self._backgrounds: dict[str, Image] = {}
        width = max(camera.width for camera in self.cameras)
        height = max(camera.height for camera in self.cameras)
        self._tile = (width, height)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._temporary = temporary_sibling(path)
        fourcc = cv2.VideoWriter.fourcc(*"mp4v")
        self._writer = cv2.VideoWriter(
            str(self._temporary),
            fourcc,
            fps,
            (width * self.columns, height * self.rows),
        )
        if not self._writer.isOpened():
            self.discard()
            raise OSError(f"failed to open {path} for writing an MP4 video")

    def add(
        self,
        t: float,
        frames: Mapping[str, Image],
        detections: Sequence[PersonDetection],
        tracks: Sequence[Track],
    ) -> None:
        """Draw one instant: every camera's frame (black where none was read)."""
        width, height = self._tile
        mosaic = np.zeros((height * self.rows, width * self.columns, 3), np.uint8)
        for index, camera in enumerate(self.cameras):
            frame = frames.get(camera.id)
            tile = (
                np.zeros((height, width, 3), np.uint8)
                if frame is None
                else frame.copy()
            )
            self.draw_tile(tile, camera, detections, tracks)
            cv2.putText(
                tile,
                f"cam {camera.id}  t={t:.1f}",
                (8, 22),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.6,
                (0, 255, 255),
                2,
            )
            row, column = divmod(index, self.columns)
            mosaic[
                row * height : row * height + tile.shape[0],
                column * width : column * width + tile.shape[1],
            ] = tile
        self._writer.write(mosaic)

    def draw_tile(
        self,
        tile: Image,
        camera: Camera,
        detections: Sequence[PersonDetection],
        tracks: Sequence[Track],
    ) -> None:
        draw_plates(tile, camera, self._plates)
        for detection in detections:
            if detection.camera == camera.id:
                draw_detection(tile, detection, "")
        for track in tracks:
            if "head" not in track.joints:
                continue
            pixel, _ = project(camera, track.joints["head"][0][None, :])
            if np.isnan(pixel).any():
                continue
            u, v = pixel[0]
            if 0 <= u < tile.shape[1] and 0 <= v < tile.shape[0]:
                cv2.putText(
                    tile,
                    track.id,
                    (int(u) + 6, int(v)),
                    cv2.FONT_HERSHEY_SIMPLEX,
                    0.7,
                    (255, 255, 0),
                    2,
                )

    def close(self) -> None:
        """Finish the video and rename it to ``path``."""
        self._writer.release()
        try:
            os.replace(self._temporary, self.path)
        except OSError:
            self.discard()
            raise
        logger.info("wrote overlay video %s", self.path)

    def discard(self) -> None:
        """Stop writing and delete the temporary video, leaving ``path`` as it was."""
        self._writer.release()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._temporary)

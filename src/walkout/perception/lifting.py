"""Lift per-camera pixel joints of one instant to people in store coordinates.

Detections from different cameras are grouped into one person when their
heads triangulate with a small reprojection error at a plausible height.
Joints seen by two or more cameras of a group are triangulated; a joint
seen by one camera is placed on its viewing ray at a prior height (see
``LiftParams``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from walkout.perception.geometry import (
    Ray,
    back_project,
    camera_centre,
    intersect_height,
    triangulate,
)
from walkout.perception.pose import JOINTS, PersonDetection
from walkout.perception.tracking import Observation
from walkout.recording import Camera, FloatArray, Plate

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiftParams:
    """Priors and thresholds of the lifting step.

    ``head_height_m``: the height at which a head seen by one camera is
    placed, an adult's standing head. ``wrist_height_m``: the same for a
    wrist that is not near a shelf. ``max_match_residual_px``: the largest
    head reprojection error for two cameras' detections to count as one
    person; raising it merges more views but also merges neighbours.
    ``head_height_range_m``: heads triangulated outside this range are
    rejected as a false match. ``arm_reach_m``: how far from the head (on
    the floor) a single-view wrist may lie when it is placed on a plate.
    ``plate_margin_m``: how far outside a plate's footprint the viewing ray
    may cross the plate's height and still count as reaching that plate.
    ``floor_sd_m``: spread of a floor position from a triangulated head, and
    the across-ray spread of a single-view one. ``head_height_sd_m``: spread
    of real head heights around ``head_height_m`` (people differ and bend),
    which a single view turns into floor spread along its viewing ray.
    ``no_head_floor_sd_m``: spread of a floor position taken from the
    wrists when no head was found. ``calibration_sd_rad``: angular error of
    a camera's calibration, which moves a single-view floor position by
    this fraction of its distance from the camera in any direction.
    Triangulated heads of the cps-test-01 NanoStore cameras reproject 50 to
    240 px off, so a ray can be wrong by several degrees there.
    ``floor_margin_m``: how far beyond the plates and cameras the store
    floor reaches when no floor is given; people lifted outside it (behind
    a glass wall, say) are dropped.
    """

    head_height_m: float = 1.6
    wrist_height_m: float = 1.0
    max_match_residual_px: float = 40.0
    head_height_range_m: tuple[float, float] = (1.0, 2.2)
    arm_reach_m: float = 0.9
    plate_margin_m: float = 0.1
    floor_sd_m: float = 0.15
    head_height_sd_m: float = 0.2
    no_head_floor_sd_m: float = 0.5
    calibration_sd_rad: float = 0.1
    floor_margin_m: float = 0.5


@dataclass(frozen=True)
class FloorBounds:
    """An axis-aligned rectangle of store floor, in metres."""

    x_min: float
    y_min: float
    x_max: float
    y_max: float

    def contains(self, x: float, y: float) -> bool:
        return self.x_min <= x <= self.x_max and self.y_min <= y <= self.y_max


def floor_bounds(
    cameras: Sequence[Camera], plates: Sequence[Plate], margin_m: float
) -> FloorBounds | None:
    """Return the rectangle around all camera centres and plate footprints.

    store.json has no floor outline, so the floor is taken to reach
    ``margin_m`` beyond the shelves and the ceiling cameras. Returns None
    when the store has neither.
    """
    points: list[tuple[float, float]] = []
    for camera in cameras:
        centre = camera_centre(camera)
        points.append((float(centre[0]), float(centre[1])))
    for plate in plates:
        for dx in (-0.5, 0.5):
            for dy in (-0.5, 0.5):
                points.append(
                    (
                        plate.center[0] + dx * plate.size[0],
                        plate.center[1] + dy * plate.size[1],
                    )
                )
    if not points:
        return None
    xs, ys = zip(*points, strict=True)
    return FloorBounds(
        min(xs) - margin_m, min(ys) - margin_m, max(xs) + margin_m, max(ys) + margin_m
    )


@dataclass
class LiftStats:
    """Counts of how joints were lifted, for the report."""

    triangulated: int = 0
    single_view: int = 0
    on_plate: int = 0
    off_floor: int = 0


class Lifter:
    """Turn one instant's detections from all cameras into floor observations."""

    def __init__(
        self,
        cameras: Mapping[str, Camera],
        plates: Sequence[Plate] = (),
        params: LiftParams | None = None,
        *,
        floor: FloorBounds | None = None,
    ) -> None:
        self.cameras = dict(cameras)
        self.plates = list(plates)
        self.params = params or LiftParams()
        self.stats = LiftStats()
        self.floor = floor
        self._plate_heights = sorted({plate.center[2] for plate in self.plates})

    def lift(self, detections: Sequence[PersonDetection]) -> list[Observation]:
        """Group ``detections`` into people and return one observation per person."""
        groups = self._group(detections)
        observations = []
        for group in groups:
            observation = self._lift_group(group)
            if observation is None:
                continue
            if self.floor is not None and not self.floor.contains(*observation.floor):
                self.stats.off_floor += 1
                continue
            observations.append(observation)
        return observations

    # --- grouping across cameras -------------------------------------------

    def _group(
        self, detections: Sequence[PersonDetection]
    ) -> list[list[PersonDetection]]:
        pairs: list[tuple[float, int, int]] = []
        for i, a in enumerate(detections):
            for j in range(i + 1, len(detections)):
                b = detections[j]
                if (
                    a.camera == b.camera
                    or "head" not in a.joints
                    or "head" not in b.joints
                ):
                    continue
                result = triangulate(
                    [self.cameras[a.camera], self.cameras[b.camera]],
                    [a.joints["head"][:2], b.joints["head"][:2]],
                )
                low, high = self.params.head_height_range_m
                if (
                    result.max_residual_px <= self.params.max_match_residual_px
                    and low <= result.point[2] <= high
                ):
                    pairs.append((result.max_residual_px, i, j))

        # Greedy merge, best pairs first, at most one detection per camera.
        group_of = list(range(len(detections)))
        members: dict[int, list[int]] = {i: [i] for i in range(len(detections))}
        for _, i, j in sorted(pairs):
            gi, gj = group_of[i], group_of[j]
            if gi == gj:
                continue
            cameras_i = {detections[k].camera for k in members[gi]}
            if any(detections[k].camera in cameras_i for k in members[gj]):
                continue
            members[gi].extend(members.pop(gj))
            for k in members[gi]:
                group_of[k] = gi
        return [[detections[k] for k in indices] for indices in members.values()]

    # --- one person ---------------------------------------------------------

    def _lift_group(self, group: Sequence[PersonDetection]) -> Observation | None:
        joints: dict[str, tuple[FloatArray, float]] = {}
        # The camera of the head when it was lifted from one view.
        head_camera: str | None = None
        for name in ("head", *[joint for joint in JOINTS if joint != "head"]):
            seen = [d for d in group if name in d.joints]
            if not seen:
                continue
            score = float(np.mean([d.joints[name][2] for d in seen]))
            if len(seen) >= 2:
                result = triangulate(
                    [self.cameras[d.camera] for d in seen],
                    [d.joints[name][:2] for d in seen],
                )
                if result.max_residual_px <= 2 * self.params.max_match_residual_px:
                    joints[name] = (result.point, score)
                    self.stats.triangulated += 1
                    continue
            best = max(seen, key=lambda d: d.joints[name][2])
            point = self._single_view(best, name, joints.get("head"))
            if point is not None:
                joints[name] = (point, score * 0.5)
                self.stats.single_view += 1
                if name == "head":
                    head_camera = best.camera
        if "head" in joints:
            floor = joints["head"][0][:2]
            covariance = self._head_floor_covariance(joints["head"][0], head_camera)
        elif joints:
            floor = np.mean([point[:2] for point, _ in joints.values()], axis=0)
            covariance = self.params.no_head_floor_sd_m**2 * np.eye(2)
        else:
            return None
        pixels: dict[str, dict[str, tuple[float, float]]] = {}
        for detection in group:
            for name, (u, v, _) in detection.joints.items():
                pixels.setdefault(name, {})[detection.camera] = (u, v)
        return Observation(
            (float(floor[0]), float(floor[1])),
            joints,
            covariance=covariance,
            cameras=tuple(sorted({d.camera for d in group})),
            pixels=pixels,
        )

    def _head_floor_covariance(
        self, head: FloatArray, single_view_camera: str | None
    ) -> FloatArray:
        """Return the 2x2 floor covariance of a person placed by their head.

        A single-view head slides along its viewing ray when its true height
        differs from the prior: the floor moves by ``horizontal distance /
        (camera height - head height)`` per metre of height, so the spread
        along the ray grows with the distance from the camera.
        """
        base = self.params.floor_sd_m**2 * np.eye(2)
        if single_view_camera is None:
            return base
        centre = camera_centre(self.cameras[single_view_camera])
        offset = head[:2] - centre[:2]
        horizontal = float(np.linalg.norm(offset))
        drop = float(centre[2] - head[2])
        distance = float(np.linalg.norm(head - centre))
        base = base + (distance * self.params.calibration_sd_rad) ** 2 * np.eye(2)
        if horizontal < 1e-6 or drop < 1e-3:
            return base
        along_sd = horizontal / drop * self.params.head_height_sd_m
        direction = offset / horizontal
        covariance: FloatArray = base + along_sd**2 * np.outer(direction, direction)
        return covariance

    def _single_view(
        self,
        detection: PersonDetection,
        name: str,
        head: tuple[FloatArray, float] | None,
    ) -> FloatArray | None:
        camera = self.cameras[detection.camera]
        pixel = np.asarray([detection.joints[name][:2]], dtype=np.float64)
        ray = back_project(camera, pixel)[0]
        if name == "head":
            return intersect_height(ray, self.params.head_height_m)
        on_plate = self._wrist_on_plate(ray, head)
        if on_plate is not None:
            self.stats.on_plate += 1
            return on_plate
        return intersect_height(ray, self.params.wrist_height_m)

    def _wrist_on_plate(
        self, ray: Ray, head: tuple[FloatArray, float] | None
    ) -> FloatArray | None:
        """Return where the wrist ray meets a plate top within arm's reach, if any.

        Of several plates along the ray, the one nearest in height to
        ``wrist_height_m`` wins, because the ray alone cannot tell them apart.
        """
        if head is None or not self.plates:
            return None
        candidates: list[FloatArray] = []
        margin = self.params.plate_margin_m
        for height in self._plate_heights:
            point = intersect_height(ray, height)
            if point is None:
                continue
            if np.linalg.norm(point[:2] - head[0][:2]) > self.params.arm_reach_m:
                continue
            for plate in self.plates:
                if abs(plate.center[2] - height) > 1e-6:
                    continue
                dx = abs(point[0] - plate.center[0]) - plate.size[0] / 2
                dy = abs(point[1] - plate.center[1]) - plate.size[1] / 2
                if dx <= margin and dy <= margin:
                    candidates.append(point)
                    break
        if not candidates:
            return None
        return min(candidates, key=lambda p: abs(p[2] - self.params.wrist_height_m))

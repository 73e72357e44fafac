"""Rigid transforms of the NanoStore layout and camera calibration.

The store layout nests frames: a plate is placed in its shelf, a shelf in
its gondola and a gondola in the world. Each placement is a translation plus
a Rodrigues rotation vector (axis times angle in radians) and maps points of
the child frame into the parent frame.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from walkout.recording import FloatArray

logger = logging.getLogger(__name__)

METRES_PER_INCH = 0.0254

# Largest deviation of R @ R.T from the identity accepted as a rotation.
# The RGB calibrations are orthonormal to about 1e-15 and the depth ones to
# about 1e-6, so this separates rounding from a matrix that is no rotation.
ROTATION_TOLERANCE = 1e-4


@dataclass(frozen=True)
class RigidTransform:
    """Map ``p -> rotation @ p + translation`` from a child frame to its parent."""

    rotation: FloatArray
    translation: FloatArray

    @classmethod
    def from_rotvec(
        cls, rotvec: Sequence[float], translation: Sequence[float]
    ) -> RigidTransform:
        matrix = Rotation.from_rotvec(np.asarray(rotvec, dtype=np.float64)).as_matrix()
        return cls(matrix, np.asarray(translation, dtype=np.float64))

    @classmethod
    def from_matrix(cls, matrix: FloatArray) -> RigidTransform:
        """Build from a 4x4 homogeneous matrix, checking that it is rigid."""
        if matrix.shape != (4, 4):
            raise ValueError(f"expected a 4x4 matrix, got shape {matrix.shape}")
        rotation = matrix[:3, :3]
        error = float(np.abs(rotation @ rotation.T - np.eye(3)).max())
        if error > ROTATION_TOLERANCE or np.linalg.det(rotation) <= 0:
            raise ValueError(
                f"upper-left 3x3 block is not a rotation "
                f"(|R R^T - I| = {error:.2g}, det = {np.linalg.det(rotation):.4g})"
            )
        if not np.allclose(matrix[3], [0.0, 0.0, 0.0, 1.0]):
            raise ValueError(f"last row is {matrix[3].tolist()}, expected [0, 0, 0, 1]")
        return cls(rotation.copy(), matrix[:3, 3].copy())

    def compose(self, child: RigidTransform) -> RigidTransform:
        """Return the map from ``child``'s frame straight into this one's parent."""
        return RigidTransform(
            self.rotation @ child.rotation,
            self.rotation @ child.translation + self.translation,
        )

    def inverse(self) -> RigidTransform:
        rotation_t = self.rotation.T
        return RigidTransform(rotation_t, -(rotation_t @ self.translation))

    def scaled(self, factor: float) -> RigidTransform:
        """Return the same placement with lengths multiplied by ``factor``."""
        return RigidTransform(self.rotation, self.translation * factor)

    def apply(self, points: FloatArray) -> FloatArray:
        """Map points of shape (3,) or (n, 3) into the parent frame."""
        result: FloatArray = points @ self.rotation.T + self.translation
        return result

    def as_matrix(self) -> FloatArray:
        matrix = np.eye(4)
        matrix[:3, :3] = self.rotation
        matrix[:3, 3] = self.translation
        return matrix


def plate_top_center(
    world_from_plate: RigidTransform, dim_x: float, dim_y: float
) -> FloatArray:
    """Return the world position of the middle of a plate's top surface.

    The plate frame's origin is the plate's corner with the smallest local x
    and y, on its top surface, so the middle lies half the plate's extent
    along both local axes from it.
    """
    local = np.array([dim_x / 2.0, dim_y / 2.0, 0.0])
    return world_from_plate.apply(local)


def footprint_size(
    world_from_plate: RigidTransform, dim_x: float, dim_y: float
) -> tuple[float, float]:
    """Return a plate's extent along the world x and y axes.

    A gondola turned by a quarter turn swaps the two extents. Any other turn
    about z gives the bounding box of the rotated rectangle.
    """
    extent = np.abs(world_from_plate.rotation[:2, :2]) @ np.array([dim_x, dim_y])
    return (float(extent[0]), float(extent[1]))


def world_to_camera_metres(camera_to_world_inches: FloatArray) -> FloatArray:
    """Turn a camera-to-world pose in inches into a world-to-camera map in metres.

    The rotation is unitless, so only the translation is scaled before the
    rigid transform is inverted (R^T and -R^T t).
    """
    pose = RigidTransform.from_matrix(camera_to_world_inches)
    return pose.scaled(METRES_PER_INCH).inverse().as_matrix()


def project_points(
    points: FloatArray,
    K: FloatArray,
    dist: FloatArray,
    world_to_camera: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Project world points (n, 3) to pixels with the OpenCV lens model.

    ``dist`` is (k1, k2, p1, p2) or (k1, k2, p1, p2, k3). Returns pixel
    coordinates (n, 2) and the depth along the optical axis (n,). A point
    with depth <= 0 lies behind the camera, so its pixel is meaningless.
    """
    camera = RigidTransform.from_matrix(world_to_camera).apply(np.atleast_2d(points))
    depth = camera[:, 2]
    x = camera[:, 0] / depth
    y = camera[:, 1] / depth

    k1, k2, p1, p2, k3 = (list(dist) + [0.0] * 5)[:5]
    r2 = x * x + y * y
    radial = 1.0 + k1 * r2 + k2 * r2 * r2 + k3 * r2 * r2 * r2
    xd = x * radial + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x)
    yd = y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y

    u = K[0, 0] * xd + K[0, 1] * yd + K[0, 2]
    v = K[1, 1] * yd + K[1, 2]
    return np.column_stack([u, v]), depth

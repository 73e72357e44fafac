"""Camera geometry: projection, back-projection, triangulation, single-view lifting.

Cameras follow the recording format: ``K`` in pixels, OpenCV distortion
(k1, k2, p1, p2[, k3]) and ``world_to_camera`` mapping store metres to camera
coordinates with OpenCV axes (x right, y down, z forward).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from walkout.recording import Camera, FloatArray

logger = logging.getLogger(__name__)

# Points closer to the image plane than this (metres along the optical axis)
# are treated as behind the camera, because their pixels are meaningless.
MIN_DEPTH_M = 0.05

# Stop rule of the iterative undistortion. OpenCV's default for
# cv2.undistortPoints (5 iterations) leaves errors of about 1 mm at 3 m in the
# corners of the NanoStore lenses (k1 near -0.5).
UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-10)


@dataclass(frozen=True)
class Ray:
    """A viewing ray in store coordinates: ``origin + s * direction``, s >= 0."""

    origin: FloatArray
    direction: FloatArray


@dataclass(frozen=True)
class Triangulation:
    """A point seen by several cameras and its reprojection error per camera (px)."""

    point: FloatArray
    residuals_px: FloatArray

    @property
    def max_residual_px(self) -> float:
        return float(self.residuals_px.max())


def _rotation_translation(camera: Camera) -> tuple[FloatArray, FloatArray]:
    matrix = np.asarray(camera.world_to_camera, dtype=np.float64)
    return matrix[:3, :3], matrix[:3, 3]


def camera_centre(camera: Camera) -> FloatArray:
    """Return the camera's optical centre in store coordinates (metres)."""
    rotation, translation = _rotation_translation(camera)
    centre: FloatArray = -(rotation.T @ translation)
    return centre


def project(camera: Camera, points: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Project store points (n, 3) to pixels (n, 2) with ``cv2.projectPoints``.

    Also returns the depth of each point along the optical axis. Pixels of
    points with depth below ``MIN_DEPTH_M`` are set to NaN.
    """
    points = np.atleast_2d(np.asarray(points, dtype=np.float64))
    rotation, translation = _rotation_translation(camera)
    depth: FloatArray = points @ rotation[2] + translation[2]
    rotation_vector, _ = cv2.Rodrigues(rotation)
    pixels, _ = cv2.projectPoints(
        points.reshape(-1, 1, 3), rotation_vector, translation, camera.K, camera.dist
    )
    result: FloatArray = pixels.reshape(-1, 2).astype(np.float64)
    result[depth < MIN_DEPTH_M] = np.nan
    return result, depth


def undistort_normalised(camera: Camera, pixels: FloatArray) -> FloatArray:
    """Turn pixels (n, 2) into undistorted normalised image coordinates (n, 2)."""
    pixels = np.atleast_2d(np.asarray(pixels, dtype=np.float64))
    normalised = cv2.undistortPointsIter(
        pixels.reshape(-1, 1, 2),
        camera.K,
        camera.dist,
        np.eye(3),
        np.eye(3),
        UNDISTORT_CRITERIA,
    )
    result: FloatArray = normalised.reshape(-1, 2).astype(np.float64)
    return result


def back_project(camera: Camera, pixels: FloatArray) -> list[Ray]:
    """Return the viewing ray in store coordinates through each pixel (n, 2)."""
    normalised = undistort_normalised(camera, pixels)
    rotation, _ = _rotation_translation(camera)
    origin = camera_centre(camera)
    directions = np.column_stack([normalised, np.ones(len(normalised))]) @ rotation
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return [Ray(origin, direction) for direction in directions]


def intersect_height(ray: Ray, height_m: float) -> FloatArray | None:
    """Return where ``ray`` crosses the horizontal plane z = ``height_m``.

    Returns None when the ray runs parallel to the plane or meets it behind
    the camera.
    """
    dz = float(ray.direction[2])
    if abs(dz) < 1e-9:
        return None
    s = (height_m - float(ray.origin[2])) / dz
    if s <= 0:
        return None
    point: FloatArray = ray.origin + s * ray.direction
    return point


def triangulate(
    cameras: Sequence[Camera], pixels: Sequence[Sequence[float]]
) -> Triangulation:
    """Triangulate one point from its pixels in two or more cameras (linear DLT).

    Each pixel is undistorted to normalised coordinates, so the DLT rows use
    the 3x4 ``[R | t]`` of each camera. The least-squares solution is the
    right singular vector of the stacked rows with the smallest singular
    value. Raises ValueError for fewer than two views.
    """
    if len(cameras) != len(pixels):
        raise ValueError(f"got {len(cameras)} cameras but {len(pixels)} pixels")
    if len(cameras) < 2:
        raise ValueError(f"triangulation needs 2 or more views, got {len(cameras)}")

    rows: list[FloatArray] = []
    for camera, pixel in zip(cameras, pixels, strict=True):
        x, y = undistort_normalised(camera, np.asarray([pixel], dtype=np.float64))[0]
        pose = np.asarray(camera.world_to_camera, dtype=np.float64)[:3, :]
        rows.append(x * pose[2] - pose[0])
        rows.append(y * pose[2] - pose[1])
    _, _, vt = np.linalg.svd(np.vstack(rows))
    homogeneous = vt[-1]
    point: FloatArray = homogeneous[:3] / homogeneous[3]

    residuals = []
    for camera, pixel in zip(cameras, pixels, strict=True):
        projected, _ = project(camera, point[None, :])
        residuals.append(float(np.linalg.norm(projected[0] - np.asarray(pixel))))
    return Triangulation(point, np.asarray(residuals, dtype=np.float64))


def lift_single_view(
    camera: Camera, pixel: Sequence[float], height_m: float
) -> FloatArray | None:
    """Resolve a joint seen by one camera by assuming its height above the floor.

    One view fixes only a ray, so the joint is placed where that ray meets
    the plane z = ``height_m``. Returns None when the ray does not reach the
    plane in front of the camera.
    """
    ray = back_project(camera, np.asarray([pixel], dtype=np.float64))[0]
    return intersect_height(ray, height_m)


def in_image(camera: Camera, point: FloatArray, margin_px: float = 0.0) -> bool:
    """Return whether a store point projects into the camera's image.

    ``margin_px`` shrinks the image on every side, so that a point near the
    border, where a person is cut off and often missed, does not count.
    """
    pixels, _ = project(camera, np.asarray(point, dtype=np.float64)[None, :])
    u, v = pixels[0]
    if np.isnan(u) or np.isnan(v):
        return False
    return bool(
        margin_px <= u < camera.width - margin_px
        and margin_px <= v < camera.height - margin_px
    )

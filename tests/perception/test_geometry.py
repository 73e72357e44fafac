"""Camera geometry: projection round trips, triangulation, single-view lifting."""

from __future__ import annotations

import numpy as np
import pytest

from walkout.perception.geometry import (
    back_project,
    camera_centre,
    intersect_height,
    lift_single_view,
    project,
    triangulate,
)
from walkout.recording import Camera


def look_at(centre: list[float], target: list[float], camera_id: str) -> Camera:
    """Build a 640x360 camera at ``centre`` looking at ``target`` (store metres)."""
    c = np.asarray(centre, dtype=np.float64)
    forward = np.asarray(target, dtype=np.float64) - c
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    rotation = np.vstack([right, down, forward])
    world_to_camera = np.eye(4)
    world_to_camera[:3, :3] = rotation
    world_to_camera[:3, 3] = -rotation @ c
    K = np.array([[510.0, 0.0, 320.0], [0.0, 510.0, 165.0], [0.0, 0.0, 1.0]])
    dist = np.array([-0.47, 0.2, 0.0, 0.0, 0.0])
    return Camera(camera_id, 640, 360, K, dist, world_to_camera)


CAMERAS = [
    look_at([4.4, 0.1, 2.45], [1.0, -1.5, 0.0], "a"),
    look_at([0.1, -1.5, 2.45], [3.0, 0.0, 0.0], "b"),
    look_at([2.5, -1.5, 2.45], [1.0, 1.0, 0.0], "c"),
]
POINTS = np.array([[2.0, -0.7, 1.6], [1.5, -0.2, 1.1], [2.6, -1.0, 0.2]])


def test_camera_centre_matches_pose() -> None:
    np.testing.assert_allclose(camera_centre(CAMERAS[0]), [4.4, 0.1, 2.45], atol=1e-12)


def test_project_back_project_round_trip() -> None:
    for camera in CAMERAS:
        pixels, depth = project(camera, POINTS)
        assert (depth > 0).all(), camera.id
        rays = back_project(camera, pixels)
        for ray, point in zip(rays, POINTS, strict=True):
            hit = intersect_height(ray, float(point[2]))
            assert hit is not None, camera.id
            np.testing.assert_allclose(hit, point, atol=1e-4)


def test_project_marks_points_behind_camera() -> None:
    camera = CAMERAS[0]
    behind = camera_centre(camera) - 1.0 * camera.world_to_camera[2, :3]
    pixels, depth = project(camera, behind[None, :])
    assert depth[0] < 0
    assert np.isnan(pixels).all()


@pytest.mark.parametrize("views", [2, 3])
def test_triangulate_synthetic_point(views: int) -> None:
    point = POINTS[0]
    cameras = CAMERAS[:views]
    pixels = [project(camera, point[None, :])[0][0] for camera in cameras]
    result = triangulate(cameras, pixels)
    np.testing.assert_allclose(result.point, point, atol=1e-6)
    assert result.max_residual_px < 1e-3


def test_triangulate_reports_residual_of_noisy_pixel() -> None:
    point = POINTS[1]
    pixels = [project(camera, point[None, :])[0][0] for camera in CAMERAS]
    pixels[0] = pixels[0] + np.array([6.0, 0.0])
    result = triangulate(CAMERAS, pixels)
    assert 0.5 < result.max_residual_px < 6.0
    assert np.linalg.norm(result.point - point) < 0.05


def test_triangulate_rejects_single_view() -> None:
    with pytest.raises(ValueError, match="2 or more views"):
        triangulate(CAMERAS[:1], [[320.0, 180.0]])


def test_single_view_lands_on_prior_height() -> None:
    point = POINTS[0]
    pixel = project(CAMERAS[1], point[None, :])[0][0]
    lifted = lift_single_view(CAMERAS[1], pixel, 1.6)
    assert lifted is not None
    np.testing.assert_allclose(lifted, point, atol=1e-4)


def test_single_view_above_camera_is_none() -> None:
    pixel = project(CAMERAS[1], POINTS[0][None, :])[0][0]
    assert lift_single_view(CAMERAS[1], pixel, 3.0) is None

"""Transform chain, SKU slugs, UPC repair and MP4 timing of the NanoStore importer."""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import pytest

from walkout.importers._geometry import (
    RigidTransform,
    footprint_size,
    plate_top_center,
    world_to_camera_metres,
)
from walkout.importers._labels import parse_label_time
from walkout.importers._mp4 import read_mp4_timing
from walkout.importers._skus import assign_skus, normalise_upc, slugify


def test_chain_translates_without_rotation() -> None:
    gondola = RigidTransform.from_rotvec([0, 0, 0], [0.0254, 0.4921, 0])
    shelf = RigidTransform.from_rotvec([0, 0, 0], [0, -0.4064, 1.3748])
    plate = RigidTransform.from_rotvec([0, 0, 0], [0.9144, 0, 0])
    world = gondola.compose(shelf).compose(plate)
    center = plate_top_center(world, 0.1016, 0.4064)
    np.testing.assert_allclose(center, [0.9906, 0.2889, 1.3748], atol=1e-9)


def test_chain_turns_rotated_gondola() -> None:
    # A quarter turn clockwise seen from above: local +x points to world -y.
    gondola = RigidTransform.from_rotvec([0, 0, -math.pi / 2], [4.9149, -0.3016, 0])
    shelf = RigidTransform.from_rotvec([0, 0, 0], [0, -0.4064, 0.33])
    world = gondola.compose(shelf)
    center = plate_top_center(world, 0.1016, 0.4064)
    np.testing.assert_allclose(center, [4.7117, -0.3524, 0.33], atol=1e-9)
    size = footprint_size(world, 0.1016, 0.4064)
    np.testing.assert_allclose(size, [0.4064, 0.1016], atol=1e-9)


def test_inverse_undoes_transform() -> None:
    transform = RigidTransform.from_rotvec([0.3, -1.1, 0.4], [1.0, 2.0, 3.0])
    points = np.array([[0.5, -0.2, 1.0], [3.0, 0.0, -2.0]])
    back = transform.inverse().apply(transform.apply(points))
    np.testing.assert_allclose(back, points, atol=1e-12)


def test_world_to_camera_scales_and_inverts() -> None:
    pose = RigidTransform.from_rotvec([2.0, 0.1, -0.3], [100.0, -20.0, 96.0])
    world_to_camera = world_to_camera_metres(pose.as_matrix())
    centre = np.array([100.0, -20.0, 96.0]) * 0.0254
    camera_point = RigidTransform.from_matrix(world_to_camera).apply(centre)
    np.testing.assert_allclose(camera_point, [0.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(world_to_camera[3], [0, 0, 0, 1])


def test_world_to_camera_rejects_non_rotation() -> None:
    matrix = np.eye(4)
    matrix[0, 0] = 2.0
    with pytest.raises(ValueError, match="not a rotation"):
        world_to_camera_metres(matrix)


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("FIJI WATER .5 LTR", "fiji-water-5-ltr"),
        ("Andy Capp's Cheddar Fries", "andy-capp-s-cheddar-fries"),
        ("  Roasted & Salted  ", "roasted-salted"),
        ("Doritos", "doritos"),
    ],
)
def test_slugify(name: str, slug: str) -> None:
    assert slugify(name) == slug


def test_slugify_symbol_only_name() -> None:
    assert slugify("&&").startswith("product-")
    assert slugify("&&") != slugify("%%")


def test_assign_skus_suffixes_colliding_slugs() -> None:
    skus, warnings = assign_skus(["Aquafina Water", "Aquafina water", "Pepsi"], {})
    assert skus["Aquafina Water"] != skus["Aquafina water"]
    assert skus["Aquafina Water"].startswith("aquafina-water-")
    assert skus["Pepsi"] == "pepsi"
    assert warnings == []


def test_assign_skus_keeps_upc_unique() -> None:
    upcs = {"Sour Patch Watermelon": "070462098631", "Wholesale SPW": "070462098631"}
    skus, warnings = assign_skus(["Sour Patch Watermelon", "Wholesale SPW"], upcs)
    assert skus["Sour Patch Watermelon"] == "070462098631"
    assert skus["Wholesale SPW"] == "wholesale-spw"
    assert len(warnings) == 1


@pytest.mark.parametrize(
    ("raw", "upc"),
    [
        ("632565000012", "632565000012"),
        ("120130", "01201303"),
        ("496580", "04965802"),
        ("UNKOWN", None),
        ("12345", None),
    ],
)
def test_normalise_upc(raw: str, upc: str | None) -> None:
    assert normalise_upc(raw) == upc


def test_parse_label_time() -> None:
    assert parse_label_time("2020-01-28_22-24-15") == 1580250255.0
    assert parse_label_time("1:52 + 2019-11-07_02-41-19") == 1573094479.0 + 112
    assert parse_label_time(" + ") is None


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def test_read_mp4_timing(tmp_path: Path) -> None:
    mvhd = _box(b"mvhd", bytes(12) + struct.pack(">II", 1000, 33800) + bytes(80))
    stsz = _box(b"stsz", bytes(4) + struct.pack(">II", 0, 338))
    trak = _box(b"trak", _box(b"mdia", _box(b"minf", _box(b"stbl", stsz))))
    path = tmp_path / "clip.mp4"
    path.write_bytes(_box(b"ftyp", b"isom") + _box(b"moov", mvhd + trak))
    timing = read_mp4_timing(path)
    assert timing.duration_s == pytest.approx(33.8)
    assert timing.frames == 338
    assert timing.fps == pytest.approx(10.0)


def test_read_mp4_timing_rejects_no_moov(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(_box(b"ftyp", b"isom"))
    with pytest.raises(ValueError, match="no moov"):
        read_mp4_timing(path)

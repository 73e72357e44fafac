"""Perception on real NanoStore footage: a few seconds in, poses.csv rows out."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

pytest.importorskip("mediapipe", reason="the perception extra is not installed")
pytest.importorskip("cv2", reason="the perception extra is not installed")

from walkout.importers.autocheckout import import_autocheckout
from walkout.perception.perceive import perceive
from walkout.perception.pose import MediapipePoseEstimator
from walkout.recording import read_recording


@pytest.fixture(scope="module")
def short_recording(
    nanostore_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    out = tmp_path_factory.mktemp("cps01")
    import_autocheckout(nanostore_dir / "cps-test-01", out)
    return out


def test_pose_finds_person_in_camera_frame(nanostore_dir: Path) -> None:
    import cv2

    frame = cv2.imread(str(nanostore_dir / "camera_frames" / "camera_5.png"))
    with MediapipePoseEstimator() as estimator:
        people = estimator.detect(frame, "5")
    assert len(people) >= 1
    assert "head" in people[0].joints
    u, v, score = people[0].joints["head"]
    assert 0 <= u < 640
    assert 0 <= v < 360
    assert 0 < score <= 1


def test_perceive_writes_pose_rows(short_recording: Path) -> None:
    report = perceive(short_recording, max_seconds=2.0)
    assert report.frames == 4 * 20
    assert report.detections > 0

    with (short_recording / "poses.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == ["t", "track", "joint", "x", "y", "z", "score"]
    assert len(rows) == report.pose_rows
    assert len(rows) > 0
    start = read_recording(short_recording).video["1"].start_t
    for row in rows:
        assert start <= float(row["t"]) <= start + 2.0
        assert row["joint"] in {"head", "left_wrist", "right_wrist"}
        assert 0.0 <= float(row["score"]) <= 1.0
    assert read_recording(short_recording).poses is not None
    # No NanoStore product has a vision_class, so vision writes nothing.
    assert not report.vision_written
    assert not (short_recording / "vision.csv").exists()

"""Image-space perception of footage without a store: tracks.csv and the CLI."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("mediapipe", reason="the perception extra is not installed")
pytest.importorskip("cv2", reason="the perception extra is not installed")

from walkout.cli import app
from walkout.perception.image_tracks import (
    TRACKS_COLUMNS,
    image_observation,
    perceive_video,
)
from walkout.perception.pose import detection_from_landmarks

INTEL = Path(__file__).resolve().parents[3] / "shared" / "data" / "intel-sample-videos"
CLIP = INTEL / "one-by-one-person-detection.mp4"


@pytest.fixture(scope="module")
def clip() -> Path:
    if not CLIP.is_file():
        pytest.skip(f"Intel sample video not found at {CLIP}")
    return CLIP


def test_video_writes_image_tracks(clip: Path, tmp_path: Path) -> None:
    # A woman walks up to the table from about 7 s on.
    report = perceive_video(
        clip, tmp_path, overlay=tmp_path / "overlay.mp4", stride=2, max_seconds=10.0
    )
    assert report.frames == 50
    assert (report.width, report.height) == (768, 432)
    assert (tmp_path / "overlay.mp4").stat().st_size > 0

    with (tmp_path / "tracks.csv").open(newline="") as file:
        rows = list(csv.DictReader(file))
    assert tuple(rows[0]) == TRACKS_COLUMNS
    assert len(rows) == report.rows
    assert {row["track"] for row in rows} == set(report.tracks)
    assert len(report.tracks) == 1
    for row in rows:
        assert int(row["frame"]) % 2 == 0
        assert float(row["t"]) == pytest.approx(
            int(row["frame"]) / report.fps, abs=1e-3
        )
        assert row["joint"] in {"head", "left_wrist", "right_wrist"}
        assert 0 <= float(row["x_px"]) < 768
        assert -50 <= float(row["y_px"]) < 432
        assert 0.0 <= float(row["score"]) <= 1.0
    assert max(float(row["t"]) for row in rows) > 8.0


def test_image_observation_scales_with_person() -> None:
    landmarks = np.zeros((33, 3))
    landmarks[:, 2] = 1.0
    landmarks[:, 0] = 400.0
    landmarks[:, 1] = np.linspace(100.0, 300.0, 33)
    near = image_observation(detection_from_landmarks("c", landmarks, 0.3), 400)
    landmarks[:, 1] = np.linspace(100.0, 150.0, 33)
    far = image_observation(detection_from_landmarks("c", landmarks, 0.3), 400)
    assert near.covariance is not None
    assert far.covariance is not None
    assert near.covariance[0, 0] > far.covariance[0, 0]
    assert near.floor[0] == pytest.approx(1.0)
    assert near.joints["head"][0][:2] == pytest.approx([400.0, 100.0])


def test_cli_video_needs_out(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["perceive", "--video", str(tmp_path / "x.mp4")])
    assert result.exit_code == 2
    assert "--out" in result.output


def test_cli_video_unreadable(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    result = CliRunner().invoke(
        app, ["perceive", "--video", str(bad), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 2
    assert "failed to open video" in result.output
    assert "Traceback" not in result.output

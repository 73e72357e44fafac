"""Bad input to `walkout perceive` stops it with one stderr line and exit code 2."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("mediapipe", reason="the perception extra is not installed")
cv2 = pytest.importorskip("cv2", reason="the perception extra is not installed")

from walkout.cli import app  # noqa: E402
from walkout.importers.autocheckout import import_autocheckout  # noqa: E402


@pytest.fixture(scope="module")
def imported(nanostore_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cps01")
    import_autocheckout(nanostore_dir / "cps-test-01", out)
    return out


@pytest.fixture
def recording(imported: Path, tmp_path: Path) -> Path:
    """Return a private copy of the recording whose videos are hard links."""
    copy = tmp_path / "rec"
    shutil.copytree(imported, copy, copy_function=os.link)
    return copy


def _replace_json(path: Path, document: Any) -> None:
    # Unlink first, because the file may be a hard link to the shared import.
    path.unlink()
    path.write_text(json.dumps(document, indent=2))


def _run(*args: str) -> Any:
    return CliRunner().invoke(app, ["perceive", *args])


def _assert_one_line_error(result: Any, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert result.stdout == ""
    for fragment in fragments:
        assert fragment in result.stderr


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_overlay_folder_rejected(recording: Path, tmp_path: Path) -> None:
    result = _run(str(recording), "--overlay", str(tmp_path), "--no-vision")
    _assert_one_line_error(result, "is a folder", ".mp4")
    assert not (recording / "poses.csv").exists()


def test_overlay_without_extension_rejected(recording: Path, tmp_path: Path) -> None:
    result = _run(str(recording), "--overlay", str(tmp_path / "ov"), "--no-vision")
    _assert_one_line_error(result, "needs the .mp4 extension")


def test_overlay_missing_parent_rejected(recording: Path, tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "ov.mp4"
    result = _run(str(recording), "--overlay", str(target), "--no-vision")
    _assert_one_line_error(result, "does not exist", "--overlay")


def test_unwritable_recording_rejected_before_frames(
    recording: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root ignores permission bits, so a failing mkstemp simulates a
    # read-only folder.
    def read_only(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    result = _run(str(recording), "--no-vision")
    _assert_one_line_error(result, "cannot write files here", str(recording))


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf"])
def test_seconds_must_be_positive_finite(recording: Path, value: str) -> None:
    result = _run(str(recording), "--seconds", value, "--no-vision")
    assert result.exit_code == 2
    assert "positive number of seconds" in result.stderr


def test_camera_map_repeated_key(recording: Path) -> None:
    result = _run(str(recording), "--camera-map", "1=5,1=9", "--no-vision")
    assert result.exit_code == 2
    assert "mapped twice" in result.stderr


def test_camera_map_unknown_video(recording: Path) -> None:
    result = _run(str(recording), "--camera-map", "7=5", "--no-vision")
    _assert_one_line_error(result, "names video 7", "does not have")


def test_camera_map_shared_calibration(recording: Path) -> None:
    result = _run(str(recording), "--camera-map", "1=5", "--no-vision")
    _assert_one_line_error(result, "videos 1, 5 all map to calibration 5")


def test_missing_video_folder_named(recording: Path) -> None:
    shutil.rmtree(recording / "video")
    result = _run(str(recording), "--no-vision")
    _assert_one_line_error(result, "video folder is missing")


def test_store_without_cameras_named(recording: Path) -> None:
    store = json.loads((recording / "store.json").read_text())
    del store["cameras"]
    _replace_json(recording / "store.json", store)
    result = _run(str(recording), "--no-vision")
    _assert_one_line_error(result, "no camera calibration")
    assert "--camera-map" not in result.stderr


def test_frame_size_unlike_calibration(recording: Path) -> None:
    store = json.loads((recording / "store.json").read_text())
    for camera in store["cameras"]:
        if camera["id"] == "5":
            camera["width"], camera["height"] = 1280, 720
    _replace_json(recording / "store.json", store)
    result = _run(str(recording), "--no-vision")
    _assert_one_line_error(result, "camera 5", "640x360", "1280x720")


def test_video_out_existing_file(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"")
    out = tmp_path / "tracks"
    out.write_text("a file")
    result = _run("--video", str(clip), "--out", str(out))
    _assert_one_line_error(result, "is a file", "--out")
    assert "Errno" not in result.stderr


class _ShortCapture:
    """A VideoCapture stand-in whose container promises more frames than it has."""

    readable = 2
    promised = 5

    def __init__(self, path: str) -> None:
        self.reads = 0

    def isOpened(self) -> bool:
        return True

    def get(self, prop: int) -> float:
        return {
            cv2.CAP_PROP_FRAME_WIDTH: 640.0,
            cv2.CAP_PROP_FRAME_HEIGHT: 360.0,
            cv2.CAP_PROP_FPS: 10.0,
            cv2.CAP_PROP_FRAME_COUNT: float(self.promised),
        }[prop]

    def read(self) -> tuple[bool, Any]:
        self.reads += 1
        if self.reads > self.readable:
            return False, None
        return True, np.zeros((360, 640, 3), np.uint8)

    def release(self) -> None:
        pass


def test_video_ended_early_named(
    recording: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cv2, "VideoCapture", _ShortCapture)
    result = _run(str(recording), "--no-vision")
    assert result.exit_code == 0, result.output
    for camera_id in ("1", "5", "9", "11"):
        assert f"camera {camera_id}: the video ended early" in result.stderr
    assert "3 frames could not be read" in result.stderr


def test_no_frames_keeps_old_poses(
    recording: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_ShortCapture, "readable", 0)
    monkeypatch.setattr(cv2, "VideoCapture", _ShortCapture)
    old = "t,track,joint,x,y,z,score\n1.0,p1,head,1.0,1.0,1.6,0.9\n"
    (recording / "poses.csv").write_text(old)
    result = _run(str(recording), "--no-vision")
    _assert_one_line_error(result, "no frame could be read")
    assert (recording / "poses.csv").read_text() == old


def test_failed_run_leaves_no_partial_overlay(
    recording: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from walkout.perception.tracking import Tracker

    def broken_update(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device", str(recording / "poses.csv"))

    monkeypatch.setattr(cv2, "VideoCapture", _ShortCapture)
    monkeypatch.setattr(Tracker, "update", broken_update)
    overlay_folder = tmp_path / "overlays"
    overlay_folder.mkdir()
    overlay = overlay_folder / "ov.mp4"
    result = _run(str(recording), "--overlay", str(overlay), "--no-vision")
    _assert_one_line_error(result, "No space left on device")
    assert not overlay.exists()
    assert list(overlay_folder.iterdir()) == []
    assert _leftovers(recording) == []


def test_video_failure_leaves_no_partial_overlay(
    recording: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from walkout.perception.tracking import Tracker

    def broken_update(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Tracker, "update", broken_update)
    overlay_folder = tmp_path / "overlays"
    overlay_folder.mkdir()
    overlay = overlay_folder / "ov.mp4"
    result = _run(
        "--video",
        str(recording / "video" / "1.mp4"),
        "--out",
        str(tmp_path / "tracks"),
        "--overlay",
        str(overlay),
        "--seconds",
        "0.5",
    )
    _assert_one_line_error(result, "No space left on device")
    assert list(overlay_folder.iterdir()) == []


def test_missing_model_suggests_no_vision(
    recording: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from walkout.perception import perceive as perceive_module
    from walkout.perception.recognition.errors import ModelFileError

    def no_model(*args: object, **kwargs: object) -> None:
        raise ModelFileError("model not found: models/m.onnx")

    monkeypatch.setattr(perceive_module, "_hand_observer", no_model)
    result = _run(str(recording), "--seconds", "0.1")
    _assert_one_line_error(result, "model not found", "--no-vision")


def test_video_out_under_file_no_errno(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"")
    (tmp_path / "plain").write_text("a file")
    result = _run("--video", str(clip), "--out", str(tmp_path / "plain" / "tracks"))
    _assert_one_line_error(result, "Not a directory")
    assert "Errno" not in result.stderr


def test_ffmpeg_decoder_log_quieted(
    recording: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # setenv first, so that the fixture restores the original state afterwards.
    monkeypatch.setenv("OPENCV_FFMPEG_LOGLEVEL", "")
    monkeypatch.delenv("OPENCV_FFMPEG_LOGLEVEL")
    monkeypatch.setattr(cv2, "VideoCapture", _ShortCapture)
    result = _run(str(recording), "--no-vision")
    assert result.exit_code == 0, result.output
    assert os.environ["OPENCV_FFMPEG_LOGLEVEL"] == "-8"

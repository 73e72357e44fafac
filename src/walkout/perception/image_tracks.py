"""People in footage without a calibration: pose and tracking in image coordinates.

``perceive_video`` runs the same MediaPipe pose estimator as ``perceive``
on every ``stride``-th frame of one video. It tracks people with the same
Kalman and Hungarian tracker, but on the image plane. A person's position
is the middle of their shoulders and hips in units of the image height,
with a spread proportional to the person's size in the image, so that one
set of thresholds suits near and far people. It writes ``tracks.csv``
(frame, t, track, joint, x_px, y_px, score) and optionally an overlay MP4.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from walkout.perception.outputs import temporary_sibling
from walkout.perception.pose import (
    JOINTS,
    LEFT_HIP,
    LEFT_SHOULDER,
    RIGHT_HIP,
    RIGHT_SHOULDER,
    Image,
    MediapipePoseEstimator,
    PersonDetection,
    PoseParams,
    draw_detection,
)
from walkout.perception.tracking import Observation, Track, Tracker, TrackerParams
from walkout.recording import FloatArray
from walkout.recording._files import replace_atomically

logger = logging.getLogger(__name__)

TRACKS_COLUMNS = ("frame", "t", "track", "joint", "x_px", "y_px", "score")

# Tracker thresholds on the image plane, where lengths are in image heights
# and speeds in image heights per second (the ``_m`` fields too). As an
# estimate, a walking person crosses a store camera's view in 2 to 10 s,
# which is 0.1 to 0.5 image heights per second.
IMAGE_TRACKER_PARAMS = TrackerParams(
    gate_sd=3.0,
    min_hits=3,
    max_lost_s=2.0,
    tentative_max_lost_s=0.3,
    acceleration_sd=0.5,
    measurement_sd_m=0.03,
    max_coast_sd_m=0.1,
    coast_velocity_tau_s=1.0,
    # No re-identification by position: on the image plane the next person
    # often walks in where the last one left.
    reid_window_s=0.0,
)

# Detections whose box (around their visible landmarks) is shorter than
# this fraction of the image height are dropped. In the Intel one-by-one
# clip this drops the foot of a table, which the model finds as a person.
# A real person that small is too far away for their wrists to be useful.
MIN_BOX_HEIGHT_FRACTION = 0.2

# Spread of a person's image position as a fraction of their box height:
# the torso middle moves that much with pose and detection noise.
POSITION_SD_PER_HEIGHT = 0.15


@dataclass
class VideoReport:
    """Summary of one image-space run, with its speed."""

    frames: int = 0
    detections: int = 0
    rows: int = 0
    tracks: list[str] = field(default_factory=list)
    seconds: float = 0.0
    pose_seconds: float = 0.0
    width: int = 0
    height: int = 0
    fps: float = 0.0

    @property
    def frames_per_second(self) -> float:
        """Frames processed per wall-clock second, all steps included."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def pose_frames_per_second(self) -> float:
        """Frames per second of the pose estimator alone."""
        return self.frames / self.pose_seconds if self.pose_seconds > 0 else 0.0


def image_observation(detection: PersonDetection, height: int) -> Observation:
    """Return a detection as a tracker observation on the image plane.

    The position is the middle of the shoulders and hips that are visible
    (else the box centre), in image heights. Joints keep their pixels as
    (u, v, 0).
    """
    landmarks = detection.landmarks
    torso = [LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_HIP, RIGHT_HIP]
    visible = [i for i in torso if landmarks[i, 2] >= 0.5]
    if visible:
        u, v = landmarks[visible, :2].mean(axis=0)
    else:
        x0, y0, x1, y1 = detection.box
        u, v = (x0 + x1) / 2, (y0 + y1) / 2
    box_height = max(detection.box[3] - detection.box[1], 0.05 * height)
    sd = POSITION_SD_PER_HEIGHT * box_height / height
    joints: dict[str, tuple[FloatArray, float]] = {
        name: (np.array([x, y, 0.0]), score)
        for name, (x, y, score) in detection.joints.items()
    }
    return Observation(
        (float(u) / height, float(v) / height),
        joints,
        covariance=sd**2 * np.eye(2),
    )


def perceive_video(
    video: Path,
    out_dir: Path,
    *,
    overlay: Path | None = None,
    stride: int = 1,
    max_seconds: float | None = None,
    pose_params: PoseParams | None = None,
    tracker_params: TrackerParams | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> VideoReport:
    """Run pose and image-plane tracking on ``video`` and write ``out_dir/tracks.csv``.

    ``stride`` processes every stride-th frame; ``max_seconds`` stops after
    that much video. ``overlay`` names an MP4 with skeletons and track ids.
    """
    if stride < 1:
        raise ValueError(f"stride must be 1 or more, got {stride}")
    started = time.perf_counter()
    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise OSError(f"failed to open video {video}; check that it is a video file")
    fps = capture.get(cv2.CAP_PROP_FPS) or 10.0
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    if max_seconds is not None:
        total = min(total, round(max_seconds * fps))
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    report = VideoReport(width=width, height=height, fps=fps)

    out_dir.mkdir(parents=True, exist_ok=True)
    tracker = Tracker(tracker_params or IMAGE_TRACKER_PARAMS)
    # The overlay goes to a temporary file beside its target and is renamed
    # only when every frame was written, so a failure leaves no partial video.
    pending: Path | None = None
    writer: cv2.VideoWriter | None = None
    if overlay is not None:
        overlay.parent.mkdir(parents=True, exist_ok=True)
        pending = temporary_sibling(overlay)
        writer = _open_overlay(pending, overlay, fps / stride, width, height)
    lines = [",".join(TRACKS_COLUMNS)]
    completed = False
    try:
        with MediapipePoseEstimator(pose_params) as estimator:
            for index in range(total):
                ok, raw = capture.read()
                if not ok:
                    break
                if index % stride:
                    continue
                frame: Image = np.asarray(raw, dtype=np.uint8)
                t = index / fps
                pose_started = time.perf_counter()
                detections = estimator.detect(frame, video.stem)
                report.pose_seconds += time.perf_counter() - pose_started
                report.frames += 1
                detections = [
                    d
                    for d in detections
                    if d.box[3] - d.box[1] >= MIN_BOX_HEIGHT_FRACTION * height
                ]
                report.detections += len(detections)
                observations = [image_observation(d, height) for d in detections]
                tracks = tracker.update(t, observations)
                lines.extend(_rows(index, t, tracks))
                if writer is not None:
                    writer.write(_draw(frame, t, detections, tracks))
                if progress is not None:
                    progress(index + 1, total)
        completed = True
    finally:
        capture.release()
        if writer is not None:
            writer.release()
        if pending is not None and not completed:
            pending.unlink(missing_ok=True)

    report.rows = len(lines) - 1
    report.tracks = sorted(
        {line.split(",")[2] for line in lines[1:]}, key=lambda x: (len(x), x)
    )
    try:
        with replace_atomically(out_dir / "tracks.csv") as sink:
            sink.write(("\n".join(lines) + "\n").encode())
        if pending is not None and overlay is not None:
            os.replace(pending, overlay)
    finally:
        if pending is not None:
            pending.unlink(missing_ok=True)
    report.seconds = time.perf_counter() - started
    logger.info(
        "%s: %d frames in %.1f s (%.1f frames/s), %d detections, tracks %s",
        video,
        report.frames,
        report.seconds,
        report.frames_per_second,
        report.detections,
        ", ".join(report.tracks) or "none",
    )
    return report


def _rows(index: int, t: float, tracks: list[Track]) -> list[str]:
    rows = []
    for track in tracks:
        for joint in JOINTS:
            if joint not in track.joints:
                continue
            point, score = track.joints[joint]
            rows.append(
                f"{index},{t:.3f},{track.id},{joint},{point[0]:.1f},{point[1]:.1f},"
                f"{min(1.0, max(0.0, score)):.3f}"
            )
    return rows


def _open_overlay(
    path: Path, target: Path, fps: float, width: int, height: int
) -> cv2.VideoWriter:
    """Open an MP4 writer on ``path``, the temporary file that becomes ``target``."""
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, (width, height)
    )
    if not writer.isOpened():
        path.unlink(missing_ok=True)
        raise OSError(f"failed to open {target} for writing an MP4 video")
    return writer


def _draw(
    frame: Image,
    t: float,
    detections: list[PersonDetection],
    tracks: list[Track],
) -> Image:
    canvas: Image = frame.copy()
    for detection in detections:
        draw_detection(canvas, detection, "")
    height = frame.shape[0]
    for track in tracks:
        u, v = track.floor * height
        cv2.circle(canvas, (int(u), int(v)), 6, (255, 255, 0), -1)
        cv2.putText(
            canvas,
            track.id,
            (int(u) + 8, int(v)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.8,
            (255, 255, 0),
            2,
        )
    cv2.putText(
        canvas,
        f"t={t:.1f} s",
        (8, 22),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.6,
        (0, 255, 255),
        2,
    )
    return canvas

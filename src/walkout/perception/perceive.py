"""Video in, ``poses.csv`` out: detect, lift to store coordinates, track, write.

``perceive`` reads ``REC/video/index.json`` and the videos, steps through
the recording clock one instant at a time (frames of different cameras
whose times lie within half a frame period are one instant), finds people
and their head and wrists in every frame, lifts them to store coordinates,
tracks them and writes ``REC/poses.csv`` atomically.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from walkout.perception.geometry import in_image
from walkout.perception.hands import (
    HandObserver,
    HandParams,
    product_classes,
    write_vision,
)
from walkout.perception.lifting import Lifter, LiftParams, LiftStats, floor_bounds
from walkout.perception.outputs import (
    check_video_target,
    check_writable_folder,
)
from walkout.perception.overlay import OverlayWriter
from walkout.perception.pose import (
    JOINTS,
    Image,
    MediapipePoseEstimator,
    PersonDetection,
    PoseParams,
)
from walkout.perception.recognition import Recogniser
from walkout.perception.tracking import (
    EntryBirth,
    Merge,
    Reidentification,
    Track,
    Tracker,
    TrackerParams,
)
from walkout.recording import Camera, PoseSamples, Store, read_recording
from walkout.recording._csv import write_csv_table
from walkout.recording._files import replace_atomically
from walkout.recording.errors import RecordingError
from walkout.recording.writer import poses_table

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]

# Pixels near the image border in which a person counts as out of view,
# because people cut off by the border are often missed.
IN_VIEW_MARGIN_PX = 20.0

# Relative difference between a container's frame rate and index.json's
# above which perception warns. Frame times follow index.json either way.
FPS_TOLERANCE = 0.01

# FFmpeg log level for OpenCV's decoder (-8 is AV_LOG_QUIET). A corrupt video
# otherwise prints a line per damaged packet, thousands in all, and the
# frames it loses are reported in PerceiveReport.ended_early instead. The
# variable is read when OpenCV first opens a video, and a value set by the
# caller is kept. NOTE: with opencv-contrib-python 4.11.0.86 every value
# tried (-8 to 48) hid the decoder's lines, so only leaving it unset shows them.
FFMPEG_LOG_LEVEL_VARIABLE = "OPENCV_FFMPEG_LOGLEVEL"
FFMPEG_QUIET = "-8"


@dataclass
class PerceiveReport:
    """Summary of one perception run, with its speed."""

    frames: int = 0
    instants: int = 0
    detections: int = 0
    pose_rows: int = 0
    tracks: list[str] = field(default_factory=list)
    entry_births: list[EntryBirth] = field(default_factory=list)
    merges: list[Merge] = field(default_factory=list)
    reidentifications: list[Reidentification] = field(default_factory=list)
    lifting: LiftStats = field(default_factory=LiftStats)
    seconds: float = 0.0
    pose_seconds: float = 0.0
    vision_seconds: float = 0.0
    hand_crops: int = 0
    vision_rows: int = 0
    vision_written: bool = False
    cameras: list[str] = field(default_factory=list)
    # Frames that each camera lost because its video ended before the frame
    # count in its container, by camera id.
    ended_early: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def frames_per_second(self) -> float:
        """Frames processed per wall-clock second, all steps included."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def pose_frames_per_second(self) -> float:
        """Frames per second of the pose estimator alone."""
        return self.frames / self.pose_seconds if self.pose_seconds > 0 else 0.0


@dataclass
class _CameraStream:
    camera_id: str
    calibration: Camera
    capture: cv2.VideoCapture
    start_t: float
    fps: float
    frame_count: int
    index: int = 0
    lost: int = 0

    @property
    def next_t(self) -> float:
        return self.start_t + self.index / self.fps

    @property
    def done(self) -> bool:
        return self.index >= self.frame_count


def _open_streams(
    recording_path: Path,
    cameras: Mapping[str, Camera],
    videos: Mapping[str, tuple[str, float, float]],
    calibration_of: Mapping[str, str],
    max_seconds: float | None,
    warnings: list[str],
) -> list[_CameraStream]:
    streams: list[_CameraStream] = []
    for camera_id, (file, start_t, fps) in sorted(videos.items()):
        calibration_id = calibration_of.get(camera_id, camera_id)
        if calibration_id not in cameras:
            logger.warning(
                "camera %s: no calibration %s in store.json, video skipped",
                camera_id,
                calibration_id,
            )
            continue
        video_path = recording_path / "video" / file
        if not video_path.is_file():
            raise RecordingError(
                video_path,
                f"the video of camera {camera_id} is missing",
                hint="restore the file or remove camera "
                f"{camera_id} from video/index.json",
            )
        capture = cv2.VideoCapture(str(video_path))
        if not capture.isOpened():
            raise RecordingError(
                video_path,
                f"failed to open the video of camera {camera_id}",
                hint="check that it is a readable video file",
            )
        try:
            _check_video_format(
                video_path, camera_id, capture, cameras[calibration_id], fps, warnings
            )
        except RecordingError:
            capture.release()
            for stream in streams:
                stream.capture.release()
            raise
        frame_count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        if max_seconds is not None:
            frame_count = min(frame_count, round(max_seconds * fps))
        streams.append(
            _CameraStream(
                camera_id, cameras[calibration_id], capture, start_t, fps, frame_count
            )
        )
        logger.info(
            "camera %s: %d frames at %.1f fps from t=%.3f, calibration %s",
            camera_id,
            frame_count,
            fps,
            start_t,
            calibration_id,
        )
    return streams


def _check_video_format(
    path: Path,
    camera_id: str,
    capture: cv2.VideoCapture,
    calibration: Camera,
    fps: float,
    warnings: list[str],
) -> None:
    """Reject a frame size unlike the calibration's, and warn of an fps mismatch.

    The intrinsics are in the calibration's pixels, so another frame size
    would put every projection in the wrong place.
    """
    width = round(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = round(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    if (width, height) != (calibration.width, calibration.height):
        raise RecordingError(
            path,
            f"camera {camera_id}: frames are {width}x{height} pixels, but its "
            f"calibration {calibration.id} in store.json is for "
            f"{calibration.width}x{calibration.height}",
            hint="scale the video to the calibrated size, or map it to the "
            "matching calibration with --camera-map",
        )
    container_fps = capture.get(cv2.CAP_PROP_FPS)
    if container_fps > 0 and abs(container_fps - fps) > FPS_TOLERANCE * fps:
        message = (
            f"camera {camera_id}: {path.name} is {container_fps:.3f} fps, but "
            f"video/index.json gives {fps:g} fps. Frame times follow index.json"
        )
        # Logged at info level because the report carries it to the caller.
        logger.info("%s", message)
        warnings.append(message)


def _check_camera_map(
    recording_path: Path,
    videos: Mapping[str, object],
    calibration_of: Mapping[str, str],
) -> None:
    """Reject a camera map that names an unknown video or shares a calibration."""
    unknown = sorted(set(calibration_of) - set(videos))
    if unknown:
        raise RecordingError(
            recording_path / "video" / "index.json",
            f"--camera-map names video {', '.join(unknown)}, which the "
            f"recording does not have (videos: {', '.join(sorted(videos))})",
            hint="map only the recording's video ids",
        )
    users: dict[str, list[str]] = {}
    for camera_id in videos:
        users.setdefault(calibration_of.get(camera_id, camera_id), []).append(camera_id)
    shared = {cal: ids for cal, ids in users.items() if len(ids) > 1}
    if shared:
        calibration_id, ids = sorted(shared.items())[0]
        raise RecordingError(
            recording_path / "store.json",
            f"videos {', '.join(sorted(ids))} all map to calibration "
            f"{calibration_id}, but one calibration describes one camera",
            hint="give each video its own calibration in --camera-map",
        )


def check_outputs(recording_path: Path, overlay: Path | None, *, write: bool) -> None:
    """Raise ``OutputPathError`` unless every output of ``perceive`` is writable."""
    if write:
        check_writable_folder(
            recording_path,
            fix="poses.csv and vision.csv are written into the recording "
            "folder, so make it writable or work on a copy",
        )
    if overlay is not None:
        check_video_target(overlay, option="--overlay")


def _hand_observer(
    store: Store,
    cameras: Mapping[str, Camera],
    recogniser: Recogniser | None,
    params: HandParams | None,
) -> HandObserver | None:
    """Return a hand observer, or None when no product has a vision class."""
    if not product_classes(store):
        logger.info("no product has a vision_class: vision.csv is not written")
        return None
    observer = HandObserver(
        store, cameras, recogniser or Recogniser(threads=1), params or HandParams()
    )
    if not observer.active:
        logger.warning(
            "no product's vision_class is a recogniser class: vision.csv is not written"
        )
        return None
    return observer


def _in_view_test(
    cameras: Mapping[str, Camera], head_height_m: float
) -> Callable[[str, tuple[float, float]], bool]:
    """Return a test of whether a camera sees a standing head at a floor point."""

    def in_view(camera_id: str, floor: tuple[float, float]) -> bool:
        head = np.array([floor[0], floor[1], head_height_m])
        return in_image(cameras[camera_id], head, margin_px=IN_VIEW_MARGIN_PX)

    return in_view


def _track_rows(t: float, tracks: list[Track], rows: dict[str, list[object]]) -> None:
    for track in tracks:
        for joint in JOINTS:
            if joint not in track.joints:
                continue
            point, score = track.joints[joint]
            if joint == "head":
                # The filtered floor position, which fuses every camera's view.
                point = np.array([track.floor[0], track.floor[1], point[2]])
            rows["t"].append(t)
            rows["track"].append(track.id)
            rows["joint"].append(joint)
            rows["xyz"].append(point)
            rows["score"].append(min(1.0, max(0.0, score)))


def perceive(
    recording_path: Path,
    *,
    overlay: Path | None = None,
    progress: ProgressCallback | None = None,
    calibration_of: Mapping[str, str] | None = None,
    max_seconds: float | None = None,
    pose_params: PoseParams | None = None,
    lift_params: LiftParams | None = None,
    tracker_params: TrackerParams | None = None,
    write: bool = True,
    vision: bool = True,
    recogniser: Recogniser | None = None,
    hand_params: HandParams | None = None,
) -> PerceiveReport:
    """Run perception on a recording's videos and write ``poses.csv`` into it.

    ``calibration_of`` maps a video's camera id to the id of the camera
    calibration that belongs to it, for recordings whose video numbering
    differs from the calibration's; ids not in it map to themselves.
    ``max_seconds`` limits each video to its first seconds. ``overlay``
    names an MP4 file to draw the cameras, skeletons, track ids and
    projected plates into. ``progress`` is called with (frames done, total).
    With ``write`` false, nothing is written to the recording.

    With ``vision`` true and at least one product whose ``vision_class`` is
    a recogniser class, hands at shelves are cropped and recognised and
    ``REC/vision.csv`` is written (see ``perception.hands``); ``recogniser``
    defaults to the committed model. Without such products no vision.csv is
    written, and an existing one is left as it is.

    Before any frame is read, raises ``RecordingError`` on a missing video
    folder, an empty video index, a store without cameras, a bad
    ``calibration_of`` or a frame size unlike the calibration's, and
    ``OutputPathError`` when the recording folder or ``overlay`` cannot be
    written. A run that reads no frame raises ``RecordingError`` and leaves
    an existing poses.csv as it was.
    """
    started = time.perf_counter()
    if max_seconds is not None and not (math.isfinite(max_seconds) and max_seconds > 0):
        raise ValueError(f"max_seconds must be a positive number, got {max_seconds}")
    os.environ.setdefault(FFMPEG_LOG_LEVEL_VARIABLE, FFMPEG_QUIET)
    recording = read_recording(recording_path)
    store = recording.store
    cameras = {camera.id: camera for camera in store.cameras}
    videos = {
        camera_id: (video.file, video.start_t, video.fps)
        for camera_id, video in recording.video.items()
    }
    if not (recording_path / "video").is_dir():
        raise RecordingError(
            recording_path / "video",
            "the video folder is missing",
            hint="perception needs the recording's camera footage in "
            "video/ with video/index.json",
        )
    if not videos:
        raise RecordingError(
            recording_path / "video" / "index.json",
            "lists no videos",
            hint="perception needs the recording's camera footage",
        )
    if not cameras:
        raise RecordingError(
            recording_path / "store.json",
            "the store has no camera calibration ('cameras' is missing or empty)",
            hint="perception needs calibrated cameras, so use a store.json with "
            "cameras, or track one video in image coordinates with --video",
        )
    _check_camera_map(recording_path, videos, calibration_of or {})
    check_outputs(recording_path, overlay, write=write)
    warnings: list[str] = []
    streams = _open_streams(
        recording_path, cameras, videos, calibration_of or {}, max_seconds, warnings
    )
    if not streams:
        raise RecordingError(
            recording_path / "store.json",
            "no video has a camera calibration here",
            hint="map video ids to calibration ids with --camera-map",
        )

    report = PerceiveReport(
        cameras=[stream.camera_id for stream in streams], warnings=warnings
    )
    calibrations = {stream.camera_id: stream.calibration for stream in streams}
    # The recogniser loads first, because a missing model is an input error
    # that should stop the run before anything else is set up.
    try:
        hands = (
            _hand_observer(store, calibrations, recogniser, hand_params)
            if vision
            else None
        )
    except BaseException:
        for stream in streams:
            stream.capture.release()
        raise
    estimators = {
        stream.camera_id: MediapipePoseEstimator(pose_params) for stream in streams
    }
    lift_params = lift_params or LiftParams()
    plates = list(store.plates.values())
    lifter = Lifter(
        calibrations,
        plates,
        lift_params,
        floor=floor_bounds(
            list(calibrations.values()), plates, lift_params.floor_margin_m
        ),
    )
    tracker = Tracker(
        tracker_params,
        entry_zones=store.zones,
        in_view=_in_view_test(calibrations, lift_params.head_height_m),
    )
    writer: OverlayWriter | None = None
    rows: dict[str, list[object]] = {
        k: [] for k in ("t", "track", "joint", "xyz", "score")
    }
    total = sum(stream.frame_count for stream in streams)
    half_period = 0.5 / max(stream.fps for stream in streams)

    try:
        if overlay is not None:
            writer = OverlayWriter(
                overlay, [s.calibration for s in streams], store.plates.values()
            )
        while True:
            pending = [stream for stream in streams if not stream.done]
            if not pending:
                break
            t = min(stream.next_t for stream in pending)
            due = [s for s in pending if s.next_t <= t + half_period]

            # Read each due camera's frame and find the people in it.
            frames: dict[str, Image] = {}
            detections: list[PersonDetection] = []
            for stream in due:
                stream.index += 1
                ok, raw = stream.capture.read()
                if not ok:
                    stream.lost = stream.frame_count - (stream.index - 1)
                    # Info level, because PerceiveReport.ended_early carries it.
                    logger.info(
                        "camera %s: frame %d unreadable, video ended early "
                        "and lost %d frames",
                        stream.camera_id,
                        stream.index - 1,
                        stream.lost,
                    )
                    stream.frame_count = stream.index
                    continue
                frame: Image = np.asarray(raw, dtype=np.uint8)
                report.frames += 1
                frames[stream.camera_id] = frame
                pose_started = time.perf_counter()
                found = estimators[stream.camera_id].detect(frame, stream.camera_id)
                report.pose_seconds += time.perf_counter() - pose_started
                detections.extend(found)
            report.detections += len(detections)
            report.instants += 1

            # Lift to store coordinates, track, and keep the confirmed tracks.
            observations = lifter.lift(detections)
            tracks = tracker.update(t, observations)
            _track_rows(t, tracks, rows)
            if hands is not None:
                vision_started = time.perf_counter()
                hands.observe(t, frames, tracks)
                report.vision_seconds += time.perf_counter() - vision_started

            if writer is not None:
                writer.add(t, frames, detections, tracks)
            if progress is not None:
                progress(report.frames, total)
        if report.frames == 0:
            raise RecordingError(
                recording_path / "video",
                "no frame could be read from any video, so poses.csv was not written",
                hint="check that the videos play, for example with ffprobe",
            )
    except BaseException:
        if writer is not None:
            writer.discard()
            writer = None
        raise
    finally:
        for stream in streams:
            stream.capture.release()
        for estimator in estimators.values():
            estimator.close()
    if writer is not None:
        writer.close()

    report.ended_early = {
        stream.camera_id: stream.lost for stream in streams if stream.lost
    }

    report.pose_rows = len(rows["t"])
    report.tracks = sorted({str(track) for track in rows["track"]})
    report.entry_births = tracker.entry_births
    report.merges = tracker.merges
    report.reidentifications = tracker.reidentifications
    report.lifting = lifter.stats
    if write:
        _write_poses(recording_path / "poses.csv", rows)
    if hands is not None:
        seen_in_hands = hands.observations()
        report.hand_crops = hands.crops
        report.vision_rows = len(seen_in_hands)
        report.vision_written = write
        if write:
            write_vision(recording_path / "vision.csv", seen_in_hands)
    report.seconds = time.perf_counter() - started
    logger.info(
        "perceived %d frames from %d cameras in %.1f s (%.1f frames/s): "
        "%d pose rows, tracks %s",
        report.frames,
        len(streams),
        report.seconds,
        report.frames_per_second,
        report.pose_rows,
        ", ".join(report.tracks) or "none",
    )
    return report


def _write_poses(target: Path, rows: dict[str, list[object]]) -> None:
    xyz = np.asarray(rows["xyz"], dtype=np.float64).reshape(-1, 3)
    samples = PoseSamples(
        t=np.asarray(rows["t"], dtype=np.float64),
        track=np.asarray(rows["track"], dtype=object),
        joint=np.asarray(rows["joint"], dtype=object),
        xyz=np.round(xyz, 4),
        score=np.round(np.asarray(rows["score"], dtype=np.float64), 3).astype(
            np.float64
        ),
    )
    with replace_atomically(target) as sink:
        write_csv_table(poses_table(samples), sink)
    logger.info("wrote %s: %d rows", target, len(samples))

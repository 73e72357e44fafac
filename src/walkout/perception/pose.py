"""Body joints per camera frame: head and wrists of every person found.

The estimator runs MediaPipe Pose (legacy solutions API, the bundled
``pose_landmark_full.tflite`` and ``pose_detection.tflite``) on the whole
frame. That model finds one person per call, so after each hit the person's
box is painted grey and the model runs again, up to ``max_people`` times.
This needs only the model files that ship inside the mediapipe 0.10.21
wheel. The tasks API ``PoseLandmarker`` (several people per call) rejects
those files because they lack the input normalisation metadata that it
requires.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

Image = npt.NDArray[np.uint8]

# MediaPipe Pose landmark indices (BlazePose topology, 33 points).
NOSE = 0
LEFT_EYE = 2
RIGHT_EYE = 5
LEFT_EAR = 7
RIGHT_EAR = 8
LEFT_SHOULDER = 11
RIGHT_SHOULDER = 12
LEFT_WRIST = 15
RIGHT_WRIST = 16
LEFT_HIP = 23
RIGHT_HIP = 24

JOINTS = ("head", "left_wrist", "right_wrist")

# Pairs drawn as a skeleton on overlays.
SKELETON = (
    (LEFT_SHOULDER, RIGHT_SHOULDER),
    (LEFT_SHOULDER, 13),
    (13, LEFT_WRIST),
    (RIGHT_SHOULDER, 14),
    (14, RIGHT_WRIST),
    (LEFT_SHOULDER, LEFT_HIP),
    (RIGHT_SHOULDER, RIGHT_HIP),
    (LEFT_HIP, RIGHT_HIP),
)


@dataclass(frozen=True)
class PoseParams:
    """Thresholds of the per-frame pose estimator.

    ``min_detection_confidence`` is MediaPipe's person-detector threshold:
    lowering it finds more people seen from above, at the price of more
    false hits on shelves and reflections. ``min_joint_visibility`` drops a
    joint whose landmark visibility is lower, which removes guessed wrists
    hidden behind the body but also true wrists in odd top-down views.
    ``max_people`` bounds the detect-and-mask rounds per frame: each round
    costs one model call (about 15 ms on one core at 640x360).
    ``mask_margin`` widens a found person's box before it is masked, as a
    fraction of the box size, so that the next round does not find the same
    person again.
    """

    min_detection_confidence: float = 0.3
    min_joint_visibility: float = 0.3
    max_people: int = 3
    mask_margin: float = 0.15


@dataclass
class PersonDetection:
    """One person in one frame: pixel joints with scores and a bounding box.

    ``joints`` maps a joint name (``head``, ``left_wrist``, ``right_wrist``)
    to ``(u, v, score)`` in pixels; a joint below the visibility threshold
    is absent. ``landmarks`` keeps all 33 landmarks as (33, 3) rows of
    ``(u, v, visibility)`` for drawing.
    """

    camera: str
    box: tuple[float, float, float, float]
    joints: dict[str, tuple[float, float, float]]
    landmarks: npt.NDArray[np.float64]
    score: float
    extra: dict[str, Any] = field(default_factory=dict)


def _head(
    landmarks: npt.NDArray[np.float64], min_visibility: float
) -> tuple[float, float, float] | None:
    """Return the head pixel: the nose, else the mean of visible eyes and ears."""
    if landmarks[NOSE, 2] >= min_visibility:
        u, v, visibility = landmarks[NOSE]
        return (float(u), float(v), float(visibility))
    indices = [LEFT_EYE, RIGHT_EYE, LEFT_EAR, RIGHT_EAR]
    visible = [i for i in indices if landmarks[i, 2] >= min_visibility]
    if not visible:
        return None
    rows = landmarks[visible]
    return (
        float(rows[:, 0].mean()),
        float(rows[:, 1].mean()),
        float(rows[:, 2].mean()),
    )


def detection_from_landmarks(
    camera: str, landmarks: npt.NDArray[np.float64], min_visibility: float
) -> PersonDetection:
    """Build a detection from (33, 3) pixel landmarks ``(u, v, visibility)``."""
    joints: dict[str, tuple[float, float, float]] = {}
    head = _head(landmarks, min_visibility)
    if head is not None:
        joints["head"] = head
    for name, index in (("left_wrist", LEFT_WRIST), ("right_wrist", RIGHT_WRIST)):
        u, v, visibility = landmarks[index]
        if visibility >= min_visibility:
            joints[name] = (float(u), float(v), float(visibility))

    visible = landmarks[landmarks[:, 2] >= min_visibility]
    rows = visible if len(visible) else landmarks
    box = (
        float(rows[:, 0].min()),
        float(rows[:, 1].min()),
        float(rows[:, 0].max()),
        float(rows[:, 1].max()),
    )
    score = float(np.mean([joint[2] for joint in joints.values()])) if joints else 0.0
    return PersonDetection(camera, box, joints, landmarks, score)


class MediapipePoseEstimator:
    """Multi-person pose by repeated single-person MediaPipe Pose calls per frame.

    Build one per camera: the MediaPipe graph keeps state between calls.
    Frames are BGR uint8 arrays as OpenCV reads them.
    """

    def __init__(self, params: PoseParams | None = None) -> None:
        import mediapipe as mp

        self.params = params or PoseParams()
        self._pose = mp.solutions.pose.Pose(
            static_image_mode=True,
            model_complexity=1,
            min_detection_confidence=self.params.min_detection_confidence,
        )

    def close(self) -> None:
        self._pose.close()

    def __enter__(self) -> MediapipePoseEstimator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def detect(self, frame: Image, camera: str) -> list[PersonDetection]:
        """Find up to ``max_people`` people in ``frame`` and return their joints."""
        height, width = frame.shape[:2]
        rgb: Image = np.asarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), np.uint8)
        detections: list[PersonDetection] = []
        for _ in range(self.params.max_people):
            result = self._pose.process(rgb)
            if result.pose_landmarks is None:
                break
            landmarks = np.array(
                [
                    (mark.x * width, mark.y * height, mark.visibility)
                    for mark in result.pose_landmarks.landmark
                ],
                dtype=np.float64,
            )
            detection = detection_from_landmarks(
                camera, landmarks, self.params.min_joint_visibility
            )
            detections.append(detection)
            if len(detections) < self.params.max_people:
                rgb = rgb.copy()
                self._mask(rgb, detection.box)
        return detections

    def _mask(self, rgb: Image, box: tuple[float, float, float, float]) -> None:
        height, width = rgb.shape[:2]
        x0, y0, x1, y1 = box
        margin_x = (x1 - x0) * self.params.mask_margin
        margin_y = (y1 - y0) * self.params.mask_margin
        left = int(max(0, x0 - margin_x))
        top = int(max(0, y0 - margin_y))
        right = int(min(width, x1 + margin_x))
        bottom = int(min(height, y1 + margin_y))
        rgb[top:bottom, left:right] = 128


def draw_detection(frame: Image, detection: PersonDetection, label: str) -> None:
    """Draw a detection's skeleton, joints and ``label`` onto a BGR frame in place."""
    landmarks = detection.landmarks
    for a, b in SKELETON:
        if min(landmarks[a, 2], landmarks[b, 2]) < 0.3:
            continue
        start = (int(landmarks[a, 0]), int(landmarks[a, 1]))
        end = (int(landmarks[b, 0]), int(landmarks[b, 1]))
        cv2.line(frame, start, end, (0, 200, 255), 2)
    colours = {
        "head": (0, 255, 0),
        "left_wrist": (255, 0, 0),
        "right_wrist": (0, 0, 255),
    }
    for name, (u, v, _) in detection.joints.items():
        cv2.circle(frame, (int(u), int(v)), 5, colours[name], -1)
    head = detection.joints.get("head")
    anchor = (
        (int(head[0]), int(head[1]) - 10)
        if head
        else (
            int(detection.box[0]),
            int(detection.box[1]),
        )
    )
    cv2.putText(frame, label, anchor, cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2)

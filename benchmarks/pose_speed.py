"""Measure pose-estimator frames per second on one CPU core on real NanoStore video.

Usage: python benchmarks/pose_speed.py VIDEO.mp4 [--frames N]

Run with ``OMP_NUM_THREADS=1 taskset -c 0`` so that the number is per core.
It prints frames per second and the share of frames with at least one
person found.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2

from walkout.perception.pose import MediapipePoseEstimator, PoseParams


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", type=Path, help="an MP4 file")
    parser.add_argument("--frames", type=int, default=200, help="frames to time")
    parser.add_argument("--max-people", type=int, default=3, help="people per frame")
    args = parser.parse_args()

    capture = cv2.VideoCapture(str(args.video))
    frames = []
    while len(frames) < args.frames:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    if not frames:
        raise SystemExit(f"no frames could be read from {args.video}")

    found = 0
    people = 0
    with MediapipePoseEstimator(PoseParams(max_people=args.max_people)) as estimator:
        estimator.detect(frames[0], "warm-up")
        started = time.perf_counter()
        for frame in frames:
            detections = estimator.detect(frame, args.video.stem)
            found += bool(detections)
            people += len(detections)
        elapsed = time.perf_counter() - started

    print(
        f"{args.video.name}: {len(frames)} frames in {elapsed:.2f} s = "
        f"{len(frames) / elapsed:.1f} frames/s; frames with a person "
        f"{found}/{len(frames)}, people found {people}"
    )


if __name__ == "__main__":
    main()

"""Tracked joints: head and wrists of each person as a tracker would report them."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from walkout.recording.model import FloatArray, PoseSamples
from walkout.sim.timeline import Reach, Timeline

logger = logging.getLogger(__name__)

JOINTS = ("head", "left_wrist", "right_wrist")


@dataclass(frozen=True)
class PoseModel:
    """Rate, noise, dropouts and scores of the simulated body tracker."""

    rate_hz: float = 15.0
    """Frames per second. Frames lie on one store-wide grid of 1 / rate_hz."""

    joint_sd_m: float = 0.05
    """Sd of each joint coordinate's error, per axis. Camera trackers of this
    kind are off by several centimetres (estimate)."""

    joint_bias_sd_m: float = 0.01
    """Sd of a slowly varying error shared by a track's joints (estimate)."""

    joint_drop_p: float = 0.04
    """Probability that one joint of one frame is missing."""

    frame_drop_p: float = 0.03
    """Probability that a whole frame of one track is missing."""

    reaching_wrist_drop_p: float = 0.10
    """Extra probability that a wrist inside a shelf is missing (occlusion)."""

    score_mean: float = 0.85
    """Mean detection score of a visible joint."""

    score_sd: float = 0.07
    """Sd of the detection score."""

    hip_height_m: float = 0.90
    """Height of a resting wrist."""

    hip_offset_m: float = 0.22
    """Sideways distance of a resting wrist from the body centre."""

    swing_m: float = 0.12
    """Forward and back swing of a wrist while walking."""

    lean_m: float = 0.12
    """How far the head moves towards the shelf while a hand reaches."""

    smoothing_frames: int = 5
    """Width of the moving average that rounds path corners."""


def _smoothstep(x: FloatArray) -> FloatArray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _reach_weight(times: FloatArray, reach: Reach) -> FloatArray:
    """Return 0 at the hip, 1 at the plate front, blended during the moves."""
    out = _smoothstep((times - reach.t_out) / max(reach.t_arrive - reach.t_out, 1e-6))
    back = _smoothstep(
        (times - reach.t_leave) / max(reach.t_back - reach.t_leave, 1e-6)
    )
    return out * (1.0 - back)


def _body_path(
    timeline: Timeline, times: FloatArray, model: PoseModel
) -> tuple[FloatArray, FloatArray]:
    x = np.interp(times, timeline.key_t, timeline.key_xy[:, 0])
    y = np.interp(times, timeline.key_t, timeline.key_xy[:, 1])
    if model.smoothing_frames > 1 and times.size >= model.smoothing_frames:
        kernel = np.ones(model.smoothing_frames) / model.smoothing_frames
        pad = model.smoothing_frames // 2
        x = np.convolve(np.pad(x, pad, mode="edge"), kernel, mode="valid")
        y = np.convolve(np.pad(y, pad, mode="edge"), kernel, mode="valid")
    segment = np.clip(np.searchsorted(timeline.key_t, times, side="right") - 1, 0, None)
    heading = timeline.key_heading[np.minimum(segment, timeline.key_heading.size - 1)]
    return np.column_stack([x, y]), heading


def true_joints(
    timeline: Timeline, times: FloatArray, model: PoseModel
) -> dict[str, FloatArray]:
    """Return the true head and wrist positions (n x 3) of one person at ``times``."""
    xy, heading = _body_path(timeline, times, model)
    forward = np.column_stack([np.cos(heading), np.sin(heading)])
    right = np.column_stack([np.sin(heading), -np.cos(heading)])
    speed = (
        np.hypot(*np.gradient(xy, times, axis=0).T) if times.size > 1 else np.zeros(1)
    )
    walking = np.clip(speed / max(timeline.plan.speed_mps, 1e-6), 0.0, 1.0)
    swing = model.swing_m * walking * np.sin(2.0 * math.pi * 0.9 * times)

    head = np.column_stack(
        [
            xy,
            np.full(times.size, timeline.plan.height_m)
            + 0.02 * walking * np.sin(2.0 * math.pi * 1.8 * times),
        ]
    )
    wrists: dict[str, FloatArray] = {}
    for joint, side, sign in (("left_wrist", -1.0, -1.0), ("right_wrist", 1.0, 1.0)):
        rest_xy = (
            xy + side * model.hip_offset_m * right + (sign * swing)[:, None] * forward
        )
        rest = np.column_stack([rest_xy, np.full(times.size, model.hip_height_m)])
        wrists[joint] = rest

    # Reaches pull one wrist to the plate front and lean the head towards it.
    for reach in timeline.reaches:
        weight = _reach_weight(times, reach)
        active = weight > 0
        if not np.any(active):
            continue
        joint = f"{reach.hand}_wrist"
        target = np.asarray(reach.target)
        w = weight[active, None]
        wrists[joint][active] = (1.0 - w) * wrists[joint][active] + w * target
        toward = target[:2] - xy[active]
        norm = np.linalg.norm(toward, axis=1, keepdims=True)
        lean = toward / np.maximum(norm, 1e-6) * model.lean_m
        head[active, :2] += w * lean
        head[active, 2] -= w[:, 0] * 0.05
    return {"head": head, **wrists}


def render_poses(
    timelines: Sequence[Timeline], model: PoseModel, rng: np.random.Generator
) -> PoseSamples:
    """Render noisy, gappy tracker output for every timeline on one frame grid.

    A person the tracker loses has no rows while hidden and is reported
    under the new track id afterwards.
    """
    columns: dict[str, list[npt.NDArray[Any]]] = {
        "t": [],
        "track": [],
        "joint": [],
        "xyz": [],
        "score": [],
    }
    period = 1.0 / model.rate_hz
    for timeline in timelines:
        first = math.ceil(timeline.enter_t / period)
        last = math.floor(timeline.exit_t / period)
        times = np.arange(first, last + 1) * period
        if times.size == 0:
            continue
        joints = true_joints(timeline, times, model)
        frame_kept = rng.random(times.size) >= model.frame_drop_p
        frame_kept &= timeline.visible(times)
        labels = timeline.track_at(times)
        bias = rng.normal(0.0, model.joint_bias_sd_m, (1, 3))
        reaching = np.zeros(times.size, dtype=bool)
        for reach in timeline.reaches:
            reaching |= (times >= reach.t_arrive) & (times <= reach.t_leave)

        for joint in JOINTS:
            kept = frame_kept & (rng.random(times.size) >= model.joint_drop_p)
            if joint != "head":
                occluded = reaching & (
                    rng.random(times.size) < model.reaching_wrist_drop_p
                )
                kept &= ~occluded
            count = int(kept.sum())
            noise = rng.normal(0.0, model.joint_sd_m, (count, 3))
            scores = np.clip(
                rng.normal(model.score_mean, model.score_sd, count), 0.0, 1.0
            )
            columns["t"].append(times[kept])
            columns["track"].append(labels[kept])
            columns["joint"].append(np.full(count, joint, dtype=object))
            columns["xyz"].append(joints[joint][kept] + bias + noise)
            columns["score"].append(scores)

    if not columns["t"]:
        return PoseSamples(
            t=np.zeros(0),
            track=np.zeros(0, dtype=object),
            joint=np.zeros(0, dtype=object),
            xyz=np.zeros((0, 3)),
            score=np.zeros(0),
        )
    t = np.concatenate(columns["t"])
    order = np.argsort(t, kind="stable")
    return PoseSamples(
        t=t[order],
        track=np.concatenate(columns["track"])[order],
        joint=np.concatenate(columns["joint"])[order],
        xyz=np.concatenate(columns["xyz"])[order],
        score=np.concatenate(columns["score"])[order],
    )

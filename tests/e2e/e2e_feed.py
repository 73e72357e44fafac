"""A recording cut into what a store's gateway sends: sensor batches and gate rows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from walkout.recording.model import GateEvent, Recording

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True)
class Batch:
    """Sensor rows with ``start <= t < end``, as the JSON body of one batch."""

    index: int
    start: float
    end: float
    payload: dict[str, Any]


@dataclass(frozen=True)
class Weights:
    """Load-cell readings sorted by time, plate ids as strings."""

    t: FloatArray
    plate: np.ndarray[Any, np.dtype[np.object_]]
    g: FloatArray


def padded_weights(recording: Recording, tail_s: float) -> Weights:
    """Return the readings sorted by time, each plate extended by ``tail_s``.

    The load cells keep reporting after the last shopper leaves, and the
    live detector decides an event only once readings reach well past it,
    so the extension repeats each plate's last level at its median interval.
    """
    weights = recording.weights
    end = float(weights.t.max()) + tail_s
    times: list[FloatArray] = [weights.t]
    plates: list[np.ndarray[Any, Any]] = [weights.plate]
    grams: list[FloatArray] = [weights.g]
    for series in weights.series():
        step = float(np.median(np.diff(series.t)))
        tail = np.arange(float(series.t[-1]) + step, end, step)
        times.append(tail)
        grams.append(np.full(tail.size, float(np.mean(series.g[-20:]))))
        index = weights.plate_ids.index(series.plate)
        plates.append(np.full(tail.size, index, dtype=weights.plate.dtype))
    t = np.concatenate(times)
    order = np.argsort(t, kind="stable")
    names = np.asarray(weights.plate_ids, dtype=object)
    return Weights(
        t=t[order],
        plate=names[np.concatenate(plates)[order]],
        g=np.concatenate(grams)[order],
    )


def _rows(times: FloatArray, start: float, end: float) -> slice:
    lo = int(np.searchsorted(times, start, side="left"))
    hi = int(np.searchsorted(times, end, side="left"))
    return slice(lo, hi)


def batches(
    recording: Recording, step_s: float = 1.0, tail_s: float = 15.0
) -> Iterator[Batch]:
    """Cut the recording into batches of ``step_s`` seconds, in time order.

    Weights, poses and vision rows go into the batch of their time. The
    batches run ``tail_s`` past the last reading (see ``padded_weights``).
    """
    weights = padded_weights(recording, tail_s)
    poses, vision = recording.poses, recording.vision
    pose_order = np.argsort(poses.t, kind="stable") if poses is not None else None
    vision_order = np.argsort(vision.t, kind="stable") if vision is not None else None
    start = float(np.floor(min(0.0, float(weights.t[0]))))
    last = float(weights.t[-1])
    index = 0
    while start <= last:
        end = start + step_s
        rows = _rows(weights.t, start, end)
        payload: dict[str, Any] = {
            "weights": {
                "t": weights.t[rows].tolist(),
                "plate": weights.plate[rows].tolist(),
                "g": weights.g[rows].tolist(),
            }
        }
        if poses is not None and pose_order is not None:
            order = pose_order[_rows(poses.t[pose_order], start, end)]
            payload["poses"] = {
                "t": poses.t[order].tolist(),
                "track": [str(track) for track in poses.track[order]],
                "joint": [str(joint) for joint in poses.joint[order]],
                "x": poses.xyz[order, 0].tolist(),
                "y": poses.xyz[order, 1].tolist(),
                "z": poses.xyz[order, 2].tolist(),
                "score": poses.score[order].tolist(),
            }
        if vision is not None and vision_order is not None:
            order = vision_order[_rows(vision.t[vision_order], start, end)]
            payload["vision"] = {
                "t": vision.t[order].tolist(),
                "track": [str(track) for track in vision.track[order]],
                "hand": [str(hand) for hand in vision.hand[order]],
                "sku": [str(sku) for sku in vision.sku[order]],
                "p": vision.p[order].tolist(),
            }
        yield Batch(index, start, end, payload)
        index += 1
        start = end


def tracks_by_account(recording: Recording) -> dict[str, list[str]]:
    """Return each account's tracks from its ``enter`` rows, in gate order."""
    tracks: dict[str, list[str]] = {}
    for gate in sorted(recording.gates, key=lambda gate: gate.t):
        if gate.action == "enter" and gate.account:
            tracks.setdefault(gate.account, []).append(gate.track)
    return tracks


@dataclass(frozen=True)
class Step:
    """One thing the gateway sends at sensor time ``t``: a gate row or a batch."""

    t: float
    gate: GateEvent | None = None
    batch: Batch | None = None


def schedule(
    recording: Recording, step_s: float = 1.0, tail_s: float = 15.0
) -> list[Step]:
    """Return gate rows at their times and each batch at its end, in time order.

    An account's group enters on one pass at its first ``enter`` row, so
    later ``enter`` rows of the same account are left out. A gate row that
    falls inside a batch's window comes before that batch.
    """
    steps: list[Step] = []
    entered: set[str] = set()
    for gate in sorted(recording.gates, key=lambda gate: gate.t):
        if gate.action == "enter":
            if not gate.account or gate.account in entered:
                continue
            entered.add(gate.account)
        steps.append(Step(gate.t, gate=gate))
    steps.extend(
        Step(batch.end, batch=batch) for batch in batches(recording, step_s, tail_s)
    )
    # Python's sort is stable: at equal times gate rows stay first.
    steps.sort(key=lambda step: (step.t, step.batch is not None))
    return steps

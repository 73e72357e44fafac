"""Simulated recordings cut into the sensor batches a gateway would send."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from walkout.recording.model import GateEvent, Recording, WeightReadings


def pad_weights(recording: Recording, extra_s: float) -> Recording:
    """Extend every plate's readings by ``extra_s`` of its last level.

    A store's load cells keep reporting after the last shopper leaves; the
    live worker needs those readings to see that the last events are over.
    """
    weights = recording.weights
    end = float(weights.t.max()) + extra_s
    times, plates, grams = [], [], []
    for series in weights.series():
        step = float(np.median(np.diff(series.t)))
        tail = np.arange(series.t[-1] + step, end, step)
        level = float(np.mean(series.g[-20:]))
        times.append(np.concatenate([series.t, tail]))
        grams.append(np.concatenate([series.g, np.full(tail.size, level)]))
        index = weights.plate_ids.index(series.plate)
        plates.append(np.full(times[-1].size, index, dtype=np.int32))
    recording.weights = WeightReadings(
        weights.plate_ids,
        np.concatenate(times),
        np.concatenate(plates),
        np.concatenate(grams),
    )
    return recording


@dataclass(frozen=True)
class Window:
    """One batch window: its gate rows and its columnar sensor rows."""

    start: float
    end: float
    gates: list[GateEvent]
    payload: dict[str, Any]


def windows(recording: Recording, step_s: float = 1.0) -> Iterator[Window]:
    """Cut the recording into windows of ``step_s`` seconds, in time order."""
    weights, poses, vision = recording.weights, recording.poses, recording.vision
    end = float(weights.t.max())
    gates = sorted(recording.gates, key=lambda gate: gate.t)
    start = min(0.0, float(weights.t.min()))
    while start <= end:
        stop = start + step_s
        payload: dict[str, Any] = {}
        rows = (weights.t >= start) & (weights.t < stop)
        payload["weights"] = {
            "t": weights.t[rows].tolist(),
            "plate": [weights.plate_ids[i] for i in weights.plate[rows]],
            "g": weights.g[rows].tolist(),
        }
        if poses is not None:
            rows = (poses.t >= start) & (poses.t < stop)
            payload["poses"] = {
                "t": poses.t[rows].tolist(),
                "track": [str(x) for x in poses.track[rows]],
                "joint": [str(x) for x in poses.joint[rows]],
                "x": poses.xyz[rows, 0].tolist(),
                "y": poses.xyz[rows, 1].tolist(),
                "z": poses.xyz[rows, 2].tolist(),
                "score": poses.score[rows].tolist(),
            }
        if vision is not None:
            rows = (vision.t >= start) & (vision.t < stop)
            payload["vision"] = {
                "t": vision.t[rows].tolist(),
                "track": [str(x) for x in vision.track[rows]],
                "hand": [str(x) for x in vision.hand[rows]],
                "sku": [str(x) for x in vision.sku[rows]],
                "p": vision.p[rows].tolist(),
            }
        in_window = [gate for gate in gates if start <= gate.t < stop]
        yield Window(start, stop, in_window, payload)
        start = stop


def receipt_items(items: list[Any]) -> list[tuple[str, int]]:
    """Return (sku, qty) pairs of receipt lines, sorted."""
    return sorted((str(line.sku), int(line.qty)) for line in items)

"""Tracker: stable ids through crossings and occlusions, entry-zone births."""

from __future__ import annotations

import numpy as np

from walkout.perception.tracking import (
    Observation,
    Tracker,
    TrackerParams,
    TrackState,
    point_in_polygon,
)
from walkout.recording import Zone

FPS = 10.0


def run(
    tracker: Tracker, positions: list[list[tuple[float, float] | None]]
) -> list[dict[str, tuple[float, float]]]:
    """Feed one list of (x, y) per person per frame; None means unseen."""
    outputs = []
    for frame, people in enumerate(positions):
        observations = [Observation(p) for p in people if p is not None]
        tracks = tracker.update(frame / FPS, observations)
        outputs.append({track.id: tuple(track.floor) for track in tracks})
    return outputs


def crossing(
    frames: int, occluded: range = range(0)
) -> list[list[tuple[float, float] | None]]:
    """Two people walking through each other on crossing diagonals at 1 m/s."""
    positions: list[list[tuple[float, float] | None]] = []
    for i in range(frames):
        s = i / FPS
        a = (0.0 + s, 0.0 + 0.5 * s)
        b = (0.0 + s, 2.0 - 0.5 * s)
        positions.append([a, None if i in occluded else b])
    return positions


def ids_near(output: dict[str, tuple[float, float]], point: tuple[float, float]) -> str:
    return min(output, key=lambda key: np.hypot(*np.subtract(output[key], point)))


def test_crossing_keeps_ids() -> None:
    tracker = Tracker(TrackerParams(gate_m=0.8))
    outputs = run(tracker, crossing(60))
    first = outputs[5]
    id_a = ids_near(first, (0.5, 0.25))
    id_b = ids_near(first, (0.5, 1.75))
    assert id_a != id_b
    last = outputs[-1]
    assert ids_near(last, (5.9, 2.95)) == id_a
    assert ids_near(last, (5.9, -0.95)) == id_b
    assert len({track.id for track in tracker.tracks}) == 2


def test_occlusion_keeps_id() -> None:
    tracker = Tracker()
    outputs = run(tracker, crossing(60, occluded=range(20, 32)))
    before = ids_near(outputs[15], (1.5, 1.25))
    after = ids_near(outputs[40], (4.0, 0.0))
    assert before == after
    assert len(tracker.tracks) == 2


def test_long_absence_ends_track() -> None:
    tracker = Tracker(TrackerParams(max_lost_s=1.0))
    run(tracker, [[(1.0, 1.0)]] * 5 + [[]] * 15)
    assert tracker.tracks[0].state == TrackState.ENDED


def test_single_false_hit_never_confirmed() -> None:
    tracker = Tracker()
    outputs = run(tracker, [[(1.0, 1.0)]] + [[]] * 5)
    assert all(not output for output in outputs)
    assert tracker.tracks[0].state == TrackState.ENDED


def test_entry_zone_birth_recorded() -> None:
    door = Zone("door", "entry", ((0.0, -2.0), (1.0, -2.0), (1.0, -1.5), (0.0, -1.5)))
    tracker = Tracker(entry_zones=[door])
    walk = [[(0.5, -1.8 + 0.1 * i), (3.0, 0.0)] for i in range(10)]
    run(tracker, walk)
    births = tracker.entry_births
    assert len(births) == 1
    assert births[0].zone == "door"
    assert births[0].t == 0.0


def test_point_in_polygon_cases() -> None:
    square = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))
    assert point_in_polygon(0.5, 0.5, square)
    assert not point_in_polygon(1.5, 0.5, square)
    assert not point_in_polygon(0.5, -0.1, square)

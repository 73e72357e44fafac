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
    tracker = Tracker()
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


def confirmed_ids(tracker: Tracker, frames: list[list[Observation]]) -> list[set[str]]:
    """Feed observations per frame and return the confirmed ids seen per frame."""
    return [
        {track.id for track in tracker.update(i / FPS, observations)}
        for i, observations in enumerate(frames)
    ]


def test_noisy_crossing_with_occlusion_keeps_ids() -> None:
    rng = np.random.default_rng(3)
    frames = []
    for people in crossing(60, occluded=range(22, 28)):
        frames.append(
            [
                Observation(
                    tuple(np.asarray(p) + rng.normal(0.0, 0.05, 2)),
                    cameras=("c1",),
                )
                for p in people
                if p is not None
            ]
        )
    tracker = Tracker(in_view=lambda camera, floor: True)
    outputs = run_observations(tracker, frames)
    id_a = ids_near(outputs[10], (1.0, 0.5))
    id_b = ids_near(outputs[10], (1.0, 1.5))
    assert id_a != id_b
    assert ids_near(outputs[-1], (5.9, 2.95)) == id_a
    assert ids_near(outputs[-1], (5.9, -0.95)) == id_b
    assert {track.id for track in tracker.tracks} == {id_a, id_b}


def run_observations(
    tracker: Tracker, frames: list[list[Observation]]
) -> list[dict[str, tuple[float, float]]]:
    outputs = []
    for i, observations in enumerate(frames):
        tracks = tracker.update(i / FPS, observations)
        outputs.append({track.id: tuple(track.floor) for track in tracks})
    return outputs


def two_camera_walk(offset_m: float) -> list[list[Observation]]:
    """One person walking along x; cameras a and b place them offset_m apart."""
    frames = []
    for i in range(40):
        x = 0.5 + 0.05 * i
        frames.append(
            [
                Observation((x, 0.5 * offset_m), cameras=("a",)),
                Observation((x, -0.5 * offset_m), cameras=("b",)),
            ]
        )
    return frames


def test_two_camera_disagreement_one_id() -> None:
    tracker = Tracker(in_view=lambda camera, floor: True)
    seen = confirmed_ids(tracker, two_camera_walk(1.0))
    assert set().union(*seen) == {"p1"}
    assert all(ids == {"p1"} for ids in seen[TrackerParams().min_hits :])


def test_disagreement_without_view_test_splits() -> None:
    tracker = Tracker()
    seen = confirmed_ids(tracker, two_camera_walk(1.0))
    assert len(set().union(*seen)) == 2


def test_close_gate_fuses_second_camera() -> None:
    tracker = Tracker()
    seen = confirmed_ids(tracker, two_camera_walk(0.3))
    assert set().union(*seen) == {"p1"}


def test_two_people_in_one_camera_stay_two() -> None:
    frames = [
        [
            Observation((1.0, 0.0), cameras=("a",)),
            Observation((2.0, 0.0), cameras=("a", "b")),
        ]
        for _ in range(30)
    ]
    tracker = Tracker(in_view=lambda camera, floor: True)
    seen = confirmed_ids(tracker, frames)
    assert len(seen[-1]) == 2
    assert len(set().union(*seen)) == 2


def gap_walk(
    before: int, gap: int, after: int, restart: tuple[float, float]
) -> list[list[Observation]]:
    frames: list[list[Observation]] = [
        [Observation((1.0 + 0.02 * i, 0.0))] for i in range(before)
    ]
    frames += [[] for _ in range(gap)]
    frames += [[Observation(restart)] for _ in range(after)]
    return frames


def test_short_loss_coasts_to_same_id() -> None:
    tracker = Tracker()
    seen = confirmed_ids(tracker, gap_walk(20, 30, 10, (1.9, 0.8)))
    assert set().union(*seen) == {"p1"}
    assert tracker.reidentifications == []


def test_long_loss_reidentified_by_position() -> None:
    tracker = Tracker()
    seen = confirmed_ids(tracker, gap_walk(20, 70, 10, (2.5, 1.5)))
    assert set().union(*seen) == {"p1"}
    assert len(tracker.reidentifications) == 1
    assert tracker.reidentifications[0].track == "p1"


def test_far_reappearance_gets_new_id() -> None:
    tracker = Tracker()
    seen = confirmed_ids(tracker, gap_walk(20, 70, 10, (12.0, 0.0)))
    assert set().union(*seen) == {"p1", "p2"}


def test_entry_zone_birth_is_new_person() -> None:
    door = Zone("door", "entry", ((2.0, 1.0), (3.0, 1.0), (3.0, 2.0), (2.0, 2.0)))
    tracker = Tracker(entry_zones=[door])
    seen = confirmed_ids(tracker, gap_walk(20, 70, 10, (2.5, 1.5)))
    assert set().union(*seen) == {"p1", "p2"}
    assert [birth.track for birth in tracker.entry_births] == ["p2"]

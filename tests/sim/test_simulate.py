"""Scenarios rendered into recordings: truth against sensors, poses, determinism."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from sim_checks import (
    HARD_SCENARIOS,
    account_of_tracks,
    events_of,
    level_changes,
    net_receipts,
)

from walkout.recording.model import Store
from walkout.sim import SCENARIOS, builtin_store, simulate, simulate_rendered
from walkout.sim.poses import PoseModel, true_joints
from walkout.sim.render import Rendered
from walkout.sim.timeline import MotionModel, StoreGeometry

SEED = 7
BASE_SCENARIOS = ["single", "multi", "group", "putback", "demo"]
ALL_SCENARIOS = BASE_SCENARIOS + HARD_SCENARIOS


@pytest.fixture(scope="module")
def store() -> Store:
    return builtin_store()


@pytest.fixture(scope="module")
def rendered(store: Store) -> dict[str, Rendered]:
    return {name: simulate_rendered(store, name, SEED) for name in ALL_SCENARIOS}


def test_registry_has_all_scenarios() -> None:
    assert set(ALL_SCENARIOS) == set(SCENARIOS)


@pytest.mark.parametrize("name", ALL_SCENARIOS)
def test_truth_matches_moved_units(
    name: str, rendered: dict[str, Rendered], store: Store
) -> None:
    result = rendered[name]
    recording = result.recording
    assert recording.truth is not None
    assert recording.truth.events

    for event, units in zip(recording.truth.events, result.moved_units, strict=True):
        loads = events_of(result, event)
        assert loads, f"no load change for {event}"
        product = store.products[event.sku]
        sign = 1 if event.action == "put" else -1
        spread = (product.unit_weight_sd_g or 0.0) * math.sqrt(event.qty)
        total = sum(unit.weight_g for unit in units)
        change = sum(load.delta_g for load in loads) * sign

        assert len(units) == event.qty
        assert all(unit.sku == event.sku for unit in units)
        assert total == pytest.approx(event.qty * product.unit_weight_g, abs=5 * spread)
        # Neighbours move by 1-2 % of the change, with the same sign.
        assert change >= total * 0.999
        assert change <= total * 1.09


@pytest.mark.parametrize("name", ALL_SCENARIOS)
def test_truth_matches_weight_streams(name: str, rendered: dict[str, Rendered]) -> None:
    result = rendered[name]
    recording = result.recording
    assert recording.truth is not None
    checked = 0

    for event in recording.truth.events:
        changes = level_changes(result, event)
        if changes is None:
            continue
        checked += 1
        for change in changes:
            tolerance = (
                0.06 * abs(change.expected_g)
                + 4 * change.noise_g
                + 2.0
                + 0.3 * change.span_s
            )
            error = abs(change.measured_g - change.expected_g)
            assert error <= tolerance, (event, change)

    assert checked >= 0.5 * len(recording.truth.events)


@pytest.mark.parametrize("name", ALL_SCENARIOS)
def test_truth_plate_carries_most_weight(
    name: str, rendered: dict[str, Rendered]
) -> None:
    result = rendered[name]
    assert result.recording.truth is not None

    for event in result.recording.truth.events:
        loads = events_of(result, event)
        heaviest = max(loads, key=lambda load: abs(load.delta_g))
        assert heaviest.plate == event.plate


@pytest.mark.parametrize("name", ALL_SCENARIOS)
def test_truth_receipts_follow_policy(
    name: str, rendered: dict[str, Rendered], store: Store
) -> None:
    recording = rendered[name].recording
    assert recording.truth is not None
    receipts = {receipt.account: receipt.items for receipt in recording.truth.receipts}

    assert receipts == net_receipts(rendered[name], store)
    assert len(receipts) == len(recording.truth.receipts)
    assert not set(receipts) & store.staff_accounts


@pytest.mark.parametrize("name", ALL_SCENARIOS)
def test_wrist_at_plate_front_during_events(
    name: str, rendered: dict[str, Rendered], store: Store
) -> None:
    recording = rendered[name].recording
    assert recording.poses is not None and recording.truth is not None
    poses = recording.poses
    geometry = StoreGeometry(store, MotionModel())

    for event in recording.truth.events:
        front = np.asarray(geometry.front_point(event.plate))
        distances = []
        for joint in ("left_wrist", "right_wrist"):
            rows = (
                (poses.track == event.track)
                & (poses.joint == joint)
                & (np.abs(poses.t - event.t) <= 0.35)
            )
            if rows.any():
                median = np.median(poses.xyz[rows], axis=0)
                distances.append(float(np.linalg.norm(median - front)))
        assert distances, f"no wrist samples near {event}"
        assert min(distances) <= 0.15, (event, distances)


@pytest.mark.parametrize("name", ALL_SCENARIOS)
def test_poses_rate_gaps_and_scores(name: str, rendered: dict[str, Rendered]) -> None:
    recording = rendered[name].recording
    poses = recording.poses
    assert poses is not None
    assert set(np.unique(poses.joint)) == {"head", "left_wrist", "right_wrist"}
    assert poses.score.min() >= 0.0
    assert poses.score.max() <= 1.0

    # Each reported track id spans from its entry or reappearance to the next.
    spans: dict[str, tuple[float, float]] = {}
    for timeline in rendered[name].timelines:
        starts = [timeline.enter_t] + [start for start, _ in timeline.labels]
        ends = [start for start, _ in timeline.labels] + [timeline.exit_t]
        for track, start, end in zip(timeline.tracks, starts, ends, strict=True):
            spans[track] = (start, end)
    missing = 0
    for track in np.unique(poses.track):
        start, end = spans[str(track)]
        for joint in ("head", "left_wrist", "right_wrist"):
            times = poses.t[(poses.track == track) & (poses.joint == joint)]
            assert np.all(np.diff(times) >= 1 / 15 - 1e-6)
            frames = math.floor((end - start) * 15)
            missing += frames - times.size
            assert times.size <= frames + 1
    assert missing > 0


@pytest.mark.parametrize("name", ALL_SCENARIOS)
def test_gates_name_known_tracks(name: str, rendered: dict[str, Rendered]) -> None:
    recording = rendered[name].recording
    timelines = rendered[name].timelines
    accounts = account_of_tracks(rendered[name])
    enters = [gate for gate in recording.gates if gate.action == "enter"]
    exits = [gate for gate in recording.gates if gate.action == "exit"]

    assert {gate.track for gate in enters} == {t.plan.track for t in timelines}
    assert all(accounts[gate.track] == gate.account for gate in enters)
    assert {gate.track for gate in exits} == {t.tracks[-1] for t in timelines}


@pytest.mark.parametrize("name", ALL_SCENARIOS)
def test_accounts_never_share_a_change(
    name: str, rendered: dict[str, Rendered]
) -> None:
    # Load changes of two accounts on one plate, from touch until rest, stay
    # 0.3 s apart, so the weight streams can tell them apart.
    reaches = [
        reach
        for timeline in rendered[name].timelines
        for reach in timeline.reaches
        if reach.plate is not None
    ]
    for first in reaches:
        for second in reaches:
            if first.account == second.account or first.plate != second.plate:
                continue
            if first.t_touch > second.t_touch:
                continue
            assert first.t_settled + 0.3 <= second.t_touch, (first, second)


def test_pose_noise_at_least_five_cm(rendered: dict[str, Rendered]) -> None:
    result = rendered["demo"]
    poses = result.recording.poses
    assert poses is not None
    residuals = []
    for timeline in result.timelines:
        rows = (poses.track == timeline.plan.track) & (poses.joint == "head")
        truth = true_joints(timeline, poses.t[rows], PoseModel())["head"]
        residuals.append(poses.xyz[rows] - truth)
    error = np.concatenate(residuals)

    assert np.all(error.std(axis=0) >= 0.045)


def test_gates_enter_and_exit_every_track(rendered: dict[str, Rendered]) -> None:
    recording = rendered["demo"].recording
    enters = [gate for gate in recording.gates if gate.action == "enter"]
    exits = [gate for gate in recording.gates if gate.action == "exit"]

    assert len({gate.track for gate in enters}) >= 10
    assert {gate.track for gate in enters} == {gate.track for gate in exits}
    assert all(gate.account for gate in enters)
    assert all(gate.account is None for gate in exits)


def test_demo_mix(rendered: dict[str, Rendered]) -> None:
    recording = rendered["demo"].recording
    assert recording.truth is not None
    receipts = recording.truth.receipts
    tracks_per_account: dict[str, set[str]] = {}
    for gate in recording.gates:
        if gate.action == "enter" and gate.account:
            tracks_per_account.setdefault(gate.account, set()).add(gate.track)

    assert len(receipts) >= 10
    assert any(not receipt.items for receipt in receipts)
    assert any(len(tracks) == 2 for tracks in tracks_per_account.values())
    assert any(event.action == "put" for event in recording.truth.events)
    assert recording.weights.time_span[1] >= 120


def test_group_shares_one_receipt(rendered: dict[str, Rendered]) -> None:
    recording = rendered["group"].recording
    assert recording.truth is not None
    tracks = {event.track for event in recording.truth.events}

    assert len(recording.truth.receipts) == 1
    assert tracks == {"p1", "p2"}


def test_putback_receipt_nets_out(rendered: dict[str, Rendered]) -> None:
    recording = rendered["putback"].recording
    assert recording.truth is not None
    [put] = [event for event in recording.truth.events if event.action == "put"]
    takes = [
        event
        for event in recording.truth.events
        if event.action == "take" and event.sku == put.sku
    ]
    [receipt] = recording.truth.receipts

    assert sum(event.qty for event in takes) == 2
    assert takes[0].plate == put.plate or put.plate in builtin_store().neighbours(
        takes[0].plate
    )
    assert receipt.items.get(put.sku) == 1


def test_multi_shoppers_at_distinct_gondolas(
    rendered: dict[str, Rendered], store: Store
) -> None:
    recording = rendered["multi"].recording
    assert recording.truth is not None
    first_gondola: dict[str, int] = {}
    for event in recording.truth.events:
        first_gondola.setdefault(event.track, store.plates[event.plate].gondola)

    assert 3 <= len(first_gondola) <= 5
    assert len(set(first_gondola.values())) >= min(len(first_gondola), 4)


def test_same_seed_same_recording(store: Store) -> None:
    first = simulate(store, "multi", 3)
    second = simulate(store, "multi", 3)

    assert np.array_equal(first.weights.t, second.weights.t)
    assert np.array_equal(first.weights.g, second.weights.g)
    assert first.poses is not None and second.poses is not None
    assert np.array_equal(first.poses.xyz, second.poses.xyz)
    assert first.gates == second.gates
    assert first.truth == second.truth


def test_other_seed_other_recording(store: Store) -> None:
    first = simulate(store, "multi", 3)
    second = simulate(store, "multi", 4)

    assert first.truth != second.truth
    assert not np.array_equal(first.weights.g[:1000], second.weights.g[:1000])


def test_unknown_scenario_rejected(store: Store) -> None:
    with pytest.raises(ValueError, match="unknown scenario 'nope'"):
        simulate(store, "nope", 1)


def test_simulate_to_round_trip(tmp_path: Path) -> None:
    from walkout.recording import read_recording
    from walkout.sim import simulate_to

    written = simulate_to(tmp_path / "single", "single", SEED)
    loaded = read_recording(tmp_path / "single")

    assert len(loaded.weights) == len(written.weights)
    assert loaded.truth is not None and written.truth is not None
    assert loaded.truth.receipts == written.truth.receipts
    assert len(loaded.truth.events) == len(written.truth.events)
    assert loaded.gates == written.gates

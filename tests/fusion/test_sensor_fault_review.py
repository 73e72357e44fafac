"""Sensor faults never cancel or hide a take without sending it to review."""

from __future__ import annotations

import numpy as np

from walkout.fusion import SENSOR_FAULT, replay
from walkout.fusion.carts import Cart
from walkout.fusion.silent import silent_plates
from walkout.live.fusion import GATE, SENSORS, StoreFusion
from walkout.recording.model import Recording, WeightReadings
from walkout.sim import builtin_store, simulate

GINGER = "200000001063"


def lines_of(recording: Recording) -> dict[str, dict[str, tuple[int, str | None]]]:
    result = replay(recording)
    return {
        receipt.account: {
            line.sku: (line.qty, line.review_reason) for line in receipt.items
        }
        for receipt in result.receipts
    }


def cut_plate(recording: Recording, plate: str, after_t: float) -> Recording:
    """Drop every reading of ``plate`` after ``after_t``, as a plate that stops."""
    weights = recording.weights
    index = weights.plate_ids.index(plate)
    keep = ~((weights.plate == index) & (weights.t > after_t))
    recording.weights = WeightReadings(
        weights.plate_ids, weights.t[keep], weights.plate[keep], weights.g[keep]
    )
    return recording


def test_drift_put_keeps_measured_take() -> None:
    # A drift burst on plate 2.2.6 reads as a 15 g rise while acct-1, who
    # took a 30 g ginger on plate 4.5.6, is 1.9 m away.
    lines = lines_of(simulate(builtin_store(), "sensor_faults", 2040))
    assert lines["acct-1"].get(GINGER) == (1, None)


def test_second_drift_put_keeps_take() -> None:
    lines = lines_of(simulate(builtin_store(), "sensor_faults", 2137))
    assert lines["acct-2"].get("200000000981") == (1, None)


def test_faulty_put_keeps_last_unit_flagged() -> None:
    cart = Cart("acct-1")
    cart.add(GINGER, 1, 1.0, None)
    applied = cart.add(GINGER, -1, 1.0, SENSOR_FAULT)
    assert applied == 0
    assert cart.held() == {GINGER: 1}
    assert cart.lines[GINGER].review_reason == SENSOR_FAULT


def test_faulty_put_nets_other_units() -> None:
    cart = Cart("acct-1")
    cart.add(GINGER, 2, 1.0, None)
    applied = cart.add(GINGER, -1, 1.0, SENSOR_FAULT)
    assert applied == -1
    assert cart.held() == {GINGER: 1}
    assert cart.lines[GINGER].review_reason == SENSOR_FAULT


def test_plain_put_empties_line() -> None:
    cart = Cart("acct-1")
    cart.add(GINGER, 1, 1.0, None)
    cart.add(GINGER, -1, 1.0, None)
    assert cart.held() == {}


def test_silent_plate_take_goes_to_review() -> None:
    # acct-1 takes a ginger from plate 4.5.6 at t=14.8. The plate stops
    # reporting at t=14.3 and never reports again.
    recording = cut_plate(
        simulate(builtin_store(), "sensor_faults", 2040), "4.5.6", 14.3
    )
    lines = lines_of(recording)
    assert lines["acct-1"].get(GINGER) == (1, SENSOR_FAULT)
    assert all(reason is None for _, reason in lines["acct-2"].values())


def test_silent_plate_flags_measured_take() -> None:
    # The ginger take at t=14.8 is measured, and acct-1's hand is still at
    # plate 4.5.6 when it stops at t=16.4, so the line is flagged, not doubled.
    recording = cut_plate(
        simulate(builtin_store(), "sensor_faults", 2040), "4.5.6", 16.0
    )
    lines = lines_of(recording)
    assert lines["acct-1"].get(GINGER) == (1, SENSOR_FAULT)


def test_plate_stops_after_hand_left() -> None:
    # acct-1's wrist left plate 4.5.6 by t=16.4, well before it stops.
    recording = cut_plate(
        simulate(builtin_store(), "sensor_faults", 2040), "4.5.6", 25.0
    )
    lines = lines_of(recording)
    assert lines["acct-1"].get(GINGER) == (1, None)


def test_split_partial_takes_merge_for_review() -> None:
    # Drift and spike bursts split a 30 g ginger take on plate 4.5.6 into
    # changes of -12.6 g and -15.0 g, each under half a unit.
    lines = lines_of(simulate(builtin_store(), "sensor_faults", 1034))
    assert lines["acct-2"].get(GINGER) == (1, SENSOR_FAULT)
    assert all(reason is None for _, reason in lines["acct-1"].values())


def test_silent_plates_lists_stopped_plate() -> None:
    weights = WeightReadings(
        ("a", "b"),
        np.array([0.0, 1.0, 2.0, 0.0, 1.0]),
        np.array([0, 0, 0, 1, 1], dtype=np.int32),
        np.zeros(5),
    )
    assert silent_plates(weights, 0.25) == {"b": 1.0}


def pad_except(recording: Recording, silent: str, extra_s: float) -> Recording:
    """Extend every plate but ``silent`` by ``extra_s`` of its last level."""
    weights = recording.weights
    end = float(weights.t.max()) + extra_s
    times, plates, grams = [weights.t], [weights.plate], [weights.g]
    for series in weights.series():
        if series.plate == silent:
            continue
        step = float(np.median(np.diff(series.t)))
        tail = np.arange(series.t[-1] + step, end, step)
        times.append(tail)
        index = weights.plate_ids.index(series.plate)
        plates.append(np.full(tail.size, index, dtype=np.int32))
        grams.append(np.full(tail.size, float(np.mean(series.g[-20:]))))
    order = np.argsort(np.concatenate(plates), kind="stable")
    recording.weights = WeightReadings(
        weights.plate_ids,
        np.concatenate(times)[order],
        np.concatenate(plates)[order],
        np.concatenate(grams)[order],
    )
    return recording


def stream_live(
    recording: Recording,
) -> tuple[StoreFusion, dict[str, dict[str, tuple[int, str | None]]]]:
    """Feed the recording to live fusion in 1 s batches.

    Returns the live fusion and the lines of each finished visit's receipt.
    """
    fusion = StoreFusion(recording.store)
    weights, poses = recording.weights, recording.poses
    assert poses is not None
    gates = sorted(recording.gates, key=lambda gate: gate.t)
    finished = {}
    start = 0.0
    while start <= float(weights.t.max()):
        stop = start + 1.0
        for gate in gates:
            if start <= gate.t < stop:
                fusion.apply(
                    GATE,
                    {
                        "t": gate.t,
                        "action": gate.action,
                        "tracks": [gate.track],
                        "account": gate.account,
                    },
                )
        rows = (weights.t >= start) & (weights.t < stop)
        pose_rows = (poses.t >= start) & (poses.t < stop)
        fusion.apply(
            SENSORS,
            {
                "weights": {
                    "t": weights.t[rows].tolist(),
                    "plate": [weights.plate_ids[i] for i in weights.plate[rows]],
                    "g": weights.g[rows].tolist(),
                },
                "poses": {
                    "t": poses.t[pose_rows].tolist(),
                    "track": [str(x) for x in poses.track[pose_rows]],
                    "joint": [str(x) for x in poses.joint[pose_rows]],
                    "x": poses.xyz[pose_rows, 0].tolist(),
                    "y": poses.xyz[pose_rows, 1].tolist(),
                    "z": poses.xyz[pose_rows, 2].tolist(),
                    "score": poses.score[pose_rows].tolist(),
                },
            },
        )
        for outcome in fusion.step().finished:
            finished[outcome.visit_id] = {
                line.sku: (line.qty, line.review_reason)
                for line in outcome.receipt.items
            }
        start = stop
    return fusion, finished


def test_live_silent_plate_matches_replay() -> None:
    # Plate 4.5.6 stops at t=14.3 during acct-1's ginger take. The other
    # plates report for 40 s more, past the live detector's 30 s stall_s.
    recording = pad_except(
        cut_plate(simulate(builtin_store(), "sensor_faults", 2040), "4.5.6", 14.3),
        "4.5.6",
        40.0,
    )
    fusion, live = stream_live(recording)
    assert live["acct-1"].get(GINGER) == (1, SENSOR_FAULT)
    assert live == lines_of(recording)

    # The review evidence keeps the plate's readings up to where it stopped.
    [unmeasured] = fusion.engine.unmeasured
    assert unmeasured.plate == "4.5.6"
    trace = fusion.trace_of(unmeasured)
    assert trace is not None
    times, _ = trace.plates["4.5.6"]
    assert max(times) <= 14.3

"""Plate changes around gaps in a plate's readings, in batch and live detection."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from weight_signals import add_impact, add_lean, add_spike, add_step, quiet_trace

from walkout.live.detection import StreamingDetector
from walkout.recording.model import (
    FloatArray,
    Plate,
    PlateSeries,
    Store,
    StoreInfo,
    WeightReadings,
)
from walkout.sensing.detector import detect_events, detect_plate_changes
from walkout.sensing.model import PlateChange, ShelfEvent
from walkout.sim import builtin_store
from walkout.sim.loadcell import ReadingGap
from walkout.sim.simulate import simulate_rendered

PLATE = "1.1.1"

Trace = tuple[FloatArray, FloatArray]


def without(trace: Trace, start_s: float, end_s: float | None = None) -> Trace:
    """Return ``trace`` without its readings from ``start_s`` to ``end_s``.

    With ``end_s`` None the plate never reports again.
    """
    t, g = trace
    since = t - t[0]
    missing = since >= start_s
    if end_s is not None:
        missing &= since < end_s
    return t[~missing], g[~missing]


def add_vibration(
    trace: Trace, start_s: float, end_s: float, amplitude_g: float
) -> None:
    """Add a 3 Hz swing about the level, as from a knocked gondola."""
    t, g = trace
    since = t - t[0]
    inside = (since >= start_s) & (since < end_s)
    g[inside] += amplitude_g * np.sin(2 * np.pi * 3.0 * since[inside])


def take_inside_gap() -> Trace:
    trace = quiet_trace()
    add_step(*trace, 11.5, -200.0)
    return without(trace, 10.0, 13.0)


def take_inside_long_gap() -> Trace:
    trace = quiet_trace()
    add_step(*trace, 18.0, -200.0)
    return without(trace, 10.0, 26.0)


def take_inside_gap_resumes_ringing() -> Trace:
    trace = quiet_trace()
    add_impact(*trace, 11.0, -300.0, overshoot_g=150.0)
    return without(trace, 10.0, 11.15)


def take_inside_gap_after_vibration() -> Trace:
    trace = quiet_trace()
    add_vibration(trace, 7.0, 10.0, 8.0)
    add_step(*trace, 11.5, -200.0)
    return without(trace, 10.0, 13.0)


def take_inside_gap_noisy_resume() -> Trace:
    trace = quiet_trace()
    add_step(*trace, 11.5, 150.0)
    add_vibration(trace, 13.0, 14.5, 8.0)
    return without(trace, 10.0, 13.0)


def take_then_gap() -> Trace:
    trace = quiet_trace()
    add_step(*trace, 10.0, -250.0)
    return without(trace, 10.8, 14.0)


def take_then_readings_stop() -> Trace:
    trace = quiet_trace()
    add_step(*trace, 10.0, -250.0)
    return without(trace, 10.8)


def gap_then_take() -> Trace:
    trace = quiet_trace()
    add_step(*trace, 13.2, -120.0)
    return without(trace, 10.0, 13.0)


def gap_while_settling() -> Trace:
    trace = quiet_trace()
    add_impact(*trace, 10.0, -300.0, overshoot_g=150.0)
    return without(trace, 10.3, 12.0)


def gap_without_change() -> Trace:
    return without(quiet_trace(), 10.0, 16.0)


def gap_then_spikes() -> Trace:
    trace = quiet_trace()
    add_spike(*trace, 13.05, [300.0, -250.0, 280.0, -200.0])
    return without(trace, 10.0, 13.0)


def gap_in_slow_creep() -> Trace:
    trace = quiet_trace(60.0)
    t, g = trace
    g += 0.5 * (t - t[0])
    return without(trace, 20.0, 28.0)


def lean_across_gap() -> Trace:
    trace = quiet_trace()
    add_lean(*trace, 9.0, 11.5, 20.0)
    return without(trace, 10.0, 13.0)


@dataclass(frozen=True)
class Expected:
    """Size of one expected change and the times its window must cover."""

    delta_g: float
    covers_s: tuple[float, float]
    """The window starts at or before the first and ends at or after the second."""
    within_s: tuple[float, float] = (-np.inf, np.inf)
    """The window lies inside this span."""
    tolerance_g: float = 5.0


CASES: list[tuple[str, Callable[[], Trace], list[Expected]]] = [
    (
        "take inside gap",
        take_inside_gap,
        [Expected(-200.0, covers_s=(9.99, 13.0), within_s=(9.5, 13.5))],
    ),
    (
        "take inside 16 s gap",
        take_inside_long_gap,
        [Expected(-200.0, covers_s=(9.99, 26.0), within_s=(9.5, 26.5))],
    ),
    (
        "take inside gap, resumes ringing",
        take_inside_gap_resumes_ringing,
        [Expected(-300.0, covers_s=(9.99, 11.15))],
    ),
    (
        "take inside gap after vibration",
        take_inside_gap_after_vibration,
        [Expected(-200.0, covers_s=(9.99, 13.0), within_s=(9.9, 13.5))],
    ),
    (
        "put inside gap, noisy resume",
        take_inside_gap_noisy_resume,
        [Expected(150.0, covers_s=(9.99, 13.0))],
    ),
    (
        "take then gap",
        take_then_gap,
        [Expected(-250.0, covers_s=(10.15, 10.15), within_s=(9.7, 10.8))],
    ),
    (
        "take then readings stop",
        take_then_readings_stop,
        [Expected(-250.0, covers_s=(10.15, 10.15), within_s=(9.7, 10.8))],
    ),
    (
        "gap then take",
        gap_then_take,
        [Expected(-120.0, covers_s=(13.3, 13.3), within_s=(13.0, 14.0))],
    ),
    (
        "gap while settling",
        gap_while_settling,
        [Expected(-300.0, covers_s=(10.3, 10.3), within_s=(9.7, 12.1))],
    ),
    ("gap without change", gap_without_change, []),
    ("gap then spikes", gap_then_spikes, []),
    ("gap in slow creep", gap_in_slow_creep, []),
    ("lean across gap", lean_across_gap, []),
]


def check_changes(
    label: str, origin: float, changes: list[PlateChange], expected: list[Expected]
) -> None:
    assert len(changes) == len(expected), f"{label}: {changes}"
    for change, want in zip(changes, expected, strict=True):
        assert change.delta_g == pytest.approx(want.delta_g, abs=want.tolerance_g)
        assert change.t_start <= change.t_end
        assert change.t_start <= origin + want.covers_s[0], f"{label}: {change}"
        assert change.t_end >= origin + want.covers_s[1], f"{label}: {change}"
        assert change.t_start >= origin + want.within_s[0], f"{label}: {change}"
        assert change.t_end <= origin + want.within_s[1], f"{label}: {change}"


@pytest.mark.parametrize(
    ("label", "build", "expected"), CASES, ids=[case[0] for case in CASES]
)
def test_change_around_gap(
    label: str, build: Callable[[], Trace], expected: list[Expected]
) -> None:
    t, g = build()

    changes = detect_plate_changes(PlateSeries(PLATE, t, g))

    check_changes(label, float(t[0]), changes, expected)


def make_store() -> Store:
    plates = {
        f"1.1.{number}": Plate(
            f"1.1.{number}", 1, 1, number, (0.1 * number, 0.0, 1.0), (0.1, 0.4)
        )
        for number in (1, 2)
    }
    return Store(StoreInfo("test", "Test", "USD"), {}, plates, [])


def weight_readings(traces: dict[str, Trace]) -> WeightReadings:
    """Build readings grouped by plate, the layout ``WeightReadings.series`` reads."""
    plate_ids = tuple(traces)
    t = np.concatenate([traces[plate][0] for plate in plate_ids])
    g = np.concatenate([traces[plate][1] for plate in plate_ids])
    plate = np.concatenate(
        [np.full(traces[p][0].size, i, dtype=np.int32) for i, p in enumerate(plate_ids)]
    )
    return WeightReadings(plate_ids, t, plate, g)


def stream_events(readings: WeightReadings, store: Store) -> list[ShelfEvent]:
    """Feed half-second batches in time order, as ingestion does."""
    detector = StreamingDetector(store)
    found = []
    start = float(readings.t.min())
    while start <= float(readings.t.max()):
        for index, plate in enumerate(readings.plate_ids):
            rows = (
                (readings.plate == index)
                & (readings.t >= start)
                & (readings.t < start + 0.5)
            )
            detector.add(plate, readings.t[rows], readings.g[rows])
        found.extend(detector.ready_events())
        start += 0.5
    return found


LIVE_LABELS = {
    "take inside 16 s gap",
    "take inside gap, resumes ringing",
    "take inside gap after vibration",
    "take then gap",
    "gap while settling",
    "lean across gap",
}
LIVE_CASES = [case for case in CASES if case[0] in LIVE_LABELS]


@pytest.mark.parametrize(
    ("label", "build", "expected"), LIVE_CASES, ids=[case[0] for case in LIVE_CASES]
)
def test_live_gap_events_match_batch(
    label: str, build: Callable[[], Trace], expected: list[Expected]
) -> None:
    # Both plates keep reporting for 20 s after the trace, so that every
    # change is final in the live detector.
    t, g = build()
    extra = t[-1] + (1 + np.arange(20 * 60)) / 60.0
    traces = {
        PLATE: (
            np.concatenate([t, extra]),
            np.concatenate([g, np.full(extra.size, g[-1])]),
        ),
        "1.1.2": quiet_trace(t[-1] - t[0] + 20.0, level_g=800.0, seed=5),
    }
    store = make_store()
    readings = weight_readings(traces)

    found = stream_events(readings, store)
    batch = detect_events(readings, store, workers=1)

    live_changes = [change for event in found for change in event.changes]
    check_changes(label, float(t[0]), live_changes, expected)
    assert [event.plates for event in found] == [event.plates for event in batch]
    for live_event, batch_event in zip(found, batch, strict=True):
        assert live_event.delta_g == pytest.approx(batch_event.delta_g, abs=1.0)
        assert live_event.t_start == pytest.approx(batch_event.t_start, abs=0.1)
        assert live_event.t_end == pytest.approx(batch_event.t_end, abs=0.1)


@pytest.mark.parametrize("seed", range(10))
def test_simulated_takes_in_gaps_are_found(seed: int) -> None:
    # Every take whose plate stops reporting while the load moves, or soon
    # after it settles, gives a change of its size whose window covers it.
    rendered = simulate_rendered(builtin_store(), "sensor_faults", seed)
    weights = rendered.recording.weights
    series = {plate_series.plate: plate_series for plate_series in weights.series()}
    gaps = [fault for fault in rendered.faults if isinstance(fault, ReadingGap)]
    assert gaps, "the sensor_faults scenario always places reading gaps"
    for gap in gaps:
        changes = detect_plate_changes(series[gap.plate])
        for load in rendered.load_events:
            if load.plate != gap.plate:
                continue
            if load.t_settled < gap.t_start - 1.0 or load.t_touch > gap.t_end:
                continue
            matching = [
                change
                for change in changes
                if change.delta_g == pytest.approx(load.delta_g, rel=0.1)
                and change.t_start <= load.t_settled
                and change.t_end >= load.t_step - 0.5
            ]
            assert len(matching) == 1, f"seed {seed}, {gap}, {load}: {changes}"


def test_live_neighbour_change_joins_gap_change() -> None:
    # A 500 g item resting on two plates leaves while one of them sends
    # nothing. The other plate's part ends long before the gap does, but
    # batch grouping joins the two, and live must not decide the first part
    # alone before the change across the gap is final.
    gapped = quiet_trace(40.0)
    add_step(*gapped, 13.0, -450.0)
    gapped = without(gapped, 10.0, 18.0)
    other = quiet_trace(40.0, level_g=800.0, seed=5)
    add_step(*other, 13.0, -50.0)
    readings = weight_readings({PLATE: gapped, "1.1.2": other})
    store = make_store()

    found = stream_events(readings, store)
    batch = detect_events(readings, store, workers=1)

    assert [sorted(event.plates) for event in batch] == [["1.1.1", "1.1.2"]]
    assert [sorted(event.plates) for event in found] == [["1.1.1", "1.1.2"]]
    assert found[0].delta_g == pytest.approx(batch[0].delta_g, abs=1.0)

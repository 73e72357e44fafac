"""Live fusion fed in one-second batches decides what replay decides."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pytest
from live_streams import pad_weights, receipt_items, windows

from walkout.fusion.engine import replay
from walkout.live.detection import StreamingDetector
from walkout.live.fusion import (
    GATE,
    SENSORS,
    StoreFusion,
    VisitOutcome,
    settle_delay_s,
)
from walkout.recording.model import GateEvent, Recording
from walkout.sensing.detector import detect_events
from walkout.sim import builtin_store, simulate

# Several shoppers at once, put-backs, merged and split events, staff
# restocks, lost tracks and sensor faults.
SCENARIOS = [
    ("multi", 1),
    ("putback", 1),
    ("group", 1),
    ("misplaced", 1),
    ("adjacent", 1),
    ("same_plate", 1),
    ("staff_restock", 1),
    ("crowd", 1),
    ("lost_track", 1),
    ("sensor_faults", 5),
]


def apply_gate(
    fusion: StoreFusion, gate: GateEvent, staff: Collection[str] = ()
) -> None:
    """Apply one gate row as the gate endpoint stores it."""
    fusion.apply(
        GATE,
        {
            "t": gate.t,
            "action": gate.action,
            "tracks": [gate.track],
            "account": gate.account,
            "staff": gate.account in staff,
        },
    )


def stream(recording: Recording) -> tuple[StoreFusion, dict[str, VisitOutcome]]:
    fusion = StoreFusion(recording.store)
    staff = recording.store.staff_accounts
    finished: dict[str, VisitOutcome] = {}
    for window in windows(recording, 1.0):
        for gate in window.gates:
            apply_gate(fusion, gate, staff)
            for outcome in fusion.step().finished:
                finished[outcome.visit_id] = outcome
        fusion.apply(SENSORS, window.payload)
        for outcome in fusion.step().finished:
            finished[outcome.visit_id] = outcome
    return fusion, finished


@pytest.fixture(scope="module", params=SCENARIOS, ids=[s for s, _ in SCENARIOS])
def streamed(
    request: pytest.FixtureRequest,
) -> tuple[Recording, StoreFusion, dict[str, VisitOutcome]]:
    scenario, seed = request.param
    recording = pad_weights(simulate(builtin_store(), scenario, seed), 15.0)
    fusion, finished = stream(recording)
    return recording, fusion, finished


def test_live_receipts_match_replay(
    streamed: tuple[Recording, StoreFusion, dict[str, VisitOutcome]],
) -> None:
    recording, _, finished = streamed
    offline = replay(recording)
    staff = recording.store.staff_accounts
    live = {
        visit: receipt_items(outcome.receipt.items)
        for visit, outcome in finished.items()
        if visit not in staff
    }
    expected = {
        receipt.account: receipt_items(receipt.items) for receipt in offline.receipts
    }
    assert live == expected


def test_live_review_flags_match_replay(
    streamed: tuple[Recording, StoreFusion, dict[str, VisitOutcome]],
) -> None:
    recording, _, finished = streamed
    offline = replay(recording)
    live = {
        (visit, line.sku): line.needs_review
        for visit, outcome in finished.items()
        for line in outcome.receipt.items
        if visit not in recording.store.staff_accounts
    }
    expected = {
        (receipt.account, line.sku): line.needs_review
        for receipt in offline.receipts
        for line in receipt.items
    }
    assert live == expected


def test_live_decisions_match_replay(
    streamed: tuple[Recording, StoreFusion, dict[str, VisitOutcome]],
) -> None:
    recording, fusion, _ = streamed
    offline = replay(recording)

    def key(event: object) -> tuple[str, str, str, int, str | None]:
        return (
            event.plate,  # type: ignore[attr-defined]
            event.action,  # type: ignore[attr-defined]
            event.sku,  # type: ignore[attr-defined]
            event.qty,  # type: ignore[attr-defined]
            event.account,  # type: ignore[attr-defined]
        )

    # A visit's own last events may be decided before earlier ones of other
    # shoppers (see StoreFusion._decide_alone), so the order can differ.
    live = sorted(fusion.engine.decided, key=lambda e: (e.t, e.plate))
    expected = sorted(offline.events, key=lambda e: (e.t, e.plate))
    assert [key(e) for e in live] == [key(e) for e in expected]
    times = [e.t for e in live]
    offline_times = [e.t for e in expected]
    assert np.allclose(times, offline_times, atol=0.1)


def test_streaming_detector_finds_batch_events_once() -> None:
    recording = pad_weights(simulate(builtin_store(), "putback_same", 2), 15.0)
    detector = StreamingDetector(recording.store)
    found = []
    for window in windows(recording, 0.5):
        weights = window.payload["weights"]
        t = np.asarray(weights["t"])
        plates = np.asarray(weights["plate"], dtype=object)
        grams = np.asarray(weights["g"])
        for plate in dict.fromkeys(weights["plate"]):
            rows = plates == plate
            detector.add(plate, t[rows], grams[rows])
        found.extend(detector.ready_events())
    offline = detect_events(recording.weights, recording.store)
    assert [sorted(e.plates) for e in found] == [sorted(e.plates) for e in offline]
    assert np.allclose(
        [e.delta_g for e in found], [e.delta_g for e in offline], atol=1.0
    )


def test_visits_finish_only_after_exit() -> None:
    recording = pad_weights(simulate(builtin_store(), "putback", 1), 15.0)
    fusion = StoreFusion(recording.store)
    exit_t = max(gate.t for gate in recording.gates if gate.action == "exit")
    finished_at: list[float] = []
    for window in windows(recording, 1.0):
        for gate in window.gates:
            apply_gate(fusion, gate)
        fusion.apply(SENSORS, window.payload)
        if fusion.step().finished:
            finished_at.append(window.end)
    assert len(finished_at) == 1
    # Activity up to the wrist window after the exit could still be the visit's.
    assert finished_at[0] >= exit_t + fusion.engine.params.wrist_window_margin_s


def finish_times(recording: Recording) -> tuple[StoreFusion, dict[str, float]]:
    """Stream ``recording`` in one-second batches; return when each visit finished."""
    fusion = StoreFusion(recording.store)
    finished_at: dict[str, float] = {}
    for window in windows(recording, 1.0):
        for gate in window.gates:
            apply_gate(fusion, gate)
        fusion.apply(SENSORS, window.payload)
        for outcome in fusion.step().finished:
            finished_at[outcome.visit_id] = window.end
    return fusion, finished_at


def test_clear_visit_settles_early() -> None:
    recording = pad_weights(simulate(builtin_store(), "single", 1), 15.0)
    fusion, finished_at = finish_times(recording)
    exit_t = max(gate.t for gate in recording.gates if gate.action == "exit")
    (finished,) = finished_at.values()
    # The shopper's last take ended seconds before the exit, so nothing
    # undecided remains once the readings pass the exit by the wrist window.
    assert finished < exit_t + settle_delay_s(fusion)
    assert finished >= exit_t + fusion.engine.params.wrist_window_margin_s
    (receipt,) = recording.truth.receipts
    assert receipt_items(fusion.cart(receipt.account).items) == sorted(
        receipt.items.items()
    )


def test_undecided_activity_dates_a_change_in_progress() -> None:
    recording = simulate(builtin_store(), "single", 1)
    first = min(recording.truth.events, key=lambda event: event.t)
    detector = StreamingDetector(recording.store)
    # Readings up to just after the first take's midpoint: the change is
    # under way, so nothing is collected yet, but the plate has left its level.
    for series in recording.weights.series():
        keep = series.t <= first.t + 0.5
        detector.add(series.plate, series.t[keep], series.g[keep])
    activity = detector.undecided_activity()
    assert first.plate in activity
    assert first.t - 3.0 < activity[first.plate] <= first.t
    # The hand also presses on the plates beside it, but on no other.
    near = {first.plate, *recording.store.neighbours(first.plate)}
    assert set(activity) <= near


def test_reading_ahead_on_one_plate_settles_nothing_early() -> None:
    recording = pad_weights(simulate(builtin_store(), "single", 1), 15.0)
    quiet = next(
        series.plate
        for series in recording.weights.series()
        if series.plate not in {event.plate for event in recording.truth.events}
    )
    fusion = StoreFusion(recording.store)
    finished: dict[str, VisitOutcome] = {}
    for window in windows(recording, 1.0):
        for gate in window.gates:
            apply_gate(fusion, gate)
        fusion.apply(SENSORS, window.payload)
        if window.end == 5.0:
            # One reading 40 s ahead of the others, as from a bad clock.
            ahead = {"t": [45.0], "plate": [quiet], "g": [1000.0]}
            fusion.apply(SENSORS, {"weights": ahead})
        for outcome in fusion.step().finished:
            finished[outcome.visit_id] = outcome
    (receipt,) = recording.truth.receipts
    assert receipt_items(finished[receipt.account].receipt.items) == sorted(
        receipt.items.items()
    )

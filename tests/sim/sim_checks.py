"""Checks that a rendered recording's truth agrees with its sensor streams."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from walkout.recording.model import Recording, Store, TruthEvent
from walkout.sim.loadcell import (
    DriftBurst,
    LoadEvent,
    SpikeBurst,
    drift_burst_offset,
)
from walkout.sim.render import Rendered

# The scenarios that stage one hard case each, and `mixed`, which combines them.
HARD_SCENARIOS = [
    "multi_unit",
    "putback_same",
    "misplaced",
    "adjacent",
    "same_plate",
    "group3",
    "staff_restock",
    "lookalike",
    "lean",
    "sensor_faults",
    "lost_track",
    "no_purchase",
    "crowd",
    "handover",
    "spanning",
    "mixed",
]

WINDOW_READINGS = 27
"""Readings per level window: 0.45 s at 60 Hz."""

MAX_WINDOW_REACH_S = 10.0
"""How far a level window may lie from the change it brackets, to bridge a gap."""


@dataclass(frozen=True)
class LevelChange:
    """A plate's measured change across an event and what the loads predict."""

    plate: str
    measured_g: float
    expected_g: float
    noise_g: float
    span_s: float


def events_of(rendered: Rendered, event: TruthEvent) -> list[LoadEvent]:
    return [load for load in rendered.load_events if abs(load.t_mid - event.t) < 0.002]


def account_of_tracks(rendered: Rendered) -> dict[str, str]:
    """Map every reported track id, also those found again, to its account."""
    accounts: dict[str, str] = {}
    for timeline in rendered.timelines:
        for track in timeline.tracks:
            accounts[track] = timeline.plan.account
    return accounts


def _bracket(
    rendered: Rendered, plate: str, touch: float, settled: float
) -> tuple[float, float]:
    """Widen ``[touch, settled]`` until no other change of ``plate`` comes within
    0.5 s of it, so that overlapping changes are measured together."""
    loads = [load for load in rendered.load_events if load.plate == plate]
    changed = True
    while changed:
        changed = False
        for load in loads:
            near = load.t_touch - 0.5 <= settled and load.t_settled + 0.5 >= touch
            if near and (load.t_touch < touch or load.t_settled > settled):
                touch = min(touch, load.t_touch)
                settled = max(settled, load.t_settled)
                changed = True
    return touch, settled


def _disturbed(rendered: Rendered, plate: str, span: tuple[float, float]) -> bool:
    """Return whether a press or a spike burst moves ``plate`` within ``span``."""
    start, end = span
    for press in rendered.presses:
        if press.plate == plate and press.t_start <= end and press.t_end >= start:
            return True
    for fault in rendered.faults:
        burst = isinstance(fault, SpikeBurst) and fault.plate == plate
        if burst and fault.t_start <= end and fault.t_end >= start:
            return True
    return False


def level_changes(rendered: Rendered, event: TruthEvent) -> list[LevelChange] | None:
    """Measure each changed plate's level just before and just after ``event``.

    The windows are the 27 readings before the touch and after the plate
    rests, so they bridge a gap in the readings, and they move outwards past
    other changes of the plate that come within 0.5 s. Known drift bursts
    are subtracted. Returns None when a press or a spike burst touches a
    window, because then the level does not measure this event.
    """
    recording = rendered.recording
    own = events_of(rendered, event)
    changes: list[LevelChange] = []
    for plate in sorted({load.plate for load in own}):
        touch, settled = _bracket(
            rendered,
            plate,
            min(load.t_touch for load in own),
            max(load.t_settled for load in own),
        )
        series = recording.weights.for_plate(plate)
        drifts = [
            fault
            for fault in rendered.faults
            if isinstance(fault, DriftBurst) and fault.plate == plate
        ]
        grams = series.g - drift_burst_offset(series.t, drifts)
        before = np.flatnonzero(
            (series.t < touch - 0.05) & (series.t > touch - MAX_WINDOW_REACH_S)
        )[-WINDOW_READINGS:]
        after = np.flatnonzero(
            (series.t > settled + 0.05) & (series.t < settled + MAX_WINDOW_REACH_S)
        )[:WINDOW_READINGS]
        if before.size < WINDOW_READINGS or after.size < WINDOW_READINGS:
            return None
        window_before = (float(series.t[before[0]]), float(series.t[before[-1]]))
        window_after = (float(series.t[after[0]]), float(series.t[after[-1]]))
        if _disturbed(rendered, plate, window_before) or _disturbed(
            rendered, plate, window_after
        ):
            return None

        level_before = float(np.median(grams[before]))
        level_after = float(np.median(grams[after]))
        noise = max(
            1.4826 * float(np.median(np.abs(grams[before] - level_before))),
            1.4826 * float(np.median(np.abs(grams[after] - level_after))),
        )
        expected = sum(
            load.delta_g
            for load in rendered.load_events
            if load.plate == plate and touch <= load.t_step <= settled
        )
        changes.append(
            LevelChange(
                plate=plate,
                measured_g=level_after - level_before,
                expected_g=expected,
                noise_g=noise,
                span_s=window_after[0] - window_before[1],
            )
        )
    return changes


def net_receipts(rendered: Rendered, store: Store) -> dict[str, dict[str, int]]:
    """Apply the receipt policy to the truth events: each account pays for what
    its tracks took minus what they put back; staff accounts pay nothing."""
    recording = rendered.recording
    assert recording.truth is not None
    accounts = account_of_tracks(rendered)
    carts: dict[str, dict[str, int]] = {}
    for timeline in rendered.timelines:
        if timeline.plan.account not in store.staff_accounts:
            carts.setdefault(timeline.plan.account, {})
    for event in recording.truth.events:
        account = accounts[event.track]
        if account in store.staff_accounts:
            continue
        sign = 1 if event.action == "take" else -1
        cart = carts[account]
        cart[event.sku] = cart.get(event.sku, 0) + sign * event.qty
    return {
        account: {sku: qty for sku, qty in sorted(cart.items()) if qty > 0}
        for account, cart in carts.items()
    }


def body_xy(rendered: Rendered, track: str, t: float) -> tuple[float, float]:
    """Return the true floor position of the person reported as ``track``."""
    for timeline in rendered.timelines:
        if track in timeline.tracks:
            x = float(np.interp(t, timeline.key_t, timeline.key_xy[:, 0]))
            y = float(np.interp(t, timeline.key_t, timeline.key_xy[:, 1]))
            return (x, y)
    raise KeyError(f"track {track} not found in any timeline")


def truth_of(recording: Recording) -> list[TruthEvent]:
    assert recording.truth is not None
    return recording.truth.events

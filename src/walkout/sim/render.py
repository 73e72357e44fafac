"""Renderer: plans in, sensor streams and truth out.

The steps are: build each plan's timeline, delay shoppers whose reaches
would overlap at one gondola (when the scenario asks for it), replay every
reach in time order against the shelf stock to find the physical units that
move, then render load cells, poses, gates and truth from the result.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from walkout.recording.model import (
    GateEvent,
    Recording,
    Store,
    Truth,
    TruthEvent,
    TruthReceipt,
)
from walkout.sim.loadcell import (
    LoadCellModel,
    LoadEvent,
    PlateFault,
    PressLoad,
    draw_sensor,
    render_weights,
)
from walkout.sim.plan import HandOver, Lean, PutBack, Restock, ShopperPlan, Take
from walkout.sim.poses import PoseModel, render_poses
from walkout.sim.timeline import (
    MotionModel,
    Reach,
    StoreGeometry,
    Timeline,
    build_timeline,
)
from walkout.sim.vision import (
    DEFAULT_OUTPUTS_PATH,
    SeenItem,
    VisionModel,
    load_outputs,
    render_vision,
)

logger = logging.getLogger(__name__)

FaultBuilder = Callable[
    [Store, Sequence[Timeline], np.random.Generator], list[PlateFault]
]
"""Places sensor faults once the timelines (and so the reach times) are known."""

HAND_OVER_REACH_M = 0.6
"""Maximum distance between the receiver's body and the point a hand-over
aims at."""

LEAN_SPREAD_MIN_G = 1000.0
"""Leans of at least this load spread over the plate and its shelf neighbours."""


class SimulationError(ValueError):
    """A plan that the store cannot carry out, such as a take from an empty plate."""


@dataclass(frozen=True)
class SimulationSettings:
    """Models and timing that the renderer uses for every scenario."""

    load_cells: LoadCellModel = field(default_factory=LoadCellModel)
    poses: PoseModel = field(default_factory=PoseModel)
    motion: MotionModel = field(default_factory=MotionModel)
    vision: VisionModel = field(default_factory=VisionModel)

    vision_outputs: Path | None = DEFAULT_OUTPUTS_PATH
    """Stored recogniser outputs that vision observations are drawn from;
    None, or a file that does not exist, simulates without vision."""

    split_range: tuple[float, float] = (0.3, 0.7)
    """Share of a unit's weight on the first plate of a two-plate facing."""

    conflict_margin_s: float = 3.0
    """Two shoppers of different accounts count as overlapping at a gondola
    when their reaches there come closer than this in time."""

    delay_step_s: float = 4.0
    """How much later a shopper enters each time an overlap is found."""

    lead_in_s: float = 2.0
    """Readings recorded before the first entry and after the last exit."""

    earliest_enter_s: float = 0.5
    """Earliest entry time; aligned plans that would enter earlier move every
    timeline later."""

    lean_share_range: tuple[float, float] = (0.5, 0.8)
    """Share of a lean's load on the leaned-on plate; its neighbours carry the rest."""

    press_sway_range: tuple[float, float] = (0.02, 0.15)
    """Sway of a held lean or press relative to its load (estimate)."""


@dataclass
class Unit:
    """One physical item with its own weight and the plates that carry it."""

    sku: str
    weight_g: float
    shares: dict[str, float]
    source: str = "shelf"
    """``shelf`` for units stocked when the recording starts, ``restock`` for
    units that staff bring in."""


@dataclass
class ShelfStock:
    """Every unit on the shelves, in the order it was placed."""

    units: list[Unit]

    def load(self) -> dict[str, float]:
        loads: dict[str, float] = {}
        for unit in self.units:
            for plate, share in unit.shares.items():
                loads[plate] = loads.get(plate, 0.0) + unit.weight_g * share
        return loads

    def take(self, plate: str, qty: int) -> list[Unit]:
        """Remove the ``qty`` most recently placed units that rest on ``plate``."""
        taken: list[Unit] = []
        for index in range(len(self.units) - 1, -1, -1):
            if len(taken) == qty:
                break
            if plate in self.units[index].shares:
                taken.append(self.units.pop(index))
        if len(taken) < qty:
            self.units.extend(reversed(taken))
            raise SimulationError(
                f"plate {plate} contains {len(taken)} units but a plan takes {qty}: "
                "take fewer units or pick a fuller plate"
            )
        return taken


@dataclass
class Rendered:
    """A rendered recording plus the renderer's ground truth beyond the recording."""

    recording: Recording
    timelines: list[Timeline]
    load_events: list[LoadEvent]
    moved_units: list[list[Unit]]
    """Units moved by each truth event, in the order of ``recording.truth.events``."""
    presses: list[PressLoad] = field(default_factory=list)
    faults: list[PlateFault] = field(default_factory=list)


def initial_stock(
    store: Store, rng: np.random.Generator, settings: SimulationSettings
) -> ShelfStock:
    """Fill every facing with its planogram quantity, each unit weighed on its own."""
    units: list[Unit] = []
    for facing in store.planogram:
        product = store.products[facing.sku]
        spread = product.unit_weight_sd_g or 0.0
        for _ in range(facing.qty or 0):
            weight = float(rng.normal(product.unit_weight_g, spread))
            units.append(
                Unit(facing.sku, weight, _shares(facing.plates, rng, settings))
            )
    return ShelfStock(units)


def _shares(
    plates: Sequence[str], rng: np.random.Generator, settings: SimulationSettings
) -> dict[str, float]:
    if len(plates) == 1:
        return {plates[0]: 1.0}
    first = float(rng.uniform(*settings.split_range))
    rest = (1.0 - first) / (len(plates) - 1)
    return {plate: first if index == 0 else rest for index, plate in enumerate(plates)}


def schedule(
    store: Store,
    plans: Sequence[ShopperPlan],
    settings: SimulationSettings,
    rng: np.random.Generator,
    *,
    separate: bool,
) -> list[Timeline]:
    """Build timelines, and with ``separate`` delay shoppers until no gondola is shared.

    Shoppers of one account (a group) may share a gondola. Earlier entries
    keep their times, and a later shopper is delayed by ``delay_step_s`` steps.
    Plans with ``align`` are placed after the others, relative to the plan
    they name, and are never delayed.
    """
    geometry = StoreGeometry(store, settings.motion)
    ordered = sorted(plans, key=lambda p: p.enter_t)
    plan_rngs = [np.random.default_rng(rng.integers(2**63)) for _ in ordered]
    timelines: list[Timeline] = []
    aligned: list[Timeline] = []
    for plan, plan_rng in zip(ordered, plan_rngs, strict=True):
        timeline = build_timeline(geometry, plan, settings.motion, plan_rng)
        if plan.align is not None:
            aligned.append(timeline)
            continue
        if separate:
            delays = 0
            while _overlaps(store, timeline, timelines, settings.conflict_margin_s):
                timeline = timeline.shifted(settings.delay_step_s)
                delays += 1
            if delays:
                logger.debug("delayed track %s by %d steps", plan.track, delays)
        timelines.append(timeline)

    timelines.extend(_align(timelines, aligned))
    earliest = min((timeline.enter_t for timeline in timelines), default=0.0)
    if earliest < settings.earliest_enter_s:
        dt = settings.earliest_enter_s - earliest
        timelines = [timeline.shifted(dt) for timeline in timelines]
    return timelines


def _align(placed: Sequence[Timeline], pending: Sequence[Timeline]) -> list[Timeline]:
    """Shift each pending timeline to its ``align`` target, in dependency order."""
    by_track = {timeline.plan.track: timeline for timeline in placed}
    waiting = list(pending)
    done: list[Timeline] = []
    while waiting:
        ready = [
            t for t in waiting if t.plan.align and t.plan.align.other_track in by_track
        ]
        if not ready:
            names = ", ".join(timeline.plan.track for timeline in waiting)
            raise SimulationError(
                f"plans {names} align to tracks that no plan has, or to each other "
                "in a cycle; align each plan to a track of another plan"
            )
        for timeline in ready:
            align = timeline.plan.align
            assert align is not None
            other = by_track[align.other_track]
            try:
                target = other.reaches[align.other_reach].t_mid + align.offset_s
                own = timeline.reaches[align.reach].t_mid
            except IndexError:
                raise SimulationError(
                    f"track {timeline.plan.track} aligns reach {align.reach} to "
                    f"reach {align.other_reach} of {align.other_track}, but one of "
                    "them has fewer reaches; count reaches from 0"
                ) from None
            shifted = timeline.shifted(target - own)
            by_track[shifted.plan.track] = shifted
            done.append(shifted)
            waiting.remove(timeline)
    return done


def _overlaps(
    store: Store, timeline: Timeline, others: Sequence[Timeline], margin: float
) -> bool:
    for other in others:
        if other.plan.account == timeline.plan.account:
            continue
        for reach in timeline.reaches:
            if reach.plate is None:
                continue
            gondola = store.plates[reach.plate].gondola
            for placed in other.reaches:
                if placed.plate is None:
                    continue
                if store.plates[placed.plate].gondola != gondola:
                    continue
                if (
                    reach.t_out < placed.t_back + margin
                    and placed.t_out < reach.t_back + margin
                ):
                    return True
    return False


def _shelf_neighbours(store: Store, plates: Sequence[str]) -> list[str]:
    found: list[str] = []
    for plate in plates:
        for neighbour in store.neighbours(plate):
            if neighbour not in plates and neighbour not in found:
                found.append(neighbour)
    return found


def _load_events(
    store: Store,
    reach: Reach,
    deltas: dict[str, float],
    model: LoadCellModel,
    rng: np.random.Generator,
) -> list[LoadEvent]:
    """Turn one reach's true load changes into load events with transients."""
    is_put = isinstance(reach.action, PutBack | Restock)
    press_g = float(rng.uniform(*model.press_g_range))
    ring_fraction = float(rng.uniform(*model.ring_fraction_range))
    ring_hz = float(rng.uniform(*model.ring_hz_range))
    total = sum(abs(delta) for delta in deltas.values()) or 1.0
    events: list[LoadEvent] = []
    for plate, delta in deltas.items():
        share = abs(delta) / total
        impact = (
            float(rng.uniform(*model.impact_fraction_range)) * delta if is_put else 0.0
        )
        events.append(
            LoadEvent(
                plate=plate,
                t_touch=reach.t_touch,
                t_step=reach.t_step,
                t_settled=reach.t_settled,
                delta_g=delta,
                press_g=press_g * share,
                ring_fraction=ring_fraction,
                ring_hz=ring_hz,
                impact_g=impact,
                impact_decay_s=model.impact_decay_s,
            )
        )

    # The shelf bends: each neighbour shifts by a small fraction of the change.
    change = sum(deltas.values())
    for neighbour in _shelf_neighbours(store, list(deltas)):
        coupling = float(rng.uniform(*model.neighbour_coupling_range))
        events.append(
            LoadEvent(
                plate=neighbour,
                t_touch=reach.t_touch,
                t_step=reach.t_step,
                t_settled=reach.t_settled,
                delta_g=coupling * change,
                press_g=coupling * press_g,
                ring_fraction=ring_fraction,
                ring_hz=ring_hz,
            )
        )
    return events


@dataclass
class _Replay:
    """Shelf and cart state while reaches are applied in time order."""

    stock: ShelfStock
    timelines: dict[str, Timeline]
    """Timelines by person, the plan's first track id."""
    carried: dict[str, list[Unit]] = field(default_factory=dict)
    """Units in the hands or basket of each person."""
    load_events: list[LoadEvent] = field(default_factory=list)
    presses: list[PressLoad] = field(default_factory=list)
    moves: list[tuple[TruthEvent, list[Unit]]] = field(default_factory=list)
    seen: list[SeenItem] = field(default_factory=list)
    """Products in a hand during each shelf reach, for the vision observations."""
    bought: dict[str, dict[str, int]] = field(default_factory=dict)


def _apply_reach(
    store: Store,
    reach: Reach,
    state: _Replay,
    settings: SimulationSettings,
    rng: np.random.Generator,
) -> None:
    action = reach.action
    if isinstance(action, Lean):
        state.presses.extend(_lean_presses(store, reach, action, settings, rng))
        return
    if isinstance(action, HandOver):
        _hand_over(reach, action, state)
        return
    assert reach.plate is not None, "shelf reaches always name a plate"
    if isinstance(action, Take):
        units = state.stock.take(reach.plate, action.qty)
        state.carried.setdefault(reach.person, []).extend(units)
        sign = -1.0
    else:
        if isinstance(action, Restock):
            units = _restock_units(store, reach, action, rng)
        else:
            carried = state.carried.get(reach.person, [])
            units = _pick_carried(carried, action.sku, action.qty, reach.track)
        facing_plates = _facing_plates(store, action.sku, reach.plate)
        for unit in units:
            unit.shares = _shares(facing_plates, rng, settings)
        state.stock.units.extend(units)
        sign = 1.0

    deltas: dict[str, float] = {}
    for unit in units:
        for plate, share in unit.shares.items():
            deltas[plate] = deltas.get(plate, 0.0) + sign * unit.weight_g * share
    state.load_events.extend(
        _load_events(store, reach, deltas, settings.load_cells, rng)
    )

    # One truth event per product moved, because a grab usually lifts one product.
    main_plate = max(deltas, key=lambda plate: abs(deltas[plate]))
    by_sku: dict[str, list[Unit]] = {}
    for unit in units:
        by_sku.setdefault(unit.sku, []).append(unit)
    cart = state.bought.setdefault(reach.account, {})
    for sku, group in by_sku.items():
        state.seen.append(SeenItem(reach, sku))
        event = TruthEvent(
            t=round(reach.t_mid, 3),
            track=reach.track,
            action="take" if sign < 0 else "put",
            sku=sku,
            qty=len(group),
            plate=main_plate,
        )
        state.moves.append((event, group))
        cart[sku] = cart.get(sku, 0) - int(sign) * len(group)


def _pick_carried(carried: list[Unit], sku: str, qty: int, track: str) -> list[Unit]:
    picked = [unit for unit in reversed(carried) if unit.sku == sku][:qty]
    if len(picked) < qty:
        raise SimulationError(
            f"track {track} puts back or hands over {qty} x {sku} but carries "
            f"{len(picked)}; move only what the person carries"
        )
    for unit in picked:
        carried.remove(unit)
    return picked


def _restock_units(
    store: Store, reach: Reach, action: Restock, rng: np.random.Generator
) -> list[Unit]:
    if reach.account not in store.staff_accounts:
        raise SimulationError(
            f"track {reach.track} restocks on account {reach.account}, which is not "
            f"a staff account; use one of {sorted(store.staff_accounts)}"
        )
    product = store.products[action.sku]
    spread = product.unit_weight_sd_g or 0.0
    return [
        Unit(
            action.sku,
            float(rng.normal(product.unit_weight_g, spread)),
            {},
            source="restock",
        )
        for _ in range(action.qty)
    ]


def _lean_presses(
    store: Store,
    reach: Reach,
    action: Lean,
    settings: SimulationSettings,
    rng: np.random.Generator,
) -> list[PressLoad]:
    """Spread a lean over the plate and its neighbours; a light press stays on one."""
    shares = {action.plate: 1.0}
    neighbours = store.neighbours(action.plate)
    if action.grams >= LEAN_SPREAD_MIN_G and neighbours:
        main = float(rng.uniform(*settings.lean_share_range))
        shares = {action.plate: main}
        for neighbour in neighbours:
            shares[neighbour] = (1.0 - main) / len(neighbours)
    ramp = reach.t_step - reach.t_touch
    sway = float(rng.uniform(*settings.press_sway_range))
    sway_hz = float(rng.uniform(0.3, 1.5))
    return [
        PressLoad(
            plate=plate,
            t_start=reach.t_touch,
            t_end=reach.t_settled + ramp,
            grams=action.grams * share,
            ramp_s=ramp,
            sway_fraction=sway,
            sway_hz=sway_hz,
        )
        for plate, share in shares.items()
    ]


def _hand_over(reach: Reach, action: HandOver, state: _Replay) -> None:
    receiver = state.timelines.get(action.to_track)
    if receiver is None:
        raise SimulationError(
            f"track {reach.track} hands over to {action.to_track}, which no plan has"
        )
    x = float(np.interp(reach.t_mid, receiver.key_t, receiver.key_xy[:, 0]))
    y = float(np.interp(reach.t_mid, receiver.key_t, receiver.key_xy[:, 1]))
    distance = math.dist((x, y), action.toward)
    if distance > HAND_OVER_REACH_M:
        raise SimulationError(
            f"track {reach.track} hands over to {action.to_track} at "
            f"t={reach.t_mid:.1f} s, but the receiver is {distance:.1f} m from "
            f"{action.toward}; make the receiver wait there longer"
        )
    carried = state.carried.get(reach.person, [])
    units = _pick_carried(carried, action.sku, action.qty, reach.track)
    state.carried.setdefault(action.to_track, []).extend(units)


def _facing_plates(store: Store, sku: str, plate: str) -> tuple[str, ...]:
    """Return the plates a put-back unit rests on: its facing, else ``plate`` alone."""
    for facing in store.planogram:
        if facing.sku == sku and plate in facing.plates:
            return facing.plates
    return (plate,)


def render(
    store: Store,
    plans: Sequence[ShopperPlan],
    seed: int,
    settings: SimulationSettings | None = None,
    *,
    separate: bool = True,
    faults: FaultBuilder | None = None,
) -> Rendered:
    """Render ``plans`` in ``store`` into a recording with truth, fixed by ``seed``.

    ``faults``, when given, places sensor faults once the timelines are known.
    """
    settings = settings or SimulationSettings()
    root = np.random.default_rng(seed)
    # Children are drawn by index, so adding one leaves the earlier ones as
    # they were: recordings without faults or vision keep their other streams.
    rngs = root.spawn(7)
    timelines = schedule(store, plans, settings, rngs[0], separate=separate)
    plate_faults = faults(store, timelines, rngs[5]) if faults else []

    # Replay every reach in time order against the shelf stock.
    state = _Replay(
        stock=initial_stock(store, rngs[1], settings),
        timelines={timeline.plan.track: timeline for timeline in timelines},
    )
    initial_load = state.stock.load()
    reaches = sorted(
        (reach for timeline in timelines for reach in timeline.reaches),
        key=lambda reach: reach.t_touch,
    )
    for reach in reaches:
        _apply_reach(store, reach, state, settings, rngs[2])

    # Sensors over the whole visit window.
    start = 0.0
    end = max((timeline.exit_t for timeline in timelines), default=0.0)
    end += settings.lead_in_s
    plate_ids = sorted(store.plates, key=_plate_sort_key)
    sensors = {
        plate: draw_sensor(plate, settings.load_cells, rngs[3]) for plate in plate_ids
    }
    weights = render_weights(
        plate_ids,
        sensors,
        initial_load,
        state.load_events,
        (start, end),
        settings.load_cells,
        rngs[3],
        presses=state.presses,
        faults=plate_faults,
        fault_rng=rngs[5],
    )
    poses = render_poses(timelines, settings.poses, rngs[4])
    outputs = load_outputs(settings.vision_outputs) if settings.vision_outputs else None
    vision = (
        render_vision(store, state.seen, outputs, settings.vision, rngs[6])
        if outputs is not None
        else None
    )

    recording = Recording(
        store=store,
        weights=weights,
        poses=poses,
        gates=_gates(timelines),
        vision=vision,
        truth=_truth(store, timelines, state),
    )
    logger.info(
        "rendered %d shoppers: %d readings, %d pose rows, %d truth events",
        len(timelines),
        len(weights),
        len(poses),
        len(state.moves),
    )
    moved_units = [units for _, units in sorted(state.moves, key=_move_time)]
    return Rendered(
        recording,
        timelines,
        state.load_events,
        moved_units,
        presses=state.presses,
        faults=plate_faults,
    )


def _move_time(move: tuple[TruthEvent, list[Unit]]) -> float:
    return move[0].t


def _plate_sort_key(plate_id: str) -> tuple[int, ...] | tuple[str]:
    parts = plate_id.split(".")
    if all(part.isdigit() for part in parts):
        return tuple(int(part) for part in parts)
    return (plate_id,)


def _gates(timelines: Sequence[Timeline]) -> list[GateEvent]:
    gates: list[GateEvent] = []
    for timeline in timelines:
        plan = timeline.plan
        gates.append(
            GateEvent(round(timeline.enter_t, 3), "enter", plan.track, plan.account)
        )
        # A track found again under a new id exits under that id.
        exit_track = timeline.tracks[-1]
        gates.append(GateEvent(round(timeline.exit_t, 3), "exit", exit_track, None))
    return sorted(gates, key=lambda gate: gate.t)


def _truth(store: Store, timelines: Sequence[Timeline], state: _Replay) -> Truth:
    accounts: list[str] = []
    for timeline in timelines:
        account = timeline.plan.account
        if account not in accounts and account not in store.staff_accounts:
            accounts.append(account)
    receipts = [
        TruthReceipt(
            account=account,
            items={
                sku: qty
                for sku, qty in sorted(state.bought.get(account, {}).items())
                if qty > 0
            },
        )
        for account in accounts
    ]
    events = [event for event, _ in sorted(state.moves, key=_move_time)]
    return Truth(receipts=receipts, events=events)

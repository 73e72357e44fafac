"""Hard cases of real shopping, as scenario parts that can share one session.

A part is a function ``(cast, start_t) -> plans``: it adds people who enter
from ``start_t`` on, reserving stock and track numbers through ``cast``, so
``mixed`` can run several parts in one store. Plans that must meet another
person at a shelf use ``Align``, because walking times are only known once
the renderer builds timelines. ``place_faults`` adds sensor faults after
that, relative to the reach times.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np

from walkout.recording.model import Facing, Store
from walkout.sim.builders import (
    Cast,
    browser,
    other_hand,
    pick_hand,
    putback_shopper,
    takes,
)
from walkout.sim.loadcell import DriftBurst, PlateFault, ReadingGap, SpikeBurst
from walkout.sim.plan import (
    Align,
    HandOver,
    Lean,
    LoseTrack,
    PutBack,
    Restock,
    ShopperPlan,
    Take,
    Wait,
    WalkTo,
)
from walkout.sim.timeline import Reach, Timeline

logger = logging.getLogger(__name__)

Part = Callable[[Cast, float], list[ShopperPlan]]

MISPLACED_MIN_DIFFERENCE = 0.15
"""Minimum relative weight difference between a misplaced item and the product
of the plate it lands on, so that a later take there is decidable by weight."""


def _single_plate(facing: Facing) -> bool:
    return len(facing.plates) == 1


def _other_gondola(cast: Cast, gondola: int) -> int:
    return next(g for g in cast.gondola_order() if g != gondola)


# --- one product, several units, one plate -----------------------------------


def multi_unit(cast: Cast, start_t: float) -> list[ShopperPlan]:
    """Two shoppers, each lifting 2-4 units of one product in one grab."""
    plans: list[ShopperPlan] = []
    enter_t = start_t
    for _ in range(2):
        plan = cast.person(enter_t)
        first, second = cast.gondola_order()[:2]
        qty = int(cast.rng.integers(2, 5))
        _, plate = cast.picker.pick(first, qty)
        plan.actions.append(Take(plate, qty=qty, hand=pick_hand(cast.rng)))
        if cast.rng.random() < 0.5:
            plan.actions.extend(takes(cast.picker, [second], 1, cast.rng))
        plans.append(plan)
        enter_t += float(cast.rng.uniform(3.0, 6.0))
    return plans


def putback_same(cast: Cast, start_t: float) -> list[ShopperPlan]:
    """Add a shopper who puts back the only unit taken, and one who takes two
    units and puts one back."""
    first_gondola, second_gondola = cast.gondola_order()[:2]
    plan = cast.person(start_t)
    facing, plate = cast.picker.pick(first_gondola, 1)
    hand = pick_hand(cast.rng)
    plan.actions.append(Take(plate, hand=hand))
    plan.actions.append(Wait(float(cast.rng.uniform(1.0, 4.0))))
    plan.actions.append(PutBack(plate, sku=facing.sku, hand=hand))
    if cast.rng.random() < 0.5:
        plan.actions.extend(takes(cast.picker, [second_gondola], 1, cast.rng))

    enter_t = start_t + float(cast.rng.uniform(3.0, 6.0))
    other = putback_shopper(
        cast.picker, cast.number(), enter_t, second_gondola, cast.rng
    )
    return [plan, other]


def spanning(cast: Cast, start_t: float) -> list[ShopperPlan]:
    """Takes from facings that span two plates, and one put-back onto such a facing."""

    def two_plates(facing: Facing) -> bool:
        return len(facing.plates) == 2

    first = cast.person(start_t)
    qty = int(cast.rng.integers(1, 3))
    _, plate = cast.picker.pick_where(qty, two_plates, "two-plate facings")
    first.actions.append(Take(plate, qty=qty, hand=pick_hand(cast.rng)))
    _, plate = cast.picker.pick_where(1, two_plates, "two-plate facings")
    first.actions.append(Take(plate, hand=pick_hand(cast.rng)))

    second = cast.person(start_t + float(cast.rng.uniform(3.0, 6.0)))
    facing, plate = cast.picker.pick_where(2, two_plates, "two-plate facings")
    hand = pick_hand(cast.rng)
    second.actions.append(Take(plate, qty=2, hand=hand))
    second.actions.append(Wait(float(cast.rng.uniform(1.0, 3.0))))
    # The unit goes back onto the other plate of the facing and spreads over both.
    other_plate = next(p for p in facing.plates if p != plate)
    second.actions.append(PutBack(other_plate, sku=facing.sku, hand=hand))
    return [first, second]


# --- wrong places ------------------------------------------------------------


def _wrong_plate(cast: Cast, sku: str, exclude: set[str]) -> str:
    """Return a one-plate facing of another product that weighs clearly different."""
    weight = cast.weight(sku)
    candidates = [
        facing.plates[0]
        for facing in cast.store.planogram
        if _single_plate(facing)
        and facing.sku != sku
        and abs(cast.weight(facing.sku) - weight)
        > MISPLACED_MIN_DIFFERENCE * max(weight, cast.weight(facing.sku))
        and facing.plates[0] not in exclude
    ]
    return str(cast.rng.choice(candidates))


def misplaced(cast: Cast, start_t: float) -> list[ShopperPlan]:
    """Add a shopper who puts two items back on plates of other products, and a
    second shopper who later takes the first of them there. The other one stays."""
    picker = cast.picker
    gondola = cast.gondola_order()[0]
    first = cast.person(start_t)
    first_facing, first_plate = picker.pick(gondola, 1)
    second_facing, second_plate = picker.pick(gondola, 1)
    hand = pick_hand(cast.rng)

    exclude = picker.used | picker.avoid
    wrong = _wrong_plate(cast, first_facing.sku, exclude)
    exclude |= {wrong, *cast.store.neighbours(wrong)}
    stays = _wrong_plate(cast, second_facing.sku, exclude)
    picker.avoid |= {wrong, stays}
    first.actions.extend(
        [
            Take(first_plate, hand=hand),
            Take(second_plate, hand=hand),
            PutBack(wrong, sku=first_facing.sku, hand=hand),
            PutBack(stays, sku=second_facing.sku, hand=hand),
        ]
    )

    # The buyer's first reach comes 8-15 s after the misplaced put (reach 2).
    buyer = cast.person(start_t + 5.0)
    buyer.align = Align(first.track, 2, 0, float(cast.rng.uniform(8.0, 15.0)))
    buyer.actions.append(Take(wrong, hand=pick_hand(cast.rng)))
    other = _other_gondola(cast, cast.store.plates[wrong].gondola)
    buyer.actions.extend(takes(picker, [other], 1, cast.rng))
    return [first, buyer]


# --- people close together ---------------------------------------------------


def _neighbour_facings(cast: Cast) -> list[tuple[Facing, Facing]]:
    """Return pairs of one-plate facings on neighbouring plates with stock left."""
    singles = [
        facing
        for facing in cast.store.planogram
        if _single_plate(facing)
        and cast.picker.units_left(facing) >= 1
        and not cast.picker.avoid.intersection(facing.plates)
    ]
    by_plate = {facing.plates[0]: facing for facing in singles}
    pairs: list[tuple[Facing, Facing]] = []
    for facing in singles:
        for neighbour in cast.store.neighbours(facing.plates[0]):
            other = by_plate.get(neighbour)
            if other is not None and neighbour > facing.plates[0]:
                pairs.append((facing, other))
    return pairs


def adjacent(cast: Cast, start_t: float) -> list[ShopperPlan]:
    """Two shoppers take from neighbouring plates with 0.2-1.8 s between the
    middles of the weight changes, each standing in front of their own plate."""
    pairs = _neighbour_facings(cast)
    left_facing, right_facing = pairs[int(cast.rng.integers(len(pairs)))]
    cast.picker.reserve(left_facing, 1)
    cast.picker.reserve(right_facing, 1)
    left_plate, right_plate = left_facing.plates[0], right_facing.plates[0]
    left_hand, right_hand = cast.apart_hands(left_plate, right_plate)
    gondola = cast.store.plates[left_plate].gondola

    first = cast.person(start_t)
    first.actions.append(Take(left_plate, hand=left_hand))
    if cast.rng.random() < 0.5:
        first.actions.extend(
            takes(cast.picker, [_other_gondola(cast, gondola)], 1, cast.rng)
        )

    second = cast.person(start_t + 3.0)
    sign = 1.0 if cast.rng.random() < 0.5 else -1.0
    offset = sign * float(cast.rng.uniform(0.2, 1.8))
    second.align = Align(first.track, 0, 0, offset)
    second.actions.append(Take(right_plate, hand=right_hand))
    if cast.rng.random() < 0.5:
        second.actions.extend(
            takes(cast.picker, [_other_gondola(cast, gondola)], 1, cast.rng)
        )
    return [first, second]


def same_plate(cast: Cast, start_t: float) -> list[ShopperPlan]:
    """Two shoppers take from one plate, the second 2-4 s after the first, side
    by side and reaching with opposite hands."""
    _, plate = cast.picker.pick_where(2, _single_plate, "one-plate facings")
    hand = pick_hand(cast.rng)
    gondola = cast.store.plates[plate].gondola

    first = cast.person(start_t)
    first.actions.append(Take(plate, hand=hand))
    second = cast.person(start_t + 3.0)
    second.align = Align(first.track, 0, 0, float(cast.rng.uniform(2.0, 4.0)))
    second.actions.append(Take(plate, hand=other_hand(hand)))
    for plan in (first, second):
        if cast.rng.random() < 0.5:
            other = _other_gondola(cast, gondola)
            plan.actions.extend(takes(cast.picker, [other], 1, cast.rng))
    return [first, second]


def lookalike(cast: Cast, start_t: float) -> list[ShopperPlan]:
    """Two shoppers take neighbouring products that weigh within 2 % of each
    other, 3-6 s apart; the first also takes from a second look-alike pair."""
    pairs = [
        (a, b)
        for a, b in cast.lookalike_pairs()
        if cast.picker.units_left(a) >= 1
        and cast.picker.units_left(b) >= 1
        and not cast.picker.avoid.intersection((*a.plates, *b.plates))
    ]
    order = cast.rng.permutation(len(pairs))
    first_pair, second_pair = pairs[int(order[0])], pairs[int(order[1])]
    swap = cast.rng.random() < 0.5
    mine, theirs = first_pair[::-1] if swap else first_pair
    cast.picker.reserve(mine, 1)
    cast.picker.reserve(theirs, 1)
    mine_plate = str(cast.rng.choice(mine.plates))
    theirs_plate = str(cast.rng.choice(theirs.plates))
    mine_hand, theirs_hand = cast.apart_hands(mine_plate, theirs_plate)

    first = cast.person(start_t)
    first.actions.append(Take(mine_plate, hand=mine_hand))
    extra = second_pair[int(cast.rng.integers(2))]
    if cast.picker.units_left(extra) >= 1:
        cast.picker.reserve(extra, 1)
        plate = str(cast.rng.choice(extra.plates))
        first.actions.append(Take(plate, hand=pick_hand(cast.rng)))

    second = cast.person(start_t + 3.0)
    second.align = Align(first.track, 0, 0, float(cast.rng.uniform(3.0, 6.0)))
    second.actions.append(Take(theirs_plate, hand=theirs_hand))
    return [first, second]


def _plate_two_along(cast: Cast, plate_id: str) -> str:
    """Return a plate two places along the same shelf."""
    plate = cast.store.plates[plate_id]
    options = [
        other.id
        for other in cast.store.plates.values()
        if other.gondola == plate.gondola
        and other.shelf == plate.shelf
        and abs(other.plate - plate.plate) == 2
    ]
    return str(cast.rng.choice(sorted(options)))


def lean(cast: Cast, start_t: float) -> list[ShopperPlan]:
    """Add a shopper who leans 2-8 kg on a shelf two plates from another
    shopper's take while it happens, then presses 30-300 g on that plate."""
    _, plate = cast.picker.pick_where(1, _single_plate, "one-plate facings")
    leaned = _plate_two_along(cast, plate)
    take_hand, lean_hand = cast.apart_hands(plate, leaned)
    gondola = cast.store.plates[plate].gondola

    taker = cast.person(start_t)
    taker.actions.append(Take(plate, hand=take_hand))
    if cast.rng.random() < 0.5:
        other = _other_gondola(cast, gondola)
        taker.actions.extend(takes(cast.picker, [other], 1, cast.rng))

    leaner = cast.person(start_t + 2.0)
    leaner.align = Align(taker.track, 0, 0, float(cast.rng.uniform(-1.0, 1.0)))
    leaner.actions.append(
        Lean(
            leaned,
            grams=float(cast.rng.uniform(2000.0, 8000.0)),
            seconds=float(cast.rng.uniform(2.0, 4.0)),
            hand=lean_hand,
        )
    )
    leaner.actions.append(
        Lean(
            plate,
            grams=float(cast.rng.uniform(30.0, 300.0)),
            seconds=float(cast.rng.uniform(1.0, 2.5)),
            hand=lean_hand,
        )
    )
    if cast.rng.random() < 0.5:
        other = _other_gondola(cast, gondola)
        leaner.actions.extend(takes(cast.picker, [other], 1, cast.rng))
    return [taker, leaner]


def crowd(cast: Cast, start_t: float) -> list[ShopperPlan]:
    """Add six to eight shoppers who enter 0.5-1.5 s apart, at least half of them
    in the south aisle. No two of them take from the same facing."""
    # NOTE: bodies do not avoid each other, so two shoppers of a crowd may
    # stand in one place at the same time.
    count = int(cast.rng.integers(6, 9))
    south = [1, 2]
    plans: list[ShopperPlan] = []
    enter_t = start_t
    for index in range(count):
        plan = cast.person(enter_t)
        if index % 2 == 0:
            gondolas = [int(cast.rng.choice(south))]
        else:
            gondolas = cast.gondola_order()[: int(cast.rng.integers(1, 3))]
        before = set(cast.picker.used)
        plan.actions.extend(
            takes(cast.picker, gondolas, int(cast.rng.integers(1, 4)), cast.rng)
        )
        # Later shoppers leave this shopper's facings alone.
        for plate in cast.picker.used - before:
            cast.picker.avoid.update(cast.facing_of(plate).plates)
        plans.append(plan)
        enter_t += float(cast.rng.uniform(0.5, 1.5))
    return plans


# --- accounts and tracks -----------------------------------------------------


def group3(cast: Cast, start_t: float) -> list[ShopperPlan]:
    """Add a group of three tracks and a group of two, each on one account, with
    every track picking 1-2 items at its own gondola."""
    plans: list[ShopperPlan] = []
    enter_t = start_t
    for size in (3, 2):
        gondolas = cast.gondola_order()
        account: str | None = None
        for member in range(size):
            plan = cast.person(enter_t, account)
            account = plan.account
            count = int(cast.rng.integers(1, 3))
            plan.actions.extend(takes(cast.picker, [gondolas[member]], count, cast.rng))
            plans.append(plan)
            enter_t += float(cast.rng.uniform(0.8, 1.5))
        enter_t += float(cast.rng.uniform(3.0, 6.0))
    return plans


def staff_restock(cast: Cast, start_t: float) -> list[ShopperPlan]:
    """Staff put 2-4 units on each of 2-3 facings and remove 1-2 expired units,
    while a shopper buys restocked units and another shops elsewhere."""
    staff_account = sorted(cast.store.staff_accounts)[0]
    staff = cast.person(start_t, staff_account)
    gondola = cast.gondola_order()[0]
    facings = [
        facing
        for facing in cast.store.planogram
        if cast.store.plates[facing.plates[0]].gondola == gondola
        and not cast.picker.avoid.intersection(facing.plates)
        and not cast.picker.used.intersection(facing.plates)
    ]
    count = int(cast.rng.integers(2, 4))
    chosen = [facings[int(i)] for i in cast.rng.permutation(len(facings))[:count]]
    quantities: list[int] = []
    for facing in chosen:
        qty = int(cast.rng.integers(2, 5))
        quantities.append(qty)
        plate = str(cast.rng.choice(facing.plates))
        staff.actions.append(Restock(plate, facing.sku, qty, hand="right"))
        cast.picker.avoid.update(facing.plates)
    expired = int(cast.rng.integers(1, 3))
    _, plate = cast.picker.pick(gondola, expired)
    staff.actions.append(Take(plate, qty=expired, hand="right"))

    # The buyer takes restocked units 5-12 s after the first restock.
    buyer = cast.person(start_t + 4.0)
    buyer.align = Align(staff.track, 0, 0, float(cast.rng.uniform(5.0, 12.0)))
    bought = int(cast.rng.integers(1, quantities[0] + 1))
    buyer.actions.append(
        Take(str(cast.rng.choice(chosen[0].plates)), qty=min(bought, 2))
    )
    other_gondola = _other_gondola(cast, gondola)
    buyer.actions.extend(takes(cast.picker, [other_gondola], 1, cast.rng))

    shopper = cast.person(start_t + float(cast.rng.uniform(1.0, 3.0)))
    shopper.actions.extend(takes(cast.picker, [other_gondola], 2, cast.rng))
    return [staff, buyer, shopper]


def lost_track(cast: Cast, start_t: float) -> list[ShopperPlan]:
    """Add two shoppers. The tracker loses the first, and the second with
    probability 1/2, for 1-2 s between gondolas and finds them under a new id."""
    plans: list[ShopperPlan] = []
    enter_t = start_t
    for index in range(2):
        plan = cast.person(enter_t)
        first, second = cast.gondola_order()[:2]
        plan.actions.extend(takes(cast.picker, [first], 1, cast.rng))
        if index == 0 or cast.rng.random() < 0.5:
            seconds = float(cast.rng.uniform(1.0, 2.0))
            plan.actions.append(LoseTrack(seconds, cast.new_track_id()))
        count = int(cast.rng.integers(1, 3))
        plan.actions.extend(takes(cast.picker, [second], count, cast.rng))
        plans.append(plan)
        enter_t += float(cast.rng.uniform(3.0, 6.0))
    return plans


def no_purchase(cast: Cast, start_t: float) -> list[ShopperPlan]:
    """Add a visitor who only looks, one who puts back the one item taken, one
    who puts back two, and one shopper who buys, for contrast."""
    gondolas = cast.gondola_order()
    looker = browser(cast.store, cast.number(), start_t, gondolas[0], cast.rng)

    single = cast.person(start_t + float(cast.rng.uniform(3.0, 5.0)))
    facing, plate = cast.picker.pick(gondolas[1], 1)
    hand = pick_hand(cast.rng)
    single.actions.append(Take(plate, hand=hand))
    single.actions.append(Wait(float(cast.rng.uniform(1.0, 4.0))))
    single.actions.append(PutBack(plate, sku=facing.sku, hand=hand))

    double = cast.person(start_t + float(cast.rng.uniform(6.0, 9.0)))
    first_facing, first_plate = cast.picker.pick(gondolas[2], 1)
    second_facing, second_plate = cast.picker.pick(gondolas[2], 1)
    double.actions.append(Take(first_plate))
    double.actions.append(Take(second_plate))
    double.actions.append(Wait(float(cast.rng.uniform(1.0, 3.0))))
    double.actions.append(PutBack(second_plate, sku=second_facing.sku))
    double.actions.append(PutBack(first_plate, sku=first_facing.sku))

    buyer = cast.person(start_t + float(cast.rng.uniform(9.0, 12.0)))
    buyer.actions.extend(takes(cast.picker, [gondolas[3]], 1, cast.rng))
    return [looker, single, double, buyer]


def handover(cast: Cast, start_t: float) -> list[ShopperPlan]:
    """Add a shopper who takes an item and hands it to a companion on another
    account waiting in the south aisle. The companion then buys their own item.

    The receiver's own take is aligned 15 s after the hand-over and follows a
    25 s wait, so the receiver stands at the meeting point whenever the
    hand-over happens, however long the walks take.
    """
    gondolas = cast.gondola_order()
    picker = cast.person(start_t)
    facing, plate = cast.picker.pick(gondolas[0], 1)
    hand = pick_hand(cast.rng)
    picker.actions.append(Take(plate, hand=hand))
    if cast.rng.random() < 0.5:
        picker.actions.extend(takes(cast.picker, [gondolas[0]], 1, cast.rng))

    meet = (float(cast.rng.uniform(1.8, 4.2)), float(cast.rng.uniform(0.9, 1.2)))
    side = 1.0 if cast.rng.random() < 0.5 else -1.0
    spot = (meet[0] + side * 0.7, meet[1])
    receiver = cast.person(start_t + 2.0)
    # Reaches count from 0, and only the takes come before the hand-over.
    hand_over_reach = sum(isinstance(action, Take) for action in picker.actions)
    picker.actions.append(WalkTo(meet))
    picker.actions.append(HandOver(receiver.track, facing.sku, spot, hand=hand))

    receiver.actions.append(WalkTo(spot))
    receiver.actions.append(Wait(25.0))
    receiver.actions.extend(takes(cast.picker, [gondolas[1]], 1, cast.rng))
    receiver.align = Align(picker.track, hand_over_reach, 0, 15.0)
    return [picker, receiver]


# --- sensor faults -------------------------------------------------------------


def sensor_faults(cast: Cast, start_t: float) -> list[ShopperPlan]:
    """Two shoppers with 2-3 takes each; ``place_faults`` adds the faults."""
    plans: list[ShopperPlan] = []
    enter_t = start_t
    for _ in range(2):
        plan = cast.person(enter_t)
        gondolas = cast.gondola_order()[:2]
        count = int(cast.rng.integers(2, 4))
        plan.actions.extend(takes(cast.picker, gondolas, count, cast.rng))
        plans.append(plan)
        enter_t += float(cast.rng.uniform(2.0, 4.0))
    return plans


def place_faults(
    store: Store, timelines: Sequence[Timeline], rng: np.random.Generator
) -> list[PlateFault]:
    """Place reading gaps around two takes, and drift and spike bursts.

    One take happens inside a 3-8 s gap of its plate, another just before
    one. One drift burst and one spike burst cover a take on its plate, and
    1-2 of each land on random plates.
    """
    reaches = sorted(
        (
            reach
            for timeline in timelines
            for reach in timeline.reaches
            if isinstance(reach.action, Take)
        ),
        key=lambda reach: (reach.t_mid, reach.track),
    )
    if not reaches:
        return []
    order = [int(i) for i in rng.permutation(len(reaches))]
    chosen = [reaches[i] for i in order]
    faults: list[PlateFault] = []
    faults.append(_gap_during(chosen[0], rng))
    if len(chosen) > 1:
        faults.append(_gap_after(chosen[1], rng))

    plates = sorted(store.plates)
    end_t = max(timeline.exit_t for timeline in timelines)
    covered = chosen[-1]
    assert covered.plate is not None
    faults.append(_drift_burst(covered.plate, covered.t_touch - 1.0, rng))
    faults.append(_spike_burst(covered.plate, covered.t_touch - 0.5, rng))
    for _ in range(int(rng.integers(1, 3))):
        plate = str(rng.choice(plates))
        faults.append(_drift_burst(plate, float(rng.uniform(1.0, end_t)), rng))
    for _ in range(int(rng.integers(1, 3))):
        plate = str(rng.choice(plates))
        faults.append(_spike_burst(plate, float(rng.uniform(1.0, end_t)), rng))
    return faults


def _gap_during(reach: Reach, rng: np.random.Generator) -> ReadingGap:
    assert reach.plate is not None
    start = reach.t_touch - float(rng.uniform(0.3, 1.5))
    end = max(reach.t_settled + float(rng.uniform(1.0, 4.0)), start + 3.0)
    return ReadingGap(reach.plate, start, min(end, start + 8.0))


def _gap_after(reach: Reach, rng: np.random.Generator) -> ReadingGap:
    assert reach.plate is not None
    start = reach.t_settled + float(rng.uniform(0.1, 0.5))
    return ReadingGap(reach.plate, start, start + float(rng.uniform(3.0, 8.0)))


def _drift_burst(plate: str, start: float, rng: np.random.Generator) -> DriftBurst:
    peak = float(rng.uniform(5.0, 30.0)) * float(rng.choice((-1.0, 1.0)))
    return DriftBurst(
        plate=plate,
        t_start=start,
        t_end=start + float(rng.uniform(3.0, 8.0)),
        peak_g=peak,
        end_g=peak * float(rng.uniform(0.0, 0.5)),
    )


def _spike_burst(plate: str, start: float, rng: np.random.Generator) -> SpikeBurst:
    return SpikeBurst(
        plate=plate,
        t_start=start,
        t_end=start + float(rng.uniform(0.5, 2.0)),
        rate_hz=float(rng.uniform(5.0, 15.0)),
        median_g=float(rng.uniform(15.0, 60.0)),
    )


# --- everything at once ------------------------------------------------------

MIXED_PARTS: tuple[Part, ...] = (
    multi_unit,
    putback_same,
    misplaced,
    adjacent,
    same_plate,
    group3,
    staff_restock,
    lookalike,
    lean,
    lost_track,
    no_purchase,
    handover,
    spanning,
)
"""Parts that ``mixed`` draws from. ``crowd`` is left out because it needs
shoppers of different accounts at one gondola without alignment."""


def mixed(cast: Cast, start_t: float) -> list[ShopperPlan]:
    """Seven of the hard cases, starting 12-20 s apart, in one store session."""
    plans: list[ShopperPlan] = []
    enter_t = start_t
    for index in cast.rng.permutation(len(MIXED_PARTS))[:7]:
        part = MIXED_PARTS[int(index)]
        plans.extend(part(cast, enter_t))
        enter_t += float(cast.rng.uniform(12.0, 20.0))
    return plans

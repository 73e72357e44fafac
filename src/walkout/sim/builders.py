"""Building blocks of scenarios: stock reservations, people and their actions.

``FacingPicker`` reserves units so that no plan takes from an empty plate,
and ``Cast`` hands out track numbers, so that several scenario parts can
share one store session.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Callable

import numpy as np

from walkout.recording.model import Facing, Store
from walkout.sim.plan import Action, PutBack, ShopperPlan, Take, Wait, WalkTo
from walkout.sim.timeline import MotionModel, StoreGeometry

logger = logging.getLogger(__name__)

LOOKALIKE_MAX_DIFFERENCE = 0.02
"""Relative weight difference up to which two products count as look-alikes."""


class FacingPicker:
    """Chooses facings to take from without emptying any of them.

    ``avoid`` contains plates that random picks leave alone, because a
    scenario gives them a role of their own. ``used`` contains every plate
    picked so far.
    """

    def __init__(self, store: Store, rng: np.random.Generator) -> None:
        self.store = store
        self.rng = rng
        self.left = {
            index: facing.qty or 0 for index, facing in enumerate(store.planogram)
        }
        self.avoid: set[str] = set()
        self.used: set[str] = set()

    def gondolas(self) -> list[int]:
        return sorted({plate.gondola for plate in self.store.plates.values()})

    def pick(self, gondola: int, qty: int) -> tuple[Facing, str]:
        """Reserve ``qty`` units of a random facing on ``gondola``.

        Returns the facing and one of its plates.
        """
        return self.pick_where(
            qty,
            lambda facing: self.store.plates[facing.plates[0]].gondola == gondola,
            f"gondola {gondola}",
        )

    def pick_where(
        self, qty: int, accept: Callable[[Facing], bool], where: str = "the store"
    ) -> tuple[Facing, str]:
        """Reserve ``qty`` units of a random facing that ``accept`` allows."""
        choices = [
            index
            for index, facing in enumerate(self.store.planogram)
            if self.left[index] >= qty
            and not self.avoid.intersection(facing.plates)
            and accept(facing)
        ]
        if not choices:
            raise ValueError(f"{where} has no facing with {qty} units left")
        index = int(self.rng.choice(choices))
        self.left[index] -= qty
        facing = self.store.planogram[index]
        plate = str(self.rng.choice(facing.plates))
        self.used.add(plate)
        return facing, plate

    def units_left(self, facing: Facing) -> int:
        return self.left[self.store.planogram.index(facing)]

    def reserve(self, facing: Facing, qty: int) -> None:
        """Reserve ``qty`` units of a facing chosen by the caller."""
        index = self.store.planogram.index(facing)
        if self.left[index] < qty:
            raise ValueError(
                f"facing of {facing.sku} has {self.left[index]} units left, "
                f"not {qty}; choose another facing"
            )
        self.left[index] -= qty
        self.used.update(facing.plates)


def pick_hand(rng: np.random.Generator) -> str:
    return "left" if rng.random() < 0.3 else "right"


def other_hand(hand: str) -> str:
    return "left" if hand == "right" else "right"


def new_plan(
    track: str, account: str, enter_t: float, rng: np.random.Generator
) -> ShopperPlan:
    return ShopperPlan(
        track=track,
        account=account,
        enter_t=round(enter_t, 2),
        speed_mps=float(rng.uniform(0.8, 1.2)),
        height_m=float(rng.uniform(1.55, 1.85)),
    )


def takes(
    picker: FacingPicker,
    gondolas: list[int],
    count: int,
    rng: np.random.Generator,
) -> list[Action]:
    """Return ``count`` takes spread over ``gondolas``, visiting each gondola once."""
    actions: list[Action] = []
    per_gondola = np.array_split(np.arange(count), len(gondolas))
    for gondola, block in zip(gondolas, per_gondola, strict=True):
        for _ in block:
            qty = 2 if rng.random() < 0.15 else 1
            _, plate = picker.pick(gondola, qty)
            actions.append(Take(plate, qty=qty, hand=pick_hand(rng)))
    return actions


def shopper(
    picker: FacingPicker,
    number: int,
    enter_t: float,
    gondolas: list[int],
    count: int,
    rng: np.random.Generator,
) -> ShopperPlan:
    plan = new_plan(f"p{number}", f"acct-{number}", enter_t, rng)
    plan.actions.extend(takes(picker, gondolas, count, rng))
    return plan


def putback_shopper(
    picker: FacingPicker,
    number: int,
    enter_t: float,
    gondola: int,
    rng: np.random.Generator,
) -> ShopperPlan:
    """A shopper who takes two units, puts one back on that plate, takes another."""
    plan = new_plan(f"p{number}", f"acct-{number}", enter_t, rng)
    facing, plate = picker.pick(gondola, 2)
    hand = pick_hand(rng)
    plan.actions.append(Take(plate, qty=1, hand=hand))
    plan.actions.append(Take(plate, qty=1, hand=hand))
    plan.actions.append(Wait(float(rng.uniform(1.0, 3.0))))
    plan.actions.append(PutBack(plate, sku=facing.sku, qty=1, hand=hand))
    other_gondola = next(g for g in picker.gondolas() if g != gondola)
    plan.actions.extend(takes(picker, [other_gondola], 1, rng))
    return plan


def group(
    picker: FacingPicker,
    numbers: tuple[int, int],
    account: str,
    enter_t: float,
    gondolas: tuple[int, int],
    rng: np.random.Generator,
) -> list[ShopperPlan]:
    """Two people on one account: they enter a second apart and shop separately."""
    plans: list[ShopperPlan] = []
    for offset, (number, gondola) in enumerate(zip(numbers, gondolas, strict=True)):
        plan = new_plan(f"p{number}", account, enter_t + 1.2 * offset, rng)
        plan.actions.extend(takes(picker, [gondola], int(rng.integers(1, 3)), rng))
        plans.append(plan)
    return plans


def browser(
    store: Store, number: int, enter_t: float, gondola: int, rng: np.random.Generator
) -> ShopperPlan:
    """A shopper who walks to a gondola, looks, and leaves without buying."""
    plan = new_plan(f"p{number}", f"acct-{number}", enter_t, rng)
    plate = next(p for p in store.plates.values() if p.gondola == gondola)
    stand, _ = StoreGeometry(store, MotionModel()).stand_point(plate.id, "right")
    plan.actions.append(WalkTo(stand))
    plan.actions.append(Wait(float(rng.uniform(3.0, 6.0))))
    return plan


class Cast:
    """Shared state of a scenario's parts: the store, the plan generator, the
    stock reservations and the next free track number."""

    def __init__(self, store: Store, rng: np.random.Generator) -> None:
        self.store = store
        self.rng = rng
        self.picker = FacingPicker(store, rng)
        self.geometry = StoreGeometry(store, MotionModel())
        self._numbers = itertools.count(1)

    def number(self) -> int:
        """Return the next free track number."""
        return next(self._numbers)

    def person(self, enter_t: float, account: str | None = None) -> ShopperPlan:
        """Return an empty plan for a new track, on its own account unless given."""
        number = self.number()
        return new_plan(f"p{number}", account or f"acct-{number}", enter_t, self.rng)

    def new_track_id(self) -> str:
        """Return a fresh track id for a person the tracker finds again."""
        return f"p{self.number()}"

    def gondola_order(self) -> list[int]:
        return [int(g) for g in self.rng.permutation(self.picker.gondolas())]

    def facing_of(self, plate: str) -> Facing:
        for facing in self.store.planogram:
            if plate in facing.plates:
                return facing
        raise ValueError(
            f"plate {plate} not found in the planogram; pick a plate with a facing"
        )

    def weight(self, sku: str) -> float:
        return self.store.products[sku].unit_weight_g

    def apart_hands(self, plate_a: str, plate_b: str) -> tuple[str, str]:
        """Return the hands two people use on two nearby plates so that their
        bodies stand as far apart as the plates allow."""
        best = ("right", "left")
        best_distance = -math.inf
        for hand_a, hand_b in itertools.product(("left", "right"), repeat=2):
            stand_a, _ = self.geometry.stand_point(plate_a, hand_a)
            stand_b, _ = self.geometry.stand_point(plate_b, hand_b)
            distance = math.dist(stand_a, stand_b)
            if distance > best_distance + 1e-9:
                best, best_distance = (hand_a, hand_b), distance
        return best

    def lookalike_pairs(self) -> list[tuple[Facing, Facing]]:
        """Return facings on neighbouring plates whose products weigh within 2 %."""
        pairs: list[tuple[Facing, Facing]] = []
        for first, second in itertools.combinations(self.store.planogram, 2):
            if first.sku == second.sku:
                continue
            near = any(
                plate in self.store.neighbours(own)
                for own in first.plates
                for plate in second.plates
            )
            a, b = self.weight(first.sku), self.weight(second.sku)
            if near and abs(a - b) <= LOOKALIKE_MAX_DIFFERENCE * max(a, b):
                pairs.append((first, second))
        return pairs

"""Named scenarios: each builds shopper plans for a store from a random generator.

Add a scenario by writing a builder ``(store, rng) -> list[ShopperPlan]``
and registering it in ``SCENARIOS``. Builders choose what people do, and the
renderer decides how it looks to the sensors.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from walkout.recording.model import Facing, Store
from walkout.sim.plan import Action, PutBack, ShopperPlan, Take, Wait, WalkTo
from walkout.sim.timeline import MotionModel, StoreGeometry

logger = logging.getLogger(__name__)

ScenarioBuilder = Callable[[Store, np.random.Generator], list[ShopperPlan]]


@dataclass(frozen=True)
class Scenario:
    """A registered scenario.

    ``separate`` delays shoppers of different accounts so that they never
    reach into one gondola at the same time. Crowd scenarios turn it off.
    """

    build: ScenarioBuilder
    description: str
    separate: bool = True


class _FacingPicker:
    """Chooses facings to take from without emptying any of them."""

    def __init__(self, store: Store, rng: np.random.Generator) -> None:
        self.store = store
        self.rng = rng
        self.left = {
            index: facing.qty or 0 for index, facing in enumerate(store.planogram)
        }

    def gondolas(self) -> list[int]:
        return sorted({plate.gondola for plate in self.store.plates.values()})

    def pick(self, gondola: int, qty: int) -> tuple[Facing, str]:
        """Reserve ``qty`` units of a random facing on ``gondola``.

        Returns the facing and one of its plates.
        """
        choices = [
            index
            for index, facing in enumerate(self.store.planogram)
            if self.left[index] >= qty
            and self.store.plates[facing.plates[0]].gondola == gondola
        ]
        if not choices:
            raise ValueError(f"gondola {gondola} has no facing with {qty} units left")
        index = int(self.rng.choice(choices))
        self.left[index] -= qty
        facing = self.store.planogram[index]
        return facing, str(self.rng.choice(facing.plates))


def _hand(rng: np.random.Generator) -> str:
    return "left" if rng.random() < 0.3 else "right"


def _plan(
    track: str, account: str, enter_t: float, rng: np.random.Generator
) -> ShopperPlan:
    return ShopperPlan(
        track=track,
        account=account,
        enter_t=round(enter_t, 2),
        speed_mps=float(rng.uniform(0.8, 1.2)),
        height_m=float(rng.uniform(1.55, 1.85)),
    )


def _takes(
    picker: _FacingPicker,
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
            actions.append(Take(plate, qty=qty, hand=_hand(rng)))
    return actions


def _shopper(
    picker: _FacingPicker,
    number: int,
    enter_t: float,
    gondolas: list[int],
    takes: int,
    rng: np.random.Generator,
) -> ShopperPlan:
    plan = _plan(f"p{number}", f"acct-{number}", enter_t, rng)
    plan.actions.extend(_takes(picker, gondolas, takes, rng))
    return plan


def _putback_shopper(
    picker: _FacingPicker,
    number: int,
    enter_t: float,
    gondola: int,
    rng: np.random.Generator,
) -> ShopperPlan:
    """A shopper who takes two units, puts one back on that plate, takes another."""
    plan = _plan(f"p{number}", f"acct-{number}", enter_t, rng)
    facing, plate = picker.pick(gondola, 2)
    hand = _hand(rng)
    plan.actions.append(Take(plate, qty=1, hand=hand))
    plan.actions.append(Take(plate, qty=1, hand=hand))
    plan.actions.append(Wait(float(rng.uniform(1.0, 3.0))))
    plan.actions.append(PutBack(plate, sku=facing.sku, qty=1, hand=hand))
    other_gondola = next(g for g in picker.gondolas() if g != gondola)
    plan.actions.extend(_takes(picker, [other_gondola], 1, rng))
    return plan


def _group(
    picker: _FacingPicker,
    numbers: tuple[int, int],
    account: str,
    enter_t: float,
    gondolas: tuple[int, int],
    rng: np.random.Generator,
) -> list[ShopperPlan]:
    """Two people on one account: they enter a second apart and shop separately."""
    plans: list[ShopperPlan] = []
    for offset, (number, gondola) in enumerate(zip(numbers, gondolas, strict=True)):
        plan = _plan(f"p{number}", account, enter_t + 1.2 * offset, rng)
        plan.actions.extend(_takes(picker, [gondola], int(rng.integers(1, 3)), rng))
        plans.append(plan)
    return plans


def _browser(
    store: Store, number: int, enter_t: float, gondola: int, rng: np.random.Generator
) -> ShopperPlan:
    """A shopper who walks to a gondola, looks, and leaves without buying."""
    plan = _plan(f"p{number}", f"acct-{number}", enter_t, rng)
    plate = next(p for p in store.plates.values() if p.gondola == gondola)
    stand, _ = StoreGeometry(store, MotionModel()).stand_point(plate.id, "right")
    plan.actions.append(WalkTo(stand))
    plan.actions.append(Wait(float(rng.uniform(3.0, 6.0))))
    return plan


# --- scenarios -----------------------------------------------------------------


def build_single(store: Store, rng: np.random.Generator) -> list[ShopperPlan]:
    """One shopper takes two to four items from one or two gondolas."""
    picker = _FacingPicker(store, rng)
    gondolas = [
        int(g) for g in rng.permutation(picker.gondolas())[: rng.integers(1, 3)]
    ]
    takes = int(rng.integers(max(2, len(gondolas)), 5))
    return [_shopper(picker, 1, 1.0, gondolas, takes, rng)]


def build_multi(store: Store, rng: np.random.Generator) -> list[ShopperPlan]:
    """Three to five shoppers at once, each starting at a different gondola."""
    picker = _FacingPicker(store, rng)
    order = [int(g) for g in rng.permutation(picker.gondolas())]
    count = int(rng.integers(3, 6))
    plans: list[ShopperPlan] = []
    for index in range(count):
        gondola = order[index % len(order)]
        enter_t = 1.0 + 2.5 * index + rng.uniform(0.0, 1.0)
        plans.append(
            _shopper(
                picker, index + 1, enter_t, [gondola], int(rng.integers(1, 4)), rng
            )
        )
    return plans


def build_group(store: Store, rng: np.random.Generator) -> list[ShopperPlan]:
    """Two tracks on one account share a cart, each taking from its own gondola."""
    picker = _FacingPicker(store, rng)
    first, second = (int(g) for g in rng.permutation(picker.gondolas())[:2])
    return _group(picker, (1, 2), "acct-1", 1.0, (first, second), rng)


def build_putback(store: Store, rng: np.random.Generator) -> list[ShopperPlan]:
    """One shopper takes two units from a plate and puts one back on it."""
    picker = _FacingPicker(store, rng)
    gondola = int(rng.choice(picker.gondolas()))
    return [_putback_shopper(picker, 1, 1.0, gondola, rng)]


def build_demo(store: Store, rng: np.random.Generator) -> list[ShopperPlan]:
    """Twelve tracks on eleven accounts over a few minutes: singles, a group,
    a put-back and one visitor who buys nothing."""
    picker = _FacingPicker(store, rng)
    gondolas = picker.gondolas()
    plans: list[ShopperPlan] = []
    enter_t = 1.0
    number = 1
    kinds = ["single"] * 8 + ["group", "putback", "browser"]
    for kind in [str(k) for k in rng.permutation(kinds)]:
        first, second = (int(g) for g in rng.permutation(gondolas)[:2])
        if kind == "group":
            account = f"acct-{number}"
            plans.extend(
                _group(
                    picker, (number, number + 1), account, enter_t, (first, second), rng
                )
            )
            number += 2
        elif kind == "putback":
            plans.append(_putback_shopper(picker, number, enter_t, first, rng))
            number += 1
        elif kind == "browser":
            plans.append(_browser(store, number, enter_t, first, rng))
            number += 1
        else:
            visits = [first, second][: int(rng.integers(1, 3))]
            takes = int(rng.integers(len(visits), 4))
            plans.append(_shopper(picker, number, enter_t, visits, takes, rng))
            number += 1
        enter_t += float(rng.uniform(8.0, 16.0))
    return plans


SCENARIOS: dict[str, Scenario] = {
    "single": Scenario(build_single, "one shopper, a few takes"),
    "multi": Scenario(build_multi, "3-5 shoppers at once at different gondolas"),
    "group": Scenario(build_group, "two tracks on one account"),
    "putback": Scenario(build_putback, "takes and a put-back on the same plate"),
    "demo": Scenario(build_demo, "12 tracks over a few minutes, mixed behaviour"),
}

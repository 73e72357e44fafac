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

import walkout.sim.cases as cases
from walkout.recording.model import Store
from walkout.sim.builders import (
    Cast,
    FacingPicker,
    browser,
    group,
    putback_shopper,
    shopper,
)
from walkout.sim.plan import ShopperPlan
from walkout.sim.render import FaultBuilder

logger = logging.getLogger(__name__)

ScenarioBuilder = Callable[[Store, np.random.Generator], list[ShopperPlan]]


@dataclass(frozen=True)
class Scenario:
    """A registered scenario.

    ``separate`` delays shoppers of different accounts so that they never
    reach into one gondola at the same time. Crowd scenarios turn it off.
    ``faults``, when set, places sensor faults once the reach times are known.
    """

    build: ScenarioBuilder
    description: str
    separate: bool = True
    faults: FaultBuilder | None = None


# --- scenarios -----------------------------------------------------------------


def build_single(store: Store, rng: np.random.Generator) -> list[ShopperPlan]:
    """One shopper takes two to four items from one or two gondolas."""
    picker = FacingPicker(store, rng)
    gondolas = [
        int(g) for g in rng.permutation(picker.gondolas())[: rng.integers(1, 3)]
    ]
    takes = int(rng.integers(max(2, len(gondolas)), 5))
    return [shopper(picker, 1, 1.0, gondolas, takes, rng)]


def build_multi(store: Store, rng: np.random.Generator) -> list[ShopperPlan]:
    """Three to five shoppers at once, each starting at a different gondola."""
    picker = FacingPicker(store, rng)
    order = [int(g) for g in rng.permutation(picker.gondolas())]
    count = int(rng.integers(3, 6))
    plans: list[ShopperPlan] = []
    for index in range(count):
        gondola = order[index % len(order)]
        enter_t = 1.0 + 2.5 * index + rng.uniform(0.0, 1.0)
        plans.append(
            shopper(picker, index + 1, enter_t, [gondola], int(rng.integers(1, 4)), rng)
        )
    return plans


def build_group(store: Store, rng: np.random.Generator) -> list[ShopperPlan]:
    """Two tracks on one account share a cart, each taking from its own gondola."""
    picker = FacingPicker(store, rng)
    first, second = (int(g) for g in rng.permutation(picker.gondolas())[:2])
    return group(picker, (1, 2), "acct-1", 1.0, (first, second), rng)


def build_putback(store: Store, rng: np.random.Generator) -> list[ShopperPlan]:
    """One shopper takes two units from a plate and puts one back on it."""
    picker = FacingPicker(store, rng)
    gondola = int(rng.choice(picker.gondolas()))
    return [putback_shopper(picker, 1, 1.0, gondola, rng)]


def build_demo(store: Store, rng: np.random.Generator) -> list[ShopperPlan]:
    """Twelve tracks on eleven accounts over a few minutes: singles, a group,
    a put-back and one visitor who buys nothing."""
    picker = FacingPicker(store, rng)
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
                group(
                    picker, (number, number + 1), account, enter_t, (first, second), rng
                )
            )
            number += 2
        elif kind == "putback":
            plans.append(putback_shopper(picker, number, enter_t, first, rng))
            number += 1
        elif kind == "browser":
            plans.append(browser(store, number, enter_t, first, rng))
            number += 1
        else:
            visits = [first, second][: int(rng.integers(1, 3))]
            takes = int(rng.integers(len(visits), 4))
            plans.append(shopper(picker, number, enter_t, visits, takes, rng))
            number += 1
        enter_t += float(rng.uniform(8.0, 16.0))
    return plans


def _from_part(part: cases.Part) -> ScenarioBuilder:
    def build(store: Store, rng: np.random.Generator) -> list[ShopperPlan]:
        return part(Cast(store, rng), 1.0)

    return build


SCENARIOS: dict[str, Scenario] = {
    "single": Scenario(build_single, "one shopper, a few takes"),
    "multi": Scenario(build_multi, "3-5 shoppers at once at different gondolas"),
    "group": Scenario(build_group, "two tracks on one account"),
    "putback": Scenario(build_putback, "takes and a put-back on the same plate"),
    "demo": Scenario(build_demo, "12 tracks over a few minutes, mixed behaviour"),
    "multi_unit": Scenario(
        _from_part(cases.multi_unit), "2-4 units of one product in one grab"
    ),
    "putback_same": Scenario(
        _from_part(cases.putback_same), "takes put back on the plate they came from"
    ),
    "misplaced": Scenario(
        _from_part(cases.misplaced),
        "items put back on wrong plates, one of them bought there by another shopper",
    ),
    "adjacent": Scenario(
        _from_part(cases.adjacent),
        "two shoppers take from neighbouring plates within 2 s",
    ),
    "same_plate": Scenario(
        _from_part(cases.same_plate), "two shoppers take from one plate 2-4 s apart"
    ),
    "group3": Scenario(
        _from_part(cases.group3), "a group of three and a group of two tracks"
    ),
    "staff_restock": Scenario(
        _from_part(cases.staff_restock),
        "staff restock and remove units while shoppers buy restocked ones",
    ),
    "lookalike": Scenario(
        _from_part(cases.lookalike), "takes of neighbouring products within 2 % weight"
    ),
    "lean": Scenario(
        _from_part(cases.lean), "a shopper leans and presses on shelves near a take"
    ),
    "sensor_faults": Scenario(
        _from_part(cases.sensor_faults),
        "drift and spike bursts, plates that stop reporting around takes",
        faults=cases.place_faults,
    ),
    "lost_track": Scenario(
        _from_part(cases.lost_track),
        "tracks lost for 1-2 s and found again under new ids",
    ),
    "no_purchase": Scenario(
        _from_part(cases.no_purchase), "visits that take nothing home"
    ),
    "crowd": Scenario(
        _from_part(cases.crowd), "6-8 shoppers at once, sharing aisles", separate=False
    ),
    "handover": Scenario(
        _from_part(cases.handover), "a shopper hands an item to another person"
    ),
    "spanning": Scenario(
        _from_part(cases.spanning), "takes and a put-back of products on two plates"
    ),
    "mixed": Scenario(
        _from_part(cases.mixed),
        "several hard cases and sensor faults in one store session",
        faults=cases.place_faults,
    ),
}

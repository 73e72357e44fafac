"""Scripted shopper plans for the hard cases of fusion, in the simulator's store.

Each builder returns plans for ``walkout.sim.render`` and whether shoppers of
different accounts may reach into one gondola at the same time (``separate``
off). Plans are fixed, and only the renderer's seed varies timing and noise.
"""

from __future__ import annotations

from collections.abc import Callable

from walkout.recording.model import Store
from walkout.sim.plan import Action, Align, Lean, PutBack, ShopperPlan, Take, Wait

PlanBuilder = Callable[[Store], tuple[list[ShopperPlan], bool]]


def sku_on(store: Store, plate: str) -> str:
    """Return the planogram sku of ``plate``."""
    return next(f.sku for f in store.planogram if plate in f.plates)


def shopper(
    number: int, enter_t: float, actions: list[Action], account: str | None = None
) -> ShopperPlan:
    return ShopperPlan(
        track=f"p{number}",
        account=account or f"acct-{number}",
        enter_t=enter_t,
        actions=actions,
        speed_mps=1.0,
        height_m=1.7,
    )


def multi_unit(store: Store) -> tuple[list[ShopperPlan], bool]:
    """Grabs of two and three units in one move."""
    plans = [shopper(1, 1.0, [Take("2.3.2", qty=3), Take("2.4.5", qty=2)])]
    return plans, True


def putback_same(store: Store) -> tuple[list[ShopperPlan], bool]:
    """Two units taken one by one, one put back on its own plate."""
    sku = sku_on(store, "1.2.4")
    actions: list[Action] = [
        Take("1.2.4"),
        Take("1.2.4"),
        Wait(1.5),
        PutBack("1.2.4", sku),
        Take("2.2.1"),
    ]
    return [shopper(1, 1.0, actions)], True


def misplaced(store: Store) -> tuple[list[ShopperPlan], bool]:
    """An item put back on the wrong plate, then taken from there by another shopper."""
    first: list[Action] = [Take("1.5.2"), PutBack("1.5.6", sku_on(store, "1.5.2"))]
    second: list[Action] = [Wait(12.0), Take("1.5.6")]
    return [shopper(1, 1.0, first), shopper(2, 2.0, second)], True


def adjacent(store: Store) -> tuple[list[ShopperPlan], bool]:
    """Two shoppers take an aubergine and a leek from neighbouring plates,
    0.4 s apart, so that one shelf event covers both plates."""
    second = shopper(2, 1.6, [Take("2.3.4", hand="left")])
    second.align = Align("p1", 0, 0, 0.4)
    return [shopper(1, 1.0, [Take("2.3.3")]), second], False


def adjacent_lookalike(store: Store) -> tuple[list[ShopperPlan], bool]:
    """Two shoppers take milk cartons within 0.5 % of each other's weight
    from neighbouring plates, 0.6 s apart."""
    second = shopper(2, 1.6, [Take("3.1.6", hand="left")])
    second.align = Align("p1", 0, 0, -0.6)
    return [shopper(1, 1.0, [Take("3.1.5")]), second], False


def lean(store: Store) -> tuple[list[ShopperPlan], bool]:
    """A shopper leans 4 kg two plates from another shopper's take, starting
    0.5 s before it, then presses 150 g on the plate that was taken from."""
    leaner_actions: list[Action] = [
        Lean("2.4.5", grams=4000.0, seconds=3.0, hand="left"),
        Lean("2.4.3", grams=150.0, seconds=1.5, hand="left"),
    ]
    leaner = shopper(2, 1.6, leaner_actions)
    leaner.align = Align("p1", 0, 0, -0.5)
    return [shopper(1, 1.0, [Take("2.4.3")]), leaner], False


def same_plate(store: Store) -> tuple[list[ShopperPlan], bool]:
    """Two shoppers take from one plate a few seconds apart."""
    return [
        shopper(1, 1.0, [Take("2.4.1")]),
        shopper(2, 2.5, [Take("2.4.1")]),
    ], False


def group3(store: Store) -> tuple[list[ShopperPlan], bool]:
    """Three tracks on one account, each taking at its own gondola."""
    plans = [
        shopper(1, 1.0, [Take("1.3.3")], account="family"),
        shopper(2, 2.0, [Take("2.5.5")], account="family"),
        shopper(3, 3.0, [Take("3.4.5"), Take("3.4.6")], account="family"),
    ]
    return plans, True


def no_purchase(store: Store) -> tuple[list[ShopperPlan], bool]:
    """A shopper who puts back everything taken."""
    actions: list[Action] = [
        Take("4.2.1"),
        Wait(1.0),
        PutBack("4.2.1", sku_on(store, "4.2.1")),
    ]
    return [shopper(1, 1.0, actions)], True


def crowd(store: Store) -> tuple[list[ShopperPlan], bool]:
    """Seven shoppers at two gondolas at once."""
    plates = ["2.3.1", "2.3.5", "2.4.2", "2.5.6", "3.5.1", "3.4.6", "3.5.5"]
    plans = [
        shopper(index + 1, 1.0 + 0.7 * index, [Take(plate)])
        for index, plate in enumerate(plates)
    ]
    return plans, False


def lookalike(store: Store) -> tuple[list[ShopperPlan], bool]:
    """Takes from neighbouring plates whose products weigh within 1%."""
    plans = [shopper(1, 1.0, [Take("3.2.2"), Take("3.2.5"), Take("3.3.3")])]
    return plans, True


def misplaced_lookalike(store: Store) -> tuple[list[ShopperPlan], bool]:
    """Two milk cartons 0.5 % apart, taken and put back on the pear and kiwi
    plates. Another shopper takes the carton on the pear plate 12 s later,
    and weights cannot tell which carton lies there."""
    first: list[Action] = [
        Take("3.1.5"),
        Take("3.1.6"),
        PutBack("1.5.6", sku_on(store, "3.1.5")),
        PutBack("1.4.3", sku_on(store, "3.1.6")),
    ]
    second: list[Action] = [Take("1.5.6")]
    buyer = shopper(2, 2.0, second)
    buyer.align = Align("p1", 2, 0, 12.0)
    return [shopper(1, 1.0, first), buyer], True


BUILDERS: dict[str, PlanBuilder] = {
    "multi_unit": multi_unit,
    "putback_same": putback_same,
    "misplaced": misplaced,
    "adjacent": adjacent,
    "adjacent_lookalike": adjacent_lookalike,
    "lean": lean,
    "same_plate": same_plate,
    "group3": group3,
    "no_purchase": no_purchase,
    "crowd": crowd,
    "lookalike": lookalike,
}

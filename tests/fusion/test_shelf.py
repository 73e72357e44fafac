"""Live shelf contents: planogram start, takes, puts and misplaced put-backs."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fusion_builders import (
    DIABLO,
    FIJI,
    FIRE,
    above,
    away,
    make_event,
    make_poses,
    make_store,
)

from walkout.fusion import AccountMode, FusionEngine, FusionParams, ShelfContents
from walkout.recording.model import Facing, GateEvent

# label, facing qty, plates, expected units per plate
SPLITS = [
    ("even", 6, ("2.5.1", "2.5.2", "2.5.3"), [2, 2, 2]),
    ("remainder to first plates", 7, ("2.5.1", "2.5.2", "2.5.3"), [3, 2, 2]),
    ("fewer units than plates", 1, ("2.5.1", "2.5.2"), [1, 0]),
    ("no qty uses default", None, ("2.5.1", "2.5.2"), [10, 10]),
]


@pytest.mark.parametrize(
    ("label", "qty", "plates", "expected"), SPLITS, ids=[case[0] for case in SPLITS]
)
def test_planogram_split(
    label: str, qty: int | None, plates: tuple[str, ...], expected: list[int]
) -> None:
    store = make_store()
    store.planogram = [Facing(DIABLO, plates, qty)]

    contents = ShelfContents(store, FusionParams(default_units_per_plate=10))

    assert [contents.units(plate, DIABLO) for plate in plates] == expected


def test_remove_never_goes_negative() -> None:
    contents = ShelfContents(make_store())

    missing = contents.remove(["1.5.10", "1.5.9"], FIJI, 14)

    assert missing == 2
    assert contents.units("1.5.10", FIJI) == 0
    assert contents.units("1.5.9", FIJI) == 0


def test_put_on_wrong_plate_lies_there() -> None:
    contents = ShelfContents(make_store())

    contents.add("2.5.5", FIJI, 1)

    assert contents.on_plate("2.5.5") == {FIRE: 6, FIJI: 1}
    assert FIJI not in contents.planned("2.5.5")


def test_misplaced_item_charged_to_next_taker() -> None:
    store = make_store()
    engine = FusionEngine(store, mode=AccountMode.GATES)
    engine.add_gate(GateEvent(0.0, "enter", "p1", "acct-a"))
    engine.add_gate(GateEvent(0.5, "enter", "p2", "acct-b"))
    engine.add_poses(
        make_poses(
            [
                ("p1", 1.0, 12.0, above("1.5.10")),
                ("p1", 12.0, 22.0, above("2.5.5")),
                ("p1", 22.0, 40.0, away("2.5.5", 3.0)),
                ("p2", 1.0, 28.0, away("2.5.5", 3.0)),
                ("p2", 28.0, 40.0, above("2.5.5")),
            ]
        )
    )

    # p1 takes a bottle, leaves it among the chips; p2 takes it from there.
    took = engine.on_event(make_event({"1.5.10": -540.0}, t=10.0))
    put = engine.on_event(make_event({"2.5.5": 541.0}, t=20.0))
    retaken = engine.on_event(make_event({"2.5.5": -536.0}, t=30.0))

    assert took is not None and took.account == "acct-a"
    assert put is not None and (put.action, put.sku) == ("put", FIJI)
    assert retaken is not None and (retaken.sku, retaken.account) == (FIJI, "acct-b")
    receipts = {r.account: r for r in engine.receipts()}
    assert receipts["acct-a"].items == []
    assert [(line.sku, line.qty) for line in receipts["acct-b"].items] == [(FIJI, 1)]
    assert receipts["acct-b"].total == Decimal("1.00")
    assert engine.contents.units("2.5.5", FIJI) == 0
    assert engine.contents.units("1.5.10", FIJI) == 5

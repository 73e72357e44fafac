"""Small stores, shelf events and pose tracks for fusion tests.

The store copies the NanoStore layout around two real events of the
recording cps-test-01: Taco Bell chips on gondola 2, shelf 5, and water
bottles on gondola 1, shelf 5. Plates are 0.1016 m wide and 0.4 m deep;
plate ``G.S.P`` is centred at x = 0.1016 * P, y = 2 * G, z = 0.3 * S.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

import numpy as np

from walkout.recording.model import (
    Facing,
    Plate,
    PoseSamples,
    Product,
    Store,
    StoreInfo,
)
from walkout.sensing.model import PlateChange, ShelfEvent

DIABLO = "taco-bell-diablo"
FIRE = "taco-bell-fire"
MILD = "taco-bell-mild"
FIJI = "fiji-water-0.5l"
ARROWHEAD = "arrowhead-spring-water"
COLA_A = "cola-classic"
COLA_B = "cola-zero"
NUTS = "mixed-nuts"
CHOCOLATE = "chocolate-bar"

PLATE_WIDTH_M = 0.1016


def plate_center(plate_id: str) -> tuple[float, float, float]:
    gondola, shelf, plate = (int(part) for part in plate_id.split("."))
    return (PLATE_WIDTH_M * plate, 2.0 * gondola, 0.3 * shelf)


def make_plate(plate_id: str) -> Plate:
    gondola, shelf, plate = (int(part) for part in plate_id.split("."))
    return Plate(
        id=plate_id,
        gondola=gondola,
        shelf=shelf,
        plate=plate,
        center=plate_center(plate_id),
        size=(PLATE_WIDTH_M, 0.4),
    )


def make_store(staff: frozenset[str] = frozenset()) -> Store:
    """Build the test store; facings carry the units given in the planogram."""
    products = [
        Product(DIABLO, "Taco Bell Diablo", Decimal("3.49"), 103.9),
        Product(FIRE, "Taco Bell Fire", Decimal("3.49"), 105.5),
        Product(MILD, "Taco Bell Mild", Decimal("3.29"), 103.6),
        Product(FIJI, "FIJI WATER .5 LTR", Decimal("1.00"), 538.0, 4.0),
        Product(ARROWHEAD, "ARRWHD SPRNG WTR", Decimal("1.25"), 621.67),
        Product(COLA_A, "Cola Classic", Decimal("1.99"), 355.0, 2.0),
        Product(COLA_B, "Cola Zero", Decimal("2.09"), 356.0, 2.0),
        Product(NUTS, "Mixed Nuts", Decimal("4.50"), 180.0),
        Product(CHOCOLATE, "Chocolate Bar", Decimal("2.00"), 410.0),
    ]
    planogram = [
        Facing(DIABLO, ("2.5.1", "2.5.2", "2.5.3"), 18),
        Facing(FIRE, ("2.5.4", "2.5.5", "2.5.6"), 18),
        Facing(MILD, ("2.5.7", "2.5.8", "2.5.9"), 18),
        Facing(FIJI, ("1.5.9", "1.5.10"), 12),
        Facing(ARROWHEAD, ("1.5.11", "1.5.12"), 12),
        Facing(COLA_A, ("3.1.1",), 6),
        Facing(COLA_B, ("3.1.1",), 6),
        Facing(NUTS, ("3.1.2",), 1),
        Facing(CHOCOLATE, ("3.1.2",), 1),
    ]
    plate_ids = [f"2.5.{p}" for p in range(1, 10)]
    plate_ids += [f"1.5.{p}" for p in range(9, 13)]
    plate_ids += ["3.1.1", "3.1.2", "3.1.3"]
    return Store(
        info=StoreInfo("teststore", "Test Store", "USD"),
        products={product.sku: product for product in products},
        plates={plate_id: make_plate(plate_id) for plate_id in plate_ids},
        planogram=planogram,
        staff_accounts=staff,
    )


def make_event(
    changes: Mapping[str, float], t: float = 10.0, sd_g: float = 1.0
) -> ShelfEvent:
    """Build an event whose plates all change between ``t - 0.5`` and ``t + 0.5``."""
    return ShelfEvent(
        tuple(
            PlateChange(plate, t - 0.5, t + 0.5, delta, sd_g)
            for plate, delta in changes.items()
        )
    )


def make_poses(
    visits: Sequence[tuple[str, float, float, tuple[float, float, float]]],
    rate_hz: float = 10.0,
) -> PoseSamples:
    """Build pose samples: each visit is (track, t_start, t_end, wrist position).

    Both wrists sit at the given position and the head 0.5 m above it.
    """
    t: list[float] = []
    track: list[str] = []
    joint: list[str] = []
    xyz: list[tuple[float, float, float]] = []
    for name, start, end, (x, y, z) in visits:
        for ti in np.arange(start, end, 1.0 / rate_hz):
            for joint_name, position in (
                ("head", (x, y, z + 0.5)),
                ("left_wrist", (x, y, z)),
                ("right_wrist", (x + 0.05, y, z)),
            ):
                t.append(float(ti))
                track.append(name)
                joint.append(joint_name)
                xyz.append(position)
    return PoseSamples(
        t=np.array(t, dtype=np.float64),
        track=np.array(track, dtype=object),
        joint=np.array(joint, dtype=object),
        xyz=np.array(xyz, dtype=np.float64).reshape(-1, 3),
        score=np.full(len(t), 0.9),
    )


def above(plate_id: str, height_m: float = 0.1) -> tuple[float, float, float]:
    """Return a point ``height_m`` above the centre of a plate."""
    x, y, z = plate_center(plate_id)
    return (x, y, z + height_m)


def away(plate_id: str, metres: float) -> tuple[float, float, float]:
    """Return a point ``metres`` in front of a plate's centre, at its height."""
    x, y, z = plate_center(plate_id)
    return (x, y - metres, z)

"""The built-in store: layout, catalogue and planogram."""

from __future__ import annotations

import csv
import statistics
from decimal import Decimal
from pathlib import Path

import pytest

from walkout.sim.store import PLATE_WIDTH_M, builtin_store, upc_a

# Same location as SHARED_DATA in tests/conftest.py, which cannot be imported by
# name here because other test folders have a conftest module of their own.
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
GROCERY_CLASSES = SHARED_DATA / "grocery-store" / "dataset" / "classes.csv"


def test_store_counts() -> None:
    store = builtin_store()

    assert len(store.plates) >= 100
    assert len({plate.gondola for plate in store.plates.values()}) == 4
    assert len({(p.gondola, p.shelf) for p in store.plates.values()}) == 20
    assert len(store.products) >= 60
    assert store.staff_accounts == frozenset({"staff-1"})


def test_plates_have_real_geometry() -> None:
    store = builtin_store()

    for plate in store.plates.values():
        assert plate.size[0] == pytest.approx(PLATE_WIDTH_M)
        assert 0.3 <= plate.center[2] <= 1.8
        assert 0.0 < plate.center[0] < 6.0
        assert 0.0 < plate.center[1] < 6.0


def test_zones_entry_and_exit() -> None:
    kinds = {zone.kind for zone in builtin_store().zones}

    assert kinds == {"entry", "exit"}


def test_catalogue_weights_and_spread() -> None:
    products = builtin_store().products.values()
    relative = [
        p.unit_weight_sd_g / p.unit_weight_g for p in products if p.unit_weight_sd_g
    ]

    assert min(p.unit_weight_g for p in products) >= 20
    assert max(p.unit_weight_g for p in products) <= 2000
    assert len(relative) == len(products)
    assert 0.009 <= statistics.median(relative) <= 0.013
    assert max(relative) <= 0.051
    assert all(isinstance(p.price, Decimal) for p in products)
    assert all(p.price > 0 for p in products)


def test_catalogue_has_lookalikes_on_neighbours() -> None:
    store = builtin_store()
    first_plate = {facing.plates[0]: facing.sku for facing in store.planogram}
    pairs = []
    for plate_id, sku in first_plate.items():
        for neighbour in store.neighbours(plate_id):
            other = first_plate.get(neighbour)
            if other is None or other == sku:
                continue
            a = store.products[sku].unit_weight_g
            b = store.products[other].unit_weight_g
            if abs(a - b) <= 0.02 * max(a, b):
                pairs.append((sku, other))

    assert len(pairs) >= 6


def test_planogram_quantities_and_spans() -> None:
    store = builtin_store()

    assert {facing.sku for facing in store.planogram} == set(store.products)
    assert all(4 <= (facing.qty or 0) <= 12 for facing in store.planogram)
    assert sum(len(facing.plates) == 2 for facing in store.planogram) >= 5
    placed = [plate for facing in store.planogram for plate in facing.plates]
    assert len(placed) == len(set(placed))
    assert set(placed) <= set(store.plates)


def test_skus_are_valid_upc() -> None:
    for sku in builtin_store().products:
        digits = [int(d) for d in sku]
        assert len(digits) == 12
        assert (3 * sum(digits[0:11:2]) + sum(digits[1:11:2]) + digits[11]) % 10 == 0
    assert upc_a(1) == "200000000011"


def test_builtin_store_deterministic() -> None:
    assert builtin_store() == builtin_store()


def test_vision_classes_exist_in_grocery_dataset() -> None:
    if not GROCERY_CLASSES.is_file():
        pytest.skip(f"Grocery Store Dataset classes not found at {GROCERY_CLASSES}")
    with GROCERY_CLASSES.open(newline="") as handle:
        names = {row[0] for row in csv.reader(handle)}

    used = {p.vision_class for p in builtin_store().products.values()}

    assert None not in used
    assert used <= names

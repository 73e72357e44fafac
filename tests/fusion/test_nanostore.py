"""Fusion on the real NanoStore recording cps-test-01.

The shopper took one Taco Bell Fire bag (at about 10 s) and one FIJI WATER
.5 LTR bottle (at about 17 s). The Fire bag sits across plates 2.5.3-5, so
the total change is nearer Diablo's unit weight than Fire's and only the
spread over plates identifies it.
"""

from __future__ import annotations

import csv
import math
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from walkout.fusion import replay
from walkout.recording.model import (
    Facing,
    GateEvent,
    Plate,
    Product,
    Recording,
    Store,
    StoreInfo,
    WeightReadings,
)
from walkout.sensing.model import PlateChange, ShelfEvent

FIRE = "Taco Bell Fire"
FIJI = "FIJI WATER .5 LTR"
PLATE_WIDTH_M = 0.1016

# Quiet windows (seconds from the first reading) before and after each take.
TAKE_WINDOWS = [((7.0, 8.0), (12.0, 13.0)), ((14.0, 15.5), (20.0, 22.0))]
MIN_PLATE_CHANGE_G = 5.0


def read_store(folder: Path, plate_ids: list[str]) -> Store:
    """Build a store from products_planogram.csv, with product names as skus."""
    products: dict[str, Product] = {}
    facings: dict[str, list[str]] = {}
    with (folder / "products_planogram.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            name = row["Name"]
            products[name] = Product(
                name, name, Decimal(row["Price"]), float(row["Weight"])
            )
            if row["Gondola"] != "-1":
                plate = f"{row['Gondola']}.{row['Shelf']}.{row['Plate']}"
                facings.setdefault(name, []).append(plate)

    plates = {}
    for plate_id in plate_ids:
        gondola, shelf, index = (int(part) for part in plate_id.split("."))
        plates[plate_id] = Plate(
            plate_id,
            gondola,
            shelf,
            index,
            (PLATE_WIDTH_M * index, 2.0 * gondola, 0.3 * shelf),
            (PLATE_WIDTH_M, 0.4),
        )
    planogram = [Facing(sku, tuple(p)) for sku, p in facings.items()]
    return Store(
        StoreInfo("nanostore", "NanoStore", "USD"), products, plates, planogram
    )


def read_weights(folder: Path) -> WeightReadings:
    """Read the per-plate weight CSVs (no header: unix time, grams), sorted by time."""
    plate_ids: list[str] = []
    t_parts, plate_parts, g_parts = [], [], []
    for path in sorted((folder / "weight_csv").glob("gondola_*_shelf_*_plate_*.csv")):
        _, gondola, _, shelf, _, plate = path.stem.split("_")
        data = np.loadtxt(path, delimiter=",", ndmin=2)
        data = data[np.argsort(data[:, 0], kind="stable")]
        t_parts.append(data[:, 0])
        g_parts.append(data[:, 1])
        plate_parts.append(np.full(len(data), len(plate_ids), dtype=np.int32))
        plate_ids.append(f"{gondola}.{shelf}.{plate}")
    return WeightReadings(
        tuple(plate_ids),
        np.concatenate(t_parts),
        np.concatenate(plate_parts),
        np.concatenate(g_parts),
    )


def measure_event(
    weights: WeightReadings, before: tuple[float, float], after: tuple[float, float]
) -> ShelfEvent:
    """Measure the level change of each plate between two quiet windows.

    Keeps the plates of the shelf with the largest change whose median level
    moved by more than ``MIN_PLATE_CHANGE_G``.
    """
    start = float(weights.t.min())
    changes = []
    for series in weights.series():
        t = series.t - start
        old = series.g[(t >= before[0]) & (t < before[1])]
        new = series.g[(t >= after[0]) & (t < after[1])]
        delta = float(np.median(new) - np.median(old))
        sd = math.sqrt(np.var(old) / len(old) + np.var(new) / len(new))
        changes.append(
            PlateChange(series.plate, start + before[1], start + after[0], delta, sd)
        )
    main = max(changes, key=lambda c: abs(c.delta_g))
    shelf = main.plate.rsplit(".", 1)[0]
    kept = [
        c
        for c in changes
        if c.plate.rsplit(".", 1)[0] == shelf and abs(c.delta_g) > MIN_PLATE_CHANGE_G
    ]
    return ShelfEvent(tuple(kept))


@pytest.fixture(scope="module")
def recording(nanostore_dir: Path) -> Recording:
    folder = nanostore_dir / "cps-test-01"
    weights = read_weights(folder)
    store = read_store(folder, list(weights.plate_ids))
    start = float(weights.t.min())
    gates = [GateEvent(start, "enter", "shopper-1", "shopper-1")]
    return Recording(store=store, weights=weights, gates=gates)


def test_measured_events_give_exact_receipt(recording: Recording) -> None:
    events = [
        measure_event(recording.weights, before, after)
        for before, after in TAKE_WINDOWS
    ]

    result = replay(recording, events=events)

    [receipt] = result.receipts
    assert {line.sku: line.qty for line in receipt.items} == {FIRE: 1, FIJI: 1}
    assert not receipt.needs_review
    assert events[0].delta_g > -104.0


def test_detected_events_give_exact_receipt(recording: Recording) -> None:
    pytest.importorskip(
        "walkout.sensing.detector", reason="shelf-event detection is not available"
    )

    result = replay(recording)

    [receipt] = result.receipts
    assert {line.sku: line.qty for line in receipt.items} == {FIRE: 1, FIJI: 1}
    assert receipt.account == "shopper-1"
    assert not receipt.needs_review
    assert [event.sku for event in result.events] == [FIRE, FIJI]

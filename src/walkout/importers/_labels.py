"""Hand-labelled events of the AutoCheckout competition (v14.json) as truth."""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np

from walkout.importers._errors import AutocheckoutImportError
from walkout.importers._skus import normalise_upc
from walkout.recording import (
    FloatArray,
    Product,
    Truth,
    TruthEvent,
    TruthReceipt,
    WeightReadings,
)

logger = logging.getLogger(__name__)

# A label's time is "YYYY-MM-DD_HH-MM-SS" in UTC, optionally preceded by an
# offset "M:SS + " from that base time.
_LABEL_TIME = re.compile(
    r"^\s*(?:(?P<minutes>\d+):(?P<seconds>\d{2})\s*\+\s*)?"
    r"(?P<base>\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2})\s*$"
)

# Weight window around a labelled second: the level before is the median of
# [t - 3, t - 1) s and the level after the median of [t + 2, t + 4) s, where t
# starts the labelled second. Labels are hand-set to the second, so the
# change itself lies between t - 1 and t + 2.
LEVEL_BEFORE_S = (-3.0, -1.0)
LEVEL_AFTER_S = (2.0, 4.0)
# The weight change of the listed plates must reach this share of the
# labelled items' weight, with the action's sign, before it sets the time.
MIN_CHANGE_SHARE = 0.5


@dataclass
class LabelledTruth:
    truth: Truth
    events_total: int = 0
    events_matched: int = 0
    events_timed_from_weights: int = 0
    added_products: list[Product] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def labelled_products(document: Any) -> list[tuple[str, str]]:
    """Return (name, raw id) of every product in every labelled event."""
    pairs: list[tuple[str, str]] = []
    for entry in document.get("lists", []):
        for event in entry.get("events", []):
            for product in event.get("observation", {}).get("products", []):
                pairs.append((str(product["name"]), str(product["id"])))
    return pairs


def dataset_events(document: Any, dataset: str) -> list[dict[str, Any]] | None:
    """Return the labelled events of ``dataset``, or None when it is not listed."""
    entries = [e for e in document.get("lists", []) if e.get("dataset") == dataset]
    if not entries:
        return None
    return [event for entry in entries for event in entry.get("events", [])]


def parse_label_time(text: str) -> float | None:
    """Return a label time as UNIX seconds, or None when it contains no time."""
    match = _LABEL_TIME.match(text)
    if match is None:
        return None
    base = datetime.strptime(match["base"], "%Y-%m-%d_%H-%M-%S").replace(tzinfo=UTC)
    offset = 0
    if match["minutes"] is not None:
        offset = 60 * int(match["minutes"]) + int(match["seconds"])
    return base.timestamp() + offset


def _median_in(t: FloatArray, g: FloatArray, start: float, end: float) -> float | None:
    mask = (t >= start) & (t < end)
    if not mask.any():
        return None
    return float(np.median(g[mask]))


def _locate_change(
    weights: WeightReadings,
    plates: list[str],
    label_t: float,
    expected_change_g: float,
) -> tuple[str, float] | None:
    """Return the plate with the largest change and the time of its midpoint.

    None when the listed plates together do not change by at least
    ``MIN_CHANGE_SHARE`` of ``expected_change_g`` in the expected direction.
    """
    changes: dict[str, tuple[float, float]] = {}
    for plate in plates:
        if plate not in weights.plate_ids:
            continue
        series = weights.for_plate(plate)
        before = _median_in(series.t, series.g, *(label_t + d for d in LEVEL_BEFORE_S))
        after = _median_in(series.t, series.g, *(label_t + d for d in LEVEL_AFTER_S))
        if before is not None and after is not None:
            changes[plate] = (before, after - before)
    if not changes:
        return None
    total = sum(change for _, change in changes.values())
    if total * np.sign(expected_change_g) < MIN_CHANGE_SHARE * abs(expected_change_g):
        return None

    plate = max(changes, key=lambda p: abs(changes[p][1]))
    before, change = changes[plate]
    series = weights.for_plate(plate)
    mask = (series.t >= label_t + LEVEL_BEFORE_S[1]) & (
        series.t < label_t + LEVEL_AFTER_S[0]
    )
    t, g = series.t[mask], series.g[mask]
    # The first reading past half the change is the midpoint. A 5-reading
    # running median keeps a single spike from setting it.
    if len(g) >= 5:
        g = np.array([np.median(g[max(0, i - 2) : i + 3]) for i in range(len(g))])
    crossed = np.flatnonzero(np.abs(g - before) >= abs(change) / 2.0)
    if crossed.size == 0:
        return None
    return plate, float(t[crossed[0]])


def build_truth(
    events: list[dict[str, Any]],
    *,
    labels_path: Path,
    products_by_name: dict[str, Product],
    products_by_sku: dict[str, Product],
    plate_ids: set[str],
    weights: WeightReadings,
    start_t: float,
) -> LabelledTruth:
    """Turn labelled events into truth events and receipts.

    A labelled product is matched by exact name, then by its normalised UPC;
    one found in neither is added to the catalogue from the label's fields.
    """
    result = LabelledTruth(truth=Truth(receipts=[]), events_total=len(events))
    added: dict[str, Product] = {}
    net: dict[str, Counter[str]] = {}

    for event in events:
        observation = event.get("observation", {})
        account = f"target-{observation.get('target_id')}"
        net.setdefault(account, Counter())
        event_id = event.get("eventID")
        action = "put" if int(event.get("putback", 0)) == 1 else "take"

        quantities: Counter[str] = Counter()
        for labelled in observation.get("products", []):
            product = _resolve_product(
                labelled, labels_path, products_by_name, products_by_sku, added
            )
            if product is None:
                result.warnings.append(
                    f"label event {event_id}: product {labelled.get('name')!r} "
                    f"has no usable barcode {labelled.get('id')!r}; skipped"
                )
                continue
            quantities[product.sku] += 1
        if not quantities:
            result.warnings.append(f"label event {event_id}: no products; skipped")
            continue

        sign = -1 if action == "put" else 1
        for sku, qty in quantities.items():
            net[account][sku] += sign * qty

        timed = _time_event(observation, action, quantities, result, plate_ids)
        if timed is None:
            continue
        label_t, plates = timed
        expected = sum(
            (products_by_sku.get(sku) or added[sku]).unit_weight_g * qty
            for sku, qty in quantities.items()
        )
        expected_change = -expected if action == "take" else expected
        located = _locate_change(weights, plates, label_t, expected_change)
        if located is not None:
            plate, t = located
            result.events_timed_from_weights += 1
        else:
            plate, t = plates[0], label_t + 0.5
        for sku, qty in quantities.items():
            result.truth.events.append(
                TruthEvent(
                    t=t, track=account, action=action, sku=sku, qty=qty, plate=plate
                )
            )
        result.events_matched += 1

    for account, items in net.items():
        bought = {sku: qty for sku, qty in items.items() if qty > 0}
        for sku, qty in items.items():
            if qty < 0:
                result.warnings.append(
                    f"{account} puts back {-qty} more of {sku} than it takes; "
                    "the excess is left off its receipt"
                )
        result.truth.receipts.append(TruthReceipt(account=account, items=bought))
    result.truth.events.sort(key=lambda e: e.t)
    result.added_products = list(added.values())
    if result.events_matched and start_t > min(e.t for e in result.truth.events):
        result.warnings.append("labelled events start before the first weight reading")
    return result


def _time_event(
    observation: dict[str, Any],
    action: str,
    quantities: Counter[str],
    result: LabelledTruth,
    plate_ids: set[str],
) -> tuple[float, list[str]] | None:
    """Return the labelled time and the known plates of an event, or None."""
    label_t = parse_label_time(str(observation.get("time", "")))
    if label_t is None:
        result.warnings.append(
            f"label time {observation.get('time')!r} is unreadable; "
            f"the {action} of {dict(quantities)} counts on the receipt only"
        )
        return None
    position = observation.get("position", {})
    plates = [
        f"{position.get('gondola')}.{position.get('shelf')}.{number}"
        for number in position.get("plates", [])
    ]
    plates = [plate for plate in plates if plate in plate_ids]
    if not plates:
        result.warnings.append(
            f"labelled position {position} names no imported plate; "
            f"the {action} of {dict(quantities)} counts on the receipt only"
        )
        return None
    return label_t, plates


def _resolve_product(
    labelled: dict[str, Any],
    labels_path: Path,
    products_by_name: dict[str, Product],
    products_by_sku: dict[str, Product],
    added: dict[str, Product],
) -> Product | None:
    name = str(labelled.get("name", ""))
    if name in products_by_name:
        return products_by_name[name]
    upc = normalise_upc(str(labelled.get("id", "")))
    if upc is None:
        return None
    if upc in products_by_sku:
        return products_by_sku[upc]
    if upc not in added:
        try:
            price = Decimal(str(labelled["price"])).quantize(Decimal("0.01"))
            weight = float(labelled["weight"])
        except (KeyError, InvalidOperation, ValueError) as error:
            raise AutocheckoutImportError(
                labels_path,
                f"labelled product {name!r} has no valid price or weight ({error})",
                "fix the label or add the product to products_planogram.csv",
            ) from error
        if weight <= 0:
            return None
        added[upc] = Product(sku=upc, name=name, price=price, unit_weight_g=weight)
    return added[upc]

"""Live stock per plate and SKU, stock counts, inventory alerts and restock visits.

Stock starts from the planogram when a store is loaded (``start_stock``).
Fusion then calls ``record_shelf_change`` for every decided take or put, and
staff correct it with stock counts (``count_stock``). After each change the
alerts of the touched plate and SKU are opened or resolved:

- ``low_stock``: the product's units on its planogram plates are at or below
  its threshold, and resolved when they rise above it. The threshold is the
  product's ``low_stock_units`` in store.json, else ``DEFAULT_LOW_STOCK_UNITS``.
- ``misplaced_item``: units of a SKU lie on a plate whose planogram does not
  list that SKU; resolved when none are left there.
- ``negative_stock``: a plate's units of a SKU fell below zero, so the
  recorded changes contradict the stock. It is resolved when they are back
  at zero or above, usually by a count.
"""

from __future__ import annotations

import enum
import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from walkout.db.inventory_models import (
    EVENT_KEY_LENGTH,
    InventoryAlert,
    InventoryStore,
    ShelfChange,
    StockCount,
    StockLevel,
)
from walkout.db.models import Store, Visit
from walkout.store.errors import InvalidRequestError, NotFoundError
from walkout.store.events import EventName, record_event

logger = logging.getLogger(__name__)

DEFAULT_LOW_STOCK_UNITS = 2
"""Low-stock threshold of a product whose store.json entry sets none."""

LOW_STOCK_FIELD = "low_stock_units"
"""Optional walkout extension field of a store.json product entry."""


class AlertKind(enum.StrEnum):
    LOW_STOCK = "low_stock"
    MISPLACED_ITEM = "misplaced_item"
    NEGATIVE_STOCK = "negative_stock"


class AlertState(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


# --- the planogram -----------------------------------------------------------


@dataclass(frozen=True)
class Planogram:
    """The placement and starting units of a store, read from its store.json."""

    plates: tuple[str, ...]
    skus: tuple[str, ...]
    plates_by_sku: Mapping[str, tuple[str, ...]]
    skus_by_plate: Mapping[str, tuple[str, ...]]
    # Starting units per (plate, SKU), None where a facing gives no ``qty``.
    start_units: Mapping[tuple[str, str], int | None]
    capacity_by_sku: Mapping[str, int | None]
    low_stock_units: Mapping[str, int] = field(default_factory=dict)

    def lists(self, plate: str, sku: str) -> bool:
        """Return whether the planogram places ``sku`` on ``plate``."""
        return sku in self.skus_by_plate.get(plate, ())

    def threshold(self, sku: str) -> int:
        return self.low_stock_units.get(sku, DEFAULT_LOW_STOCK_UNITS)


def read_planogram(document: Mapping[str, Any]) -> Planogram:
    """Read the planogram of a store.json document the recording reader accepted.

    A facing's ``qty`` is spread over its plates in the order listed: each
    plate gets ``qty // len(plates)`` units and the first ``qty % len(plates)``
    plates one more. Raise ``InvalidRequestError`` when a product's
    ``low_stock_units`` is not an integer of at least 0.
    """
    plates = tuple(str(plate["id"]) for plate in document.get("plates", []))
    skus: list[str] = []
    low_stock_units: dict[str, int] = {}
    for product in document.get("products", []):
        sku = str(product["sku"])
        skus.append(sku)
        if LOW_STOCK_FIELD in product:
            low_stock_units[sku] = _threshold_value(sku, product[LOW_STOCK_FIELD])

    plates_by_sku: dict[str, list[str]] = defaultdict(list)
    skus_by_plate: dict[str, list[str]] = defaultdict(list)
    start_units: dict[tuple[str, str], int | None] = {}
    capacity: dict[str, int | None] = {}
    for facing in document.get("planogram", []):
        sku = str(facing["sku"])
        facing_plates = [str(plate) for plate in facing["plates"]]
        qty = facing.get("qty")
        capacity[sku] = None if qty is None else capacity.get(sku, 0)
        for index, plate in enumerate(facing_plates):
            if plate not in plates_by_sku[sku]:
                plates_by_sku[sku].append(plate)
            if sku not in skus_by_plate[plate]:
                skus_by_plate[plate].append(sku)
            key = (plate, sku)
            if qty is None:
                start_units[key] = None
                continue
            share = qty // len(facing_plates)
            share += 1 if index < qty % len(facing_plates) else 0
            if key not in start_units:
                start_units[key] = share
            elif (previous := start_units[key]) is not None:
                start_units[key] = previous + share
        previous_capacity = capacity[sku]
        if qty is not None and previous_capacity is not None:
            capacity[sku] = previous_capacity + int(qty)
    return Planogram(
        plates=plates,
        skus=tuple(skus),
        plates_by_sku={sku: tuple(ids) for sku, ids in plates_by_sku.items()},
        skus_by_plate={plate: tuple(ids) for plate, ids in skus_by_plate.items()},
        start_units=start_units,
        capacity_by_sku=capacity,
        low_stock_units=low_stock_units,
    )


def _threshold_value(sku: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidRequestError(
            "invalid_store_document",
            f"products[{sku!r}].{LOW_STOCK_FIELD} is {value!r}; "
            "set it to an integer of at least 0 or leave it out",
        )
    return value


def planogram_digest(document: Mapping[str, Any]) -> str:
    canonical = json.dumps(document.get("planogram", []), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


# --- starting the stock ------------------------------------------------------


def start_stock(session: Session, store: Store, *, now: datetime) -> None:
    """Start ``store``'s stock from its planogram, unless it already was started.

    A store loaded again with the same planogram keeps its live stock, so a
    restarted service that reloads its stores loses nothing, and only its
    low-stock alerts are checked again against the thresholds. A different
    planogram replaces every stock level with the new starting units and
    resolves the open alerts. Recorded shelf changes stay, so replayed event
    keys still change nothing. The caller commits.
    """
    planogram = read_planogram(store.layout)
    digest = planogram_digest(store.layout)
    session.flush()
    state = session.get(InventoryStore, store.id)
    if state is not None and state.planogram_digest == digest:
        # The thresholds in store.json may have changed.
        for sku in planogram.plates_by_sku:
            _check_low_stock(session, store.id, planogram, sku, now=now)
        return
    if state is None:
        state = InventoryStore(store_id=store.id, planogram_digest=digest)
        session.add(state)
    state.planogram_digest = digest
    state.started_at = now

    session.execute(delete(StockLevel).where(StockLevel.store_id == store.id))
    for alert in _open_alerts(session, store.id):
        _resolve(session, alert, now=now, reason="stock_restarted")
    for (plate, sku), units in planogram.start_units.items():
        session.add(
            StockLevel(
                store_id=store.id,
                plate=plate,
                sku=sku,
                units=units or 0,
                known=units is not None,
                updated_at=now,
            )
        )
    session.flush()
    for sku in planogram.plates_by_sku:
        _check_low_stock(session, store.id, planogram, sku, now=now)
    logger.info(
        "stock_started store=%s placements=%d units=%d",
        store.id,
        len(planogram.start_units),
        sum(units or 0 for units in planogram.start_units.values()),
    )


def _started_store(session: Session, store_id: str, now: datetime) -> Store:
    store = session.get(Store, store_id)
    if store is None:
        raise NotFoundError("store_not_found", f"store {store_id!r} not found")
    if session.get(InventoryStore, store_id) is None:
        # A store loaded before inventory existed starts on first use.
        start_stock(session, store, now=now)
    return store


def _check_placement(planogram: Planogram, plate: str, sku: str) -> None:
    if plate not in planogram.plates:
        raise InvalidRequestError(
            "unknown_plate", f"plate {plate!r} is not in the store layout"
        )
    if sku not in planogram.skus:
        raise InvalidRequestError(
            "unknown_sku", f"SKU {sku!r} is not in the store catalogue"
        )


# --- shelf changes -----------------------------------------------------------


def record_shelf_change(
    session: Session,
    store_id: str,
    *,
    event_key: str,
    plate: str,
    sku: str,
    delta_units: int,
    visit_id: str | None,
    staff: bool,
    now: datetime,
) -> None:
    """Apply one decided take (``delta_units`` < 0) or put (> 0) to the stock.

    ``event_key`` identifies the decided event within the store: a key
    already recorded changes nothing, so replayed events are safe. The change
    is stored with ``visit_id`` and ``staff`` for the restock listing, and the
    alerts of the plate and SKU are updated. The caller commits; two
    concurrent calls with one new key make the second flush fail on the
    unique constraint of ``shelf_changes``.

    A take from a plate of a multi-plate facing that exceeds that plate's
    units draws the rest from the facing's other plates, because a unit lying
    across two plates may be reported on either. Only what is still missing
    then takes the plate below zero, which opens a ``negative_stock`` alert.

    A zero ``delta_units`` changes nothing and is only logged. Raise
    ``NotFoundError`` for an unknown store, and ``InvalidRequestError`` for an
    unknown plate or SKU or an ``event_key`` longer than ``EVENT_KEY_LENGTH``.
    """
    if len(event_key) > EVENT_KEY_LENGTH:
        raise InvalidRequestError(
            "invalid_shelf_change",
            f"event key {event_key[:40]!r}... on plate {plate!r} has "
            f"{len(event_key)} characters; the maximum is {EVENT_KEY_LENGTH}",
        )
    recorded = session.scalar(
        select(ShelfChange).where(
            ShelfChange.store_id == store_id, ShelfChange.event_key == event_key
        )
    )
    if recorded is not None:
        if (recorded.plate, recorded.sku, recorded.delta_units) != (
            plate,
            sku,
            delta_units,
        ):
            logger.warning(
                "shelf_change_key_reused store=%s plate=%s key=%s recorded=%s:%s:%d "
                "ignored=%s:%s:%d",
                store_id,
                plate,
                event_key,
                recorded.plate,
                recorded.sku,
                recorded.delta_units,
                plate,
                sku,
                delta_units,
            )
        return
    if delta_units == 0:
        logger.warning(
            "shelf_change_empty store=%s plate=%s sku=%s key=%s: 0 units, ignored",
            store_id,
            plate,
            sku,
            event_key,
        )
        return
    store = _started_store(session, store_id, now)
    planogram = read_planogram(store.layout)
    _check_placement(planogram, plate, sku)

    session.add(
        ShelfChange(
            store_id=store_id,
            event_key=event_key,
            plate=plate,
            sku=sku,
            delta_units=delta_units,
            visit_id=visit_id,
            staff=staff,
            recorded_at=now,
        )
    )
    touched = _apply_delta(session, store_id, planogram, plate, sku, delta_units, now)
    session.flush()
    for level in touched:
        _check_plate_alerts(session, planogram, level, now=now)
    _check_low_stock(session, store_id, planogram, sku, now=now)
    logger.debug(
        "shelf_change_recorded store=%s plate=%s sku=%s delta=%d visit=%s staff=%s",
        store_id,
        plate,
        sku,
        delta_units,
        visit_id or "-",
        staff,
    )


def _apply_delta(
    session: Session,
    store_id: str,
    planogram: Planogram,
    plate: str,
    sku: str,
    delta_units: int,
    now: datetime,
) -> list[StockLevel]:
    """Change the stock levels and return the ones changed, ``plate``'s first."""
    level = _lock_level(session, store_id, planogram, plate, sku, now)
    touched = [level]
    missing = -delta_units
    if delta_units < 0 and planogram.lists(plate, sku):
        missing -= _draw(level, missing)
        for other_plate in planogram.plates_by_sku[sku]:
            if missing == 0:
                break
            if other_plate == plate:
                continue
            other = _lock_level(session, store_id, planogram, other_plate, sku, now)
            drawn = _draw(other, missing)
            if drawn:
                other.updated_at = now
                touched.append(other)
                missing -= drawn
    level.units -= missing
    level.updated_at = now
    return touched


def _draw(level: StockLevel, requested: int) -> int:
    drawn = max(0, min(requested, level.units))
    level.units -= drawn
    return drawn


def _lock_level(
    session: Session,
    store_id: str,
    planogram: Planogram,
    plate: str,
    sku: str,
    now: datetime,
) -> StockLevel:
    """Return the stock level of ``sku`` on ``plate``, locked on PostgreSQL."""
    level = session.scalar(
        select(StockLevel)
        .where(
            StockLevel.store_id == store_id,
            StockLevel.plate == plate,
            StockLevel.sku == sku,
        )
        .with_for_update()
    )
    if level is None:
        # Off-planogram placements start empty, which is a known amount.
        level = StockLevel(
            store_id=store_id,
            plate=plate,
            sku=sku,
            units=0,
            known=not planogram.lists(plate, sku),
            updated_at=now,
        )
        session.add(level)
    return level


# --- stock counts ------------------------------------------------------------


def count_stock(
    session: Session,
    store_id: str,
    *,
    plate: str,
    sku: str,
    units: int,
    account_id: str,
    now: datetime,
) -> StockCount:
    """Set the units of ``sku`` on ``plate`` to a staff count and commit."""
    if units < 0:
        raise InvalidRequestError(
            "invalid_count", f"counted units must be at least 0, not {units}"
        )
    store = _started_store(session, store_id, now)
    planogram = read_planogram(store.layout)
    _check_placement(planogram, plate, sku)

    level = _lock_level(session, store_id, planogram, plate, sku, now)
    previous = level.units if level.known else None
    level.units = units
    level.known = True
    level.updated_at = now
    count = StockCount(
        store_id=store_id,
        plate=plate,
        sku=sku,
        counted_units=units,
        previous_units=previous,
        account_id=account_id,
        counted_at=now,
    )
    session.add(count)
    session.flush()
    record_event(
        session,
        EventName.STOCK_COUNTED,
        store_id=store_id,
        now=now,
        plate=plate,
        sku=sku,
        units=units,
        previous_units=previous,
        account=account_id,
    )
    _check_plate_alerts(session, planogram, level, now=now)
    _check_low_stock(session, store_id, planogram, sku, now=now)
    session.commit()
    return count


# --- alerts ------------------------------------------------------------------


def _check_plate_alerts(
    session: Session, planogram: Planogram, level: StockLevel, *, now: datetime
) -> None:
    misplaced = not planogram.lists(level.plate, level.sku)
    _set_alert(
        session,
        level.store_id,
        AlertKind.MISPLACED_ITEM,
        sku=level.sku,
        plate=level.plate,
        active=misplaced and level.units > 0,
        units=level.units,
        now=now,
    )
    negative = level.known and level.units < 0
    if negative:
        logger.warning(
            "stock_below_zero store=%s plate=%s sku=%s units=%d",
            level.store_id,
            level.plate,
            level.sku,
            level.units,
        )
    _set_alert(
        session,
        level.store_id,
        AlertKind.NEGATIVE_STOCK,
        sku=level.sku,
        plate=level.plate,
        active=negative,
        units=level.units,
        now=now,
    )


def _check_low_stock(
    session: Session, store_id: str, planogram: Planogram, sku: str, *, now: datetime
) -> None:
    plates = planogram.plates_by_sku.get(sku)
    if not plates:
        return
    levels = list(
        session.scalars(
            select(StockLevel).where(
                StockLevel.store_id == store_id,
                StockLevel.sku == sku,
                StockLevel.plate.in_(plates),
            )
        )
    )
    if len(levels) < len(plates) or not all(level.known for level in levels):
        # NOTE: a product whose starting units are unknown gets no low-stock
        # alert until every plate of its facings has been counted.
        return
    units = sum(level.units for level in levels)
    _set_alert(
        session,
        store_id,
        AlertKind.LOW_STOCK,
        sku=sku,
        plate=None,
        active=units <= planogram.threshold(sku),
        units=units,
        now=now,
    )


def _open_key(kind: AlertKind, sku: str, plate: str | None) -> str:
    return f"{kind.value}:{plate or '*'}:{sku}"


def _set_alert(
    session: Session,
    store_id: str,
    kind: AlertKind,
    *,
    sku: str,
    plate: str | None,
    active: bool,
    units: int,
    now: datetime,
) -> None:
    """Open the alert when ``active`` and none is open, resolve an open one if not."""
    open_key = _open_key(kind, sku, plate)
    alert = session.scalar(
        select(InventoryAlert).where(
            InventoryAlert.store_id == store_id, InventoryAlert.open_key == open_key
        )
    )
    if active and alert is None:
        alert = InventoryAlert(
            store_id=store_id,
            kind=kind.value,
            sku=sku,
            plate=plate,
            state=AlertState.OPEN.value,
            open_key=open_key,
            units_at_open=units,
            opened_at=now,
        )
        session.add(alert)
        session.flush()
        record_event(
            session,
            EventName.ALERT_OPENED,
            store_id=store_id,
            now=now,
            alert=alert.id,
            kind=kind.value,
            plate=plate or "-",
            sku=sku,
            units=units,
        )
    elif not active and alert is not None:
        _resolve(session, alert, now=now, reason="condition_cleared", units=units)


def _resolve(
    session: Session,
    alert: InventoryAlert,
    *,
    now: datetime,
    reason: str,
    units: int | None = None,
) -> None:
    alert.state = AlertState.RESOLVED.value
    alert.open_key = None
    alert.resolved_at = now
    session.flush()
    record_event(
        session,
        EventName.ALERT_RESOLVED,
        store_id=alert.store_id,
        now=now,
        alert=alert.id,
        kind=alert.kind,
        plate=alert.plate or "-",
        sku=alert.sku,
        units=units,
        reason=reason,
    )


def _open_alerts(session: Session, store_id: str) -> list[InventoryAlert]:
    statement = select(InventoryAlert).where(
        InventoryAlert.store_id == store_id,
        InventoryAlert.state == AlertState.OPEN.value,
    )
    return list(session.scalars(statement))


def list_alerts(
    session: Session, store_id: str, *, only_open: bool
) -> list[InventoryAlert]:
    """Return the store's alerts, newest first."""
    statement = select(InventoryAlert).where(InventoryAlert.store_id == store_id)
    if only_open:
        statement = statement.where(InventoryAlert.state == AlertState.OPEN.value)
    statement = statement.order_by(InventoryAlert.id.desc())
    return list(session.scalars(statement))


def acknowledge_alert(
    session: Session, store_id: str, alert_id: int, *, account_id: str, now: datetime
) -> InventoryAlert:
    """Mark an alert as seen by ``account_id`` and commit.

    Repeating it changes nothing. Acknowledging does not resolve the alert,
    which stays open until its condition clears.
    """
    alert = session.get(InventoryAlert, alert_id)
    if alert is None or alert.store_id != store_id:
        raise NotFoundError(
            "alert_not_found", f"alert {alert_id} not found in store {store_id!r}"
        )
    if alert.acknowledged_at is None:
        alert.acknowledged_at = now
        alert.acknowledged_by = account_id
        record_event(
            session,
            EventName.ALERT_ACKNOWLEDGED,
            store_id=store_id,
            now=now,
            alert=alert.id,
            kind=alert.kind,
            plate=alert.plate or "-",
            sku=alert.sku,
            account=account_id,
        )
        session.commit()
    return alert


# --- reading the stock -------------------------------------------------------


@dataclass(frozen=True)
class PlateStock:
    plate: str
    sku: str
    units: int
    known: bool
    planogram_skus: tuple[str, ...]
    misplaced: bool


@dataclass(frozen=True)
class ProductStock:
    sku: str
    name: str
    # Units on every plate, misplaced ones included.
    units_on_shelves: int
    units_on_planogram_plates: int
    units_by_plate: dict[str, int]
    planogram_plates: tuple[str, ...]
    # Sum of the planogram's ``qty``, or None when a facing gives none.
    capacity: int | None
    low_stock_units: int
    # Whether every planogram plate of the product has a known amount.
    known: bool
    low_stock: bool


def _levels(session: Session, store_id: str) -> list[StockLevel]:
    statement = (
        select(StockLevel)
        .where(StockLevel.store_id == store_id)
        .order_by(StockLevel.plate, StockLevel.sku)
    )
    return list(session.scalars(statement))


def plate_stock(session: Session, store_id: str, *, now: datetime) -> list[PlateStock]:
    """Return the units per plate and SKU, leaving out empty off-planogram rows."""
    store = _started_store(session, store_id, now)
    planogram = read_planogram(store.layout)
    rows = []
    for level in _levels(session, store_id):
        listed = planogram.lists(level.plate, level.sku)
        if not listed and level.units == 0:
            continue
        rows.append(
            PlateStock(
                plate=level.plate,
                sku=level.sku,
                units=level.units,
                known=level.known,
                planogram_skus=planogram.skus_by_plate.get(level.plate, ()),
                misplaced=not listed,
            )
        )
    return rows


def product_stock(
    session: Session, store_id: str, *, now: datetime
) -> list[ProductStock]:
    """Return the units of every catalogue product, with capacity and low stock."""
    store = _started_store(session, store_id, now)
    planogram = read_planogram(store.layout)
    levels_by_sku: dict[str, list[StockLevel]] = defaultdict(list)
    for level in _levels(session, store_id):
        levels_by_sku[level.sku].append(level)
    low = {
        alert.sku
        for alert in _open_alerts(session, store_id)
        if alert.kind == AlertKind.LOW_STOCK.value
    }
    products = []
    for product in store.products:
        levels = levels_by_sku.get(product.sku, [])
        plates = planogram.plates_by_sku.get(product.sku, ())
        on_planogram = [level for level in levels if level.plate in plates]
        products.append(
            ProductStock(
                sku=product.sku,
                name=product.name,
                units_on_shelves=sum(level.units for level in levels),
                units_on_planogram_plates=sum(level.units for level in on_planogram),
                units_by_plate={
                    level.plate: level.units
                    for level in levels
                    if level.units != 0 or level.plate in plates
                },
                planogram_plates=plates,
                capacity=planogram.capacity_by_sku.get(product.sku),
                low_stock_units=planogram.threshold(product.sku),
                known=bool(plates) and all(level.known for level in on_planogram),
                low_stock=product.sku in low,
            )
        )
    return products


# --- restock visits ----------------------------------------------------------


@dataclass
class RestockVisit:
    visit_id: str
    account_id: str | None
    first_change_at: datetime
    last_change_at: datetime
    units_put: dict[str, int] = field(default_factory=dict)
    units_taken: dict[str, int] = field(default_factory=dict)


def list_restocks(session: Session, store_id: str) -> list[RestockVisit]:
    """Return the staff visits with shelf changes, newest first, units per SKU."""
    statement = (
        select(ShelfChange)
        .where(
            ShelfChange.store_id == store_id,
            ShelfChange.staff.is_(True),
            ShelfChange.visit_id.is_not(None),
        )
        .order_by(ShelfChange.id)
    )
    visits: dict[str, RestockVisit] = {}
    for change in session.scalars(statement):
        assert change.visit_id is not None
        visit = visits.get(change.visit_id)
        if visit is None:
            visit = RestockVisit(
                visit_id=change.visit_id,
                account_id=None,
                first_change_at=change.recorded_at,
                last_change_at=change.recorded_at,
            )
            visits[change.visit_id] = visit
        visit.first_change_at = min(visit.first_change_at, change.recorded_at)
        visit.last_change_at = max(visit.last_change_at, change.recorded_at)
        totals = visit.units_put if change.delta_units > 0 else visit.units_taken
        totals[change.sku] = totals.get(change.sku, 0) + abs(change.delta_units)
    _add_accounts(session, visits.values())
    return sorted(
        visits.values(), key=lambda visit: visit.first_change_at, reverse=True
    )


def _add_accounts(session: Session, visits: Iterable[RestockVisit]) -> None:
    by_id = {visit.visit_id: visit for visit in visits}
    if not by_id:
        return
    statement = select(Visit.id, Visit.account_id).where(Visit.id.in_(by_id))
    for visit_id, account_id in session.execute(statement):
        by_id[visit_id].account_id = account_id

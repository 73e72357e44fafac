"""Live stock, stock counts, inventory alerts and restock visits of a store."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from walkout.api.deps import CurrentAccount, NowDep, SessionDep
from walkout.api.errors import ErrorBody
from walkout.db.inventory_models import InventoryAlert
from walkout.db.models import Account
from walkout.store import inventory, stores
from walkout.store.errors import PermissionDeniedError

router = APIRouter(prefix="/stores", tags=["inventory"])

StoreId = Annotated[str, Path(max_length=64)]
AlertId = Annotated[int, Path(ge=1, le=2**31 - 1)]

READ_ERRORS: dict[int | str, dict[str, object]] = {
    403: {"model": ErrorBody},
    404: {"model": ErrorBody},
}
WRITE_ERRORS: dict[int | str, dict[str, object]] = {
    **READ_ERRORS,
    422: {"model": ErrorBody},
}


class PlateStockOut(BaseModel):
    plate: str
    sku: str
    units: int = Field(description="below 0 only as a flagged inconsistency")
    known: bool = Field(
        description="false while the units are only the net change since the "
        "store was loaded, because the planogram gave no qty and no count set it"
    )
    planogram_skus: list[str] = Field(description="the SKUs the planogram places here")
    misplaced: bool = Field(description="the planogram does not place this SKU here")


class ProductStockOut(BaseModel):
    sku: str
    name: str
    units_on_shelves: int = Field(description="on every plate, misplaced included")
    units_on_planogram_plates: int
    units_by_plate: dict[str, int]
    planogram_plates: list[str]
    capacity: int | None = Field(
        description="the planogram's qty, or null when it gives none"
    )
    low_stock_units: int = Field(description="low-stock threshold")
    known: bool
    low_stock: bool


class CountIn(BaseModel):
    plate: str = Field(min_length=1, max_length=64)
    sku: str = Field(min_length=1, max_length=64)
    units: int = Field(ge=0, le=1_000_000, description="units counted on the plate")


class CountOut(BaseModel):
    id: int
    plate: str
    sku: str
    counted_units: int
    previous_units: int | None
    account_id: str
    counted_at: datetime


class AlertOut(BaseModel):
    id: int
    kind: str = Field(description="low_stock, misplaced_item or negative_stock")
    sku: str
    plate: str | None = Field(description="null for low_stock")
    state: str = Field(description="open or resolved")
    units_at_open: int
    opened_at: datetime
    resolved_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None

    @classmethod
    def from_row(cls, alert: InventoryAlert) -> AlertOut:
        return cls(
            id=alert.id,
            kind=alert.kind,
            sku=alert.sku,
            plate=alert.plate,
            state=alert.state,
            units_at_open=alert.units_at_open,
            opened_at=alert.opened_at,
            resolved_at=alert.resolved_at,
            acknowledged_at=alert.acknowledged_at,
            acknowledged_by=alert.acknowledged_by,
        )


class RestockOut(BaseModel):
    visit_id: str
    account_id: str | None
    first_change_at: datetime
    last_change_at: datetime
    units_put: dict[str, int] = Field(description="units put on shelves per SKU")
    units_taken: dict[str, int] = Field(description="units taken per SKU")


def _require_operator(session: Session, account: Account, store_id: str) -> None:
    store = stores.get_store(session, store_id)
    if not stores.can_operate(session, account, store.id):
        raise PermissionDeniedError(
            "not_store_staff",
            f"only staff of store {store.id!r} and admins see and change its stock",
        )


@router.get("/{store_id}/inventory", responses=READ_ERRORS)
def read_plate_stock(
    store_id: StoreId, account: CurrentAccount, session: SessionDep, now: NowDep
) -> list[PlateStockOut]:
    """Return the units per plate and SKU, with the planogram's SKUs per plate."""
    _require_operator(session, account, store_id)
    return [
        PlateStockOut(
            plate=row.plate,
            sku=row.sku,
            units=row.units,
            known=row.known,
            planogram_skus=list(row.planogram_skus),
            misplaced=row.misplaced,
        )
        for row in inventory.plate_stock(session, store_id, now=now)
    ]


@router.get("/{store_id}/inventory/products", responses=READ_ERRORS)
def read_product_stock(
    store_id: StoreId, account: CurrentAccount, session: SessionDep, now: NowDep
) -> list[ProductStockOut]:
    """Return every catalogue product's units, plates, capacity and low stock."""
    _require_operator(session, account, store_id)
    return [
        ProductStockOut(
            sku=row.sku,
            name=row.name,
            units_on_shelves=row.units_on_shelves,
            units_on_planogram_plates=row.units_on_planogram_plates,
            units_by_plate=row.units_by_plate,
            planogram_plates=list(row.planogram_plates),
            capacity=row.capacity,
            low_stock_units=row.low_stock_units,
            known=row.known,
            low_stock=row.low_stock,
        )
        for row in inventory.product_stock(session, store_id, now=now)
    ]


@router.post(
    "/{store_id}/inventory/counts",
    status_code=status.HTTP_201_CREATED,
    responses=WRITE_ERRORS,
)
def count_stock(
    store_id: StoreId,
    body: CountIn,
    account: CurrentAccount,
    session: SessionDep,
    now: NowDep,
) -> CountOut:
    """Set the units of a SKU on a plate to what staff counted (a stock take)."""
    _require_operator(session, account, store_id)
    count = inventory.count_stock(
        session,
        store_id,
        plate=body.plate,
        sku=body.sku,
        units=body.units,
        account_id=account.id,
        now=now,
    )
    return CountOut(
        id=count.id,
        plate=count.plate,
        sku=count.sku,
        counted_units=count.counted_units,
        previous_units=count.previous_units,
        account_id=count.account_id,
        counted_at=count.counted_at,
    )


@router.get("/{store_id}/alerts", responses=WRITE_ERRORS)
def list_alerts(
    store_id: StoreId,
    account: CurrentAccount,
    session: SessionDep,
    state: Annotated[
        Literal["open", "all"], Query(description="open alerts only, or all")
    ] = "open",
) -> list[AlertOut]:
    """Return the store's inventory alerts, newest first."""
    _require_operator(session, account, store_id)
    alerts = inventory.list_alerts(session, store_id, only_open=state == "open")
    return [AlertOut.from_row(alert) for alert in alerts]


@router.post("/{store_id}/alerts/{alert_id}/acknowledge", responses=WRITE_ERRORS)
def acknowledge_alert(
    store_id: StoreId,
    alert_id: AlertId,
    account: CurrentAccount,
    session: SessionDep,
    now: NowDep,
) -> AlertOut:
    """Mark an alert as seen. It stays open until its condition clears."""
    _require_operator(session, account, store_id)
    alert = inventory.acknowledge_alert(
        session, store_id, alert_id, account_id=account.id, now=now
    )
    return AlertOut.from_row(alert)


@router.get("/{store_id}/restocks", responses=READ_ERRORS)
def list_restocks(
    store_id: StoreId, account: CurrentAccount, session: SessionDep
) -> list[RestockOut]:
    """Return the staff visits that changed shelves, with units per SKU."""
    _require_operator(session, account, store_id)
    return [
        RestockOut(
            visit_id=visit.visit_id,
            account_id=visit.account_id,
            first_change_at=visit.first_change_at,
            last_change_at=visit.last_change_at,
            units_put=visit.units_put,
            units_taken=visit.units_taken,
        )
        for visit in inventory.list_restocks(session, store_id)
    ]
